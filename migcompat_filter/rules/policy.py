# Licensed under the Apache License, Version 2.0 (the "License"); you may
# not use this file except in compliance with the License. You may obtain
# a copy of the License at
#
#      http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
# License for the specific language governing permissions and limitations
# under the License.

"""The compatibility policy as plain data, for the rules engine.

The engine stays pure (no oslo.config): :class:`Policy` holds what the
``[migcompat]`` options (migcompat_filter.conf.policy) say, and those
options take their defaults from :data:`DEFAULTS` here, so a default is
written once. Build a Policy from options with
``migcompat_filter.conf.policy.policy_from_conf``, or directly in tests and
tools.
"""

from migcompat_filter import cpu_modes
from migcompat_filter.factors import catalogue
# The severities are the verdict's (one definition).
from migcompat_filter.rules.verdict import BLOCK
from migcompat_filter.rules.verdict import WARN
#: What an unknown factor may do.
ACTIONS = (WARN, BLOCK)

#: The defaults of the policy options, written once.
DEFAULTS = {
    'strict': False,
    'passthrough_blocking_factors': (),
    'unknown_action': {
        cpu_modes.HOST_MODEL: WARN,
        cpu_modes.HOST_PASSTHROUGH: BLOCK,
        cpu_modes.CUSTOM: WARN,
    },
    'unknown_version_action': BLOCK,
    'tsc_tolerance_ppm': 250,
    # nova's [workarounds] options of the same meaning (read, not owned).
    'skip_hypervisor_version_check': False,
    'skip_cpu_compare_on_dest': False,
}


def passthrough_identical_factors():
    """Factors host-passthrough wants identical (the catalogue says which):
    the libvirt QEMU driver's "strongly recommended" list.
    """
    return catalogue.passthrough_identical()


class Policy(object):
    """Which differences and unknowns block; the defaults are DEFAULTS."""

    def __init__(self, strict=DEFAULTS['strict'],
                 passthrough_blocking_factors=(),
                 unknown_action=None,
                 unknown_version_action=DEFAULTS['unknown_version_action'],
                 tsc_tolerance_ppm=DEFAULTS['tsc_tolerance_ppm'],
                 skip_hypervisor_version_check=DEFAULTS[
                     'skip_hypervisor_version_check'],
                 skip_cpu_compare_on_dest=DEFAULTS[
                     'skip_cpu_compare_on_dest']):
        self.strict = bool(strict)
        self.passthrough_blocking_factors = frozenset(
            passthrough_blocking_factors or ())
        actions = dict(DEFAULTS['unknown_action'])
        actions.update(unknown_action or {})
        for mode, action in actions.items():
            if mode not in cpu_modes.MODES or action not in ACTIONS:
                raise ValueError('unknown_action: %s -> %s is not one of '
                                 '%s -> %s' % (mode, action,
                                               cpu_modes.MODES, ACTIONS))
        if unknown_version_action not in ACTIONS:
            raise ValueError('unknown_version_action must be one of %s'
                             % (ACTIONS,))
        self.unknown_action = actions
        self.unknown_version_action = unknown_version_action
        self.tsc_tolerance_ppm = int(tsc_tolerance_ppm)
        #: nova's [workarounds] skip_hypervisor_version_check_on_lm: nova
        #: lets an older destination hypervisor through, and so do we
        #: (with a warning).
        self.skip_hypervisor_version_check = bool(
            skip_hypervisor_version_check)
        #: nova's [workarounds] skip_cpu_compare_on_dest: nova does not
        #: compare the CPU on the destination at all, so a host-model CPU
        #: comparison we cannot complete blocks instead of warning.
        self.skip_cpu_compare_on_dest = bool(skip_cpu_compare_on_dest)

    def blocks_difference(self, factor):
        """Does a difference in an identical-recommended factor block?"""
        return self.strict or factor in self.passthrough_blocking_factors

    def unknown_severity(self, mode, kind='cpu'):
        """Severity of an unknown factor: 'block' or 'warn'.

        kind 'cpu' follows unknown_action_<mode>, 'version' follows
        unknown_version_action; strict makes every unknown block.
        """
        if self.strict:
            return BLOCK
        if kind == 'version':
            return self.unknown_version_action
        return self.unknown_action.get(mode, BLOCK)

    def __repr__(self):
        return ('Policy(strict=%r, passthrough_blocking_factors=%r, '
                'unknown_action=%r, unknown_version_action=%r, '
                'tsc_tolerance_ppm=%r, skip_hypervisor_version_check=%r, '
                'skip_cpu_compare_on_dest=%r)'
                % (self.strict, sorted(self.passthrough_blocking_factors),
                   self.unknown_action, self.unknown_version_action,
                   self.tsc_tolerance_ppm, self.skip_hypervisor_version_check,
                   self.skip_cpu_compare_on_dest))
