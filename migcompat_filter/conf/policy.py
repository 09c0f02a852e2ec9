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

"""Compatibility policy: which differences and unknowns block a migration.

The rules themselves (migcompat_filter.rules) are fixed by what libvirt and
QEMU require; these options only decide how hard to treat the things that
are *recommended* rather than required, and what to do when a factor could
not be read. The same options serve ``migcompat profile compare
--config-file`` and the nova scheduler filter (group ``[migcompat]``); they
take their defaults from ``rules.policy.DEFAULTS``, and
``migcompat_filter.conf.policy_from_conf`` turns them into the engine's
``Policy``.
"""

import textwrap

from oslo_config import cfg

from migcompat_filter.conf import group
from migcompat_filter import cpu_modes
from migcompat_filter.factors import catalogue
from migcompat_filter.rules.policy import BLOCK
from migcompat_filter.rules.policy import DEFAULTS
from migcompat_filter.rules.policy import WARN

#: What an unknown factor may do: the choices of every unknown_* option.
UNKNOWN_ACTION_CHOICES = [
    (WARN, 'report the unknown factor and let the migration go ahead'),
    (BLOCK, 'refuse the destination'),
]

# The help of the unknown_* options ends with this; strict overrides them.
_STRICT_OVERRIDES = """\
* ``strict``: when true, every unknown factor blocks, whatever this option
  says.
"""


def _passthrough_factor_list():
    # Written from the factor catalogue, so that the help names exactly the
    # factors the option accepts; wrapped as a list item.
    return textwrap.fill(
        '* A comma-separated list of any of: %s.'
        % ', '.join(catalogue.passthrough_identical()),
        width=78, subsequent_indent='  ', break_on_hyphens=False)


