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

"""Rules on the hypervisor software: QEMU, libvirt, machine types."""

from migcompat_filter.cpu_modes import HOST_PASSTHROUGH
from migcompat_filter.profile import is_unknown
from migcompat_filter.rules.base import identical_severity
from migcompat_filter.rules.base import Rule
from migcompat_filter.rules import hints
from migcompat_filter.rules import values
from migcompat_filter.rules.verdict import BLOCK
from migcompat_filter.rules.verdict import Finding
from migcompat_filter.rules.verdict import INFO
from migcompat_filter.rules.verdict import WARN


class VersionRule(Rule):
    """The destination's version of a component must not be older (when
    older_blocks says so); for host-passthrough any difference follows the
    identical-factor policy.
    """

    #: The component, as messages name it.
    name = None

    def older_blocks(self, ctx):
        return True

    def check(self, ctx):
        src, dst = ctx.values(self.factor)
        a = values.parse_version(src, self.factor)
        b = values.parse_version(dst, self.factor)
        if is_unknown(a) or is_unknown(b):
            # Show the parse failure's reason when the value was present
            # but not a version number.
            return [self._unknown(ctx, a if is_unknown(a) else src,
                                  b if is_unknown(b) else dst)]
        if b < a and self.older_blocks(ctx):
            if ctx.policy.skip_hypervisor_version_check:
                return [self._older_skipped(ctx, src, dst)]
            return [self._older(ctx, src, dst)]
        if a != b and ctx.mode == HOST_PASSTHROUGH:
            return [self._different(ctx, src, dst)]
        return []

    def _unknown(self, ctx, src, dst):
        what = '%s version' % self.name
        if ctx.mode == HOST_PASSTHROUGH:
            return ctx.unknown(self.factor, src, dst, what,
                               severity=identical_severity(ctx, self.factor))
        return ctx.unknown(self.factor, src, dst, what, kind='version')

    def _older(self, ctx, src, dst):
        return Finding(self.factor, BLOCK, src, dst,
                       '%s on the destination (%s) is older than on the '
                       'source (%s)' % (self.name, dst, src),
                       hints.for_version(self.factor, ctx))

    def _older_skipped(self, ctx, src, dst):
        # nova lets the destination through with this workaround set; the
        # operator chose that, so we only say it.
        return Finding(self.factor, WARN, src, dst,
                       '%s on the destination (%s) is older than on the '
                       'source (%s); allowed because nova [workarounds] '
                       'skip_hypervisor_version_check_on_lm is set'
                       % (self.name, dst, src),
                       hints.for_version(self.factor, ctx))

    def _different(self, ctx, src, dst):
        return Finding(self.factor, identical_severity(ctx, self.factor),
                       src, dst,
                       '%s differs (source %s, destination %s); '
                       'host-passthrough hosts should run the same version'
                       % (self.name, src, dst))


class QemuVersionRule(VersionRule):
    """The destination QEMU must not be older than the source's.

    In every mode: nova itself refuses such a destination
    (DestinationHypervisorTooOld), after a wasted scheduling round. For
    host-passthrough any other difference is a warning (identical
    recommended).
    """

    factor = 'qemu_version'
    name = 'QEMU'


class LibvirtVersionRule(VersionRule):
    """host-model and custom: the destination libvirt must not be older.

    An older libvirt's CPU map may not know the guest's model or features.
    For host-passthrough, libvirt versions should be identical: a
    difference warns (or blocks when the policy names libvirt_version).
    """

    factor = 'libvirt_version'
    name = 'libvirt'

    def older_blocks(self, ctx):
        return ctx.mode != HOST_PASSTHROUGH


class MachineTypesRule(Rule):
    """Every machine type the guest runs must exist on the destination QEMU
    (its capabilities): QEMU cannot receive a guest of a machine type it
    lacks.

    The guest's machine types come from the source's running guests (or
    one domain XML). Without that record the host lists do not decide: at
    most an info finding names the source machine types the destination
    lacks.
    """

    factor = 'machine_types'
    reads = ('machine_types',)

    def check(self, ctx):
        wanted = ctx.guest.machine_types
        if wanted is None:
            return self._without_guest(ctx)
        if not wanted:
            return []
        dst = ctx.destination[self.factor]
        offered = values.feature_set(dst, 'destination machine types')
        if is_unknown(offered):
            return [ctx.unknown(self.factor, sorted(wanted), dst,
                                'machine types (the guest runs %s)'
                                % ', '.join(sorted(wanted)))]
        missing = wanted - offered
        if missing:
            return [Finding(
                self.factor, BLOCK, sorted(wanted), dst,
                'the destination QEMU lacks the machine type(s) the guest '
                'runs: %s; QEMU cannot receive it there'
                % values.short_list(missing, 8),
                hints.older_software(ctx))]
        return []

    def _without_guest(self, ctx):
        src, dst = ctx.values(self.factor)
        if src == dst:
            return []  # the common case, without building two sets
        offers = values.feature_set(src, 'source machine types')
        offered = values.feature_set(dst, 'destination machine types')
        if is_unknown(offers) or is_unknown(offered):
            return []  # the host lists do not decide; nothing to add
        missing = offers - offered
        if not missing:
            return []
        return [Finding(
            self.factor, INFO, src, ctx.destination[self.factor],
            'the destination QEMU lacks %d machine type(s) the source '
            'offers: %s; no record of the machine type the guest runs, so '
            'this does not decide' % (len(missing),
                                      values.short_list(missing, 8)),
            hints.older_software(ctx))]
