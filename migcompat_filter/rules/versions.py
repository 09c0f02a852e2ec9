"""Rules on the hypervisor software: QEMU, libvirt, machine types."""

from migcompat_filter.cpu_modes import HOST_PASSTHROUGH
from migcompat_filter.profile import is_unknown
from migcompat_filter.rules.base import identical_severity
from migcompat_filter.rules.base import Rule
from migcompat_filter.rules import hints
from migcompat_filter.rules import values
from migcompat_filter.rules.verdict import BLOCK
from migcompat_filter.rules.verdict import Finding
from migcompat_filter.rules.verdict import WARN


class VersionRule(Rule):
    """The destination's version of a component must not be older (when
    older_blocks says so); for host-passthrough any difference follows the
    identical-factor policy."""

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
    """A guest's machine type must exist on the destination QEMU.

    The guest's own machine type is not in a host profile, so machine
    types the source offers and the destination lacks warn (block under a
    strict policy): a guest using one of them cannot migrate.
    """

    factor = 'machine_types'

    def check(self, ctx):
        src, dst = ctx.values(self.factor)
        severity = BLOCK if ctx.policy.strict else WARN
        a = values.feature_set(src, 'source machine types')
        b = values.feature_set(dst, 'destination machine types')
        if is_unknown(a) or is_unknown(b):
            return [ctx.unknown(self.factor, src, dst, 'machine types',
                                severity=severity)]
        missing = a - b
        if missing:
            return [Finding(
                self.factor, severity, src, dst,
                'the destination QEMU lacks %d machine type(s) of the '
                "source's: %s; guests using them cannot migrate there"
                % (len(missing), values.short_list(missing, 8)),
                hints.older_software(ctx))]
        return []