policy_opts = [
    cfg.BoolOpt(
        'strict',
        default=DEFAULTS['strict'],
        help="""
Treat every recommendation as a requirement.

When true, a difference that would only warn blocks instead (for example a
different microcode, firmware or kernel between host-passthrough hosts), and
a factor that cannot be read on either host blocks in every mode. (A machine
type the guest runs and the destination lacks always blocks; machine types
no guest runs never do.) Use it where a failed or subtly broken live
migration costs more than a destination that is refused. The CLI flag
"compare --strict" sets it for one comparison.

Possible values:

* ``false`` (the default): recommendations warn, requirements block.
* ``true``: every recommendation blocks, and so does every unknown factor.

Related options:

* ``passthrough_blocking_factors``: makes single factors block for
  host-passthrough guests instead of all of them.
* ``unknown_action_host_model``, ``unknown_action_host_passthrough``,
  ``unknown_action_custom``, ``unknown_version_action``: what unknown
  factors do when strict is false.
"""),
    cfg.ListOpt(
        'passthrough_blocking_factors',
        default=list(DEFAULTS['passthrough_blocking_factors']),
        item_type=cfg.types.String(
            choices=catalogue.passthrough_identical()),
        help="""
For host-passthrough guests, the factors whose difference blocks a migration
instead of only warning.

The guest of a host-passthrough host sees the host CPU as it is, so libvirt
strongly recommends that source and destination be identical in each factor
listed below. By default a difference in any of them warns (and the
similarity weigher ranks such a host lower); name a factor here to make its
difference block. Missing CPU features always block, whatever this option
says.

Possible values:

%s
* Empty (the default): a difference in any of them only warns.

Related options:

* ``strict``: when true, a difference in any of them blocks, whatever this
  list says.
* ``unknown_action_host_passthrough``: an unknown value of one of them is
  treated like a difference of that factor.
""" % _passthrough_factor_list()),
    cfg.StrOpt(
        'unknown_action_host_model',
        default=DEFAULTS['unknown_action'][cpu_modes.HOST_MODEL],
        choices=UNKNOWN_ACTION_CHOICES,
        help="""
What an unknown CPU factor (vendor, host-model CPU features, TSC) does for
host-model guests: a factor that cannot be read on either host is never
treated as equal.

The default warns. Do not count on nova to catch what a warning lets
through: for host-model guests nova's pre-check (compareHypervisorCPU on
the destination) compares the source *host's* CPU, not the guest's
(LP#2039803), it runs only after the scheduler's pick, and many
deployments switch it off with ``[workarounds] skip_cpu_compare_on_dest``.
A migration libvirt then refuses is not retried by conductor. Choose
``block`` where a refused destination costs less than such a failure.

Related options:

* ``[workarounds] skip_cpu_compare_on_dest`` (nova's, read, not owned):
  when true, host-model CPU features that cannot be fully compared block
  whatever this option says, since nothing else compares the CPU before
  libvirt does.
* ``unknown_version_action``: what unknown QEMU or libvirt versions do.
""" + _STRICT_OVERRIDES),
    cfg.StrOpt(
        'unknown_action_host_passthrough',
        default=DEFAULTS['unknown_action'][cpu_modes.HOST_PASSTHROUGH],
        choices=UNKNOWN_ACTION_CHOICES,
        help="""
What unknown host CPU features (or vendor, or TSC) do for host-passthrough
guests.

The default blocks, because nothing else checks a host-passthrough guest: a
destination lacking a feature the guest uses lets the migration succeed and
the guest crash or misbehave later. Unknown values of the factors that are
only recommended identical (microcode, firmware, kernel, ...) are treated
like a difference of that factor.

Related options:

* ``passthrough_blocking_factors``: which of those differences block.
""" + _STRICT_OVERRIDES),
    cfg.StrOpt(
        'unknown_action_custom',
        default=DEFAULTS['unknown_action'][cpu_modes.CUSTOM],
        choices=UNKNOWN_ACTION_CHOICES,
        help="""
What unknown usable CPU models (or unknown guest models) do for custom-mode
guests.

The default warns: libvirt on the destination refuses to start a guest whose
named model is not usable there, so the failure is clean, only late (and
not retried by conductor). The guest's own model (nova's
``instance.vcpu_model``) is judged; only when it is not known does every
model of the source's ``[libvirt] cpu_models`` stand in.

Related options:

* ``unknown_version_action``: what unknown QEMU or libvirt versions do.
""" + _STRICT_OVERRIDES),
    cfg.StrOpt(
        'unknown_version_action',
        default=DEFAULTS['unknown_version_action'],
        choices=UNKNOWN_ACTION_CHOICES,
        help="""
What an unknown QEMU or libvirt version does for host-model and custom
guests, whose rules require the destination not to be older than the source.

The default blocks: nova checks only the QEMU version and nothing checks
libvirt, and an older libvirt or QEMU may not know the guest's CPU model or
features.

Related options:

* ``[workarounds] skip_hypervisor_version_check_on_lm`` (nova's, read, not
  owned): when true, a destination QEMU or libvirt *older* than the
  source's only warns, as nova then lets it through too.

* ``unknown_action_host_model``, ``unknown_action_custom``: what the other
  unknown factors do for these guests.
""" + _STRICT_OVERRIDES),
    cfg.IntOpt(
        'tsc_tolerance_ppm',
        default=DEFAULTS['tsc_tolerance_ppm'],
        min=0,
        help="""
For guests that run with an invariant TSC (the invtsc CPU feature) and a
pinned TSC frequency, how far apart in parts per million that frequency and
the destination's TSC frequency may be and still count as equal when the
destination cannot scale the TSC.

Only such guests are judged by TSC: libvirt never gives a host-model or
migratable host-passthrough guest invtsc, and QEMU refuses to migrate an
invtsc guest without a pinned frequency at all (always blocked). 250 ppm is
the tolerance QEMU applies itself (and KubeVirt uses). A destination that
scales its TSC accepts any frequency.

Possible values:

* An integer of 0 or more, in parts per million; 0 asks for equal
  frequencies.

Related options:

* ``unknown_action_host_model``, ``unknown_action_host_passthrough``: what
  an unknown TSC frequency does.
"""),
]


def list_opts():
    return {group.GROUP: policy_opts}
