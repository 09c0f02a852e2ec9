"""One small rule per factor; each docstring states the rule.

A rule's ``check(ctx)`` returns findings (see verdict.Context). ``modes``
says for which guest CPU modes it applies. Rules compare explicit feature
sets, never model names alone: a named model is shorthand, and libvirt
versions disagree on names.
"""

from migcompat_filter.profile import is_unknown
from migcompat_filter.profile import Unknown
from migcompat_filter.rules import hints
from migcompat_filter.rules import values
from migcompat_filter.rules.verdict import BLOCK
from migcompat_filter.rules.verdict import Finding
from migcompat_filter.rules.verdict import INFO
from migcompat_filter.rules.verdict import WARN

HOST_MODEL = 'host-model'
PASSTHROUGH = 'host-passthrough'
CUSTOM = 'custom'
ALL_MODES = (HOST_MODEL, PASSTHROUGH, CUSTOM)


class Rule(object):
    factor = None
    modes = ALL_MODES

    def check(self, ctx):
        raise NotImplementedError


def _identical_severity(ctx, factor):
    return BLOCK if ctx.policy.blocks_difference(factor) else WARN


class ArchRule(Rule):
    """Source and destination must have the same CPU architecture.

    No live migration crosses architectures; unknown follows the mode's
    unknown-factor policy.
    """

    factor = 'arch'

    def check(self, ctx):
        src, dst = ctx.values(self.factor)
        if is_unknown(src) or is_unknown(dst):
            return [ctx.unknown(self.factor, src, dst, 'CPU architecture')]
        if src != dst:
            return [Finding(self.factor, BLOCK, src, dst,
                            'the destination is %s, the source %s: a guest '
                            'cannot live-migrate across CPU architectures'
                            % (dst, src))]
        return []


def vendor_of(profile):
    """The CPU vendor: cpu_model.vendor, else host_model.vendor."""
    vendor = values.part(profile['cpu_model'], 'vendor', 'cpu_model')
    if is_unknown(vendor):
        alt = values.part(profile['host_model'], 'vendor', 'host_model')
        if not is_unknown(alt):
            return alt
    return vendor


class VendorRule(Rule):
    """Every mode: the host CPU vendor must be the same.

    An Intel guest CPU cannot run on AMD or the reverse. That holds for
    custom (named model) guests too: under KVM, QEMU gives a guest the
    host's CPUID vendor whatever the model's, so a guest started on Intel
    would find itself on AMD mid-flight even where the destination lists
    the model as usable.
    """

    factor = 'cpu_model'
    modes = (HOST_MODEL, PASSTHROUGH, CUSTOM)

    def check(self, ctx):
        src, dst = vendor_of(ctx.source), vendor_of(ctx.destination)
        if is_unknown(src) or is_unknown(dst):
            return [ctx.unknown(self.factor, src, dst, 'CPU vendor')]
        if str(src).lower() != str(dst).lower():
            return [Finding(self.factor, BLOCK, src, dst,
                            'CPU vendor differs (source %s, destination '
                            '%s): the guest CPU cannot move across vendors'
                            % (src, dst))]
        return []


def compare_host_model(src, dst):
    """Features of the source host-model CPU that the destination lacks.

    Returns (missing, complete, note). ``missing`` holds only features known
    to be missing; ``complete`` says whether every source feature was
    accounted for. An expanded side lists every enabled feature; an
    unexpanded side is a named model plus ``features`` (required beyond the
    model) and ``disabled`` (model features the host lacks). Two unexpanded
    sides with the same model name compare by their require and disable
    lists; anything else needs the expanded lists.
    """
    src_e = values.feature_set(values.part(src, 'features', 'host_model'),
                               'source host-model features')
    dst_e = values.feature_set(values.part(dst, 'features', 'host_model'),
                               'destination host-model features')
    if is_unknown(src_e) or is_unknown(dst_e):
        return None, False, 'feature list unknown'
    src_x = values.part(src, 'expanded', 'host_model') is True
    dst_x = values.part(dst, 'expanded', 'host_model') is True
    src_d = values.feature_set(values.part(src, 'disabled', 'host_model'),
                               'source disabled features')
    dst_d = values.feature_set(values.part(dst, 'disabled', 'host_model'),
                               'destination disabled features')
    src_m = values.part(src, 'model', 'host_model')
    dst_m = values.part(dst, 'model', 'host_model')
    same_model = values.same(src_m, dst_m)

    if src_x and dst_x:
        return src_e - dst_e, True, ''
    if dst_x:
        # The source's named model hides features only the expanded list
        # would show; its explicit ones can still be checked.
        missing = src_e - dst_e
        return missing, False, (
            'the source host-model CPU is %s plus %d listed features, not '
            'an expanded feature list' % (src_m, len(src_e)))
    known_d = not is_unknown(dst_d)
    definite = set(src_e & dst_d) if known_d else set()
    if not src_x and same_model and known_d and not is_unknown(src_d):
        # Same named model on both: a feature is missing when the source
        # requires it and the destination does not, or the destination
        # disables a model feature the source keeps.
        missing = (src_e - dst_e) | (dst_d - src_d)
        return missing, True, ''
    undetermined = src_e - dst_e - (dst_d if known_d else frozenset())
    if src_x and not undetermined and known_d:
        return definite, True, ''
    if src_x:
        note = ('the destination host-model CPU is %s plus a require/'
                'disable list, not an expanded feature list' % dst_m)
    else:
        note = ('both host-model CPUs are named models (%s, %s) without '
                'expanded feature lists' % (src_m, dst_m))
    return definite, False, note


class HostModelFeaturesRule(Rule):
    """host-model: every feature of the source's host-model CPU must be
    enabled in the destination's host-model CPU.

    Features, not model names: a host runs its own host-model CPU even where
    the plain named model is not usable (it disables what the host lacks).
    Known-missing features block; when the lists cannot be fully compared
    (named models without expanded lists) the unknown-factor policy decides.
    """

    factor = 'host_model'
    modes = (HOST_MODEL,)

    def check(self, ctx):
        src, dst = ctx.values(self.factor)
        if values.contains_unknown(
                values.part(src, 'features', self.factor)) or \
                values.contains_unknown(
                    values.part(dst, 'features', self.factor)):
            return [ctx.unknown(self.factor, src, dst,
                                'the host-model CPU features')]
        missing, complete, note = compare_host_model(src, dst)
        if missing:
            return [Finding(
                self.factor, BLOCK, src, dst,
                'the destination host-model CPU lacks %d feature(s) of the '
                "source's: %s" % (len(missing),
                                  values.short_list(missing, 40)),
                hints.for_missing_features(missing, ctx))]
        if not complete:
            finding = ctx.unknown(self.factor, src, dst,
                                  'the host-model CPU features')
            finding.message = (
                'the host-model CPU features cannot be fully compared: %s; '
                'capture domain capabilities with the host-model CPU '
                'expanded (virsh domcapabilities --expand-cpu-features, or '
                '"migcompat snapshot" on the host)' % note)
            return [finding]
        return []


def _version_check(ctx, factor, name, older_blocks):
    src, dst = ctx.values(factor)
    a = values.parse_version(src, factor)
    b = values.parse_version(dst, factor)
    if is_unknown(a) or is_unknown(b):
        # Show the parse failure's reason when the value was present but
        # not a version number.
        shown_src = a if is_unknown(a) else src
        shown_dst = b if is_unknown(b) else dst
        if ctx.mode == PASSTHROUGH:
            return [ctx.unknown(factor, shown_src, shown_dst,
                                '%s version' % name,
                                severity=_identical_severity(ctx, factor))]
        return [ctx.unknown(factor, shown_src, shown_dst,
                            '%s version' % name, kind='version')]
    if b < a and older_blocks:
        return [Finding(factor, BLOCK, src, dst,
                        '%s on the destination (%s) is older than on the '
                        'source (%s)' % (name, dst, src),
                        hints.for_version(factor, ctx))]
    if a != b and ctx.mode == PASSTHROUGH:
        return [Finding(factor, _identical_severity(ctx, factor), src, dst,
                        '%s differs (source %s, destination %s); '
                        'host-passthrough hosts should run the same version'
                        % (name, src, dst))]
    return []


class QemuVersionRule(Rule):
    """The destination QEMU must not be older than the source's.

    In every mode: nova itself refuses such a destination
    (DestinationHypervisorTooOld), after a wasted scheduling round. For
    host-passthrough any other difference is a warning (identical
    recommended).
    """

    factor = 'qemu_version'

    def check(self, ctx):
        return _version_check(ctx, self.factor, 'QEMU', True)


class LibvirtVersionRule(Rule):
    """host-model and custom: the destination libvirt must not be older.

    An older libvirt's CPU map may not know the guest's model or features.
    For host-passthrough, libvirt versions should be identical: a
    difference warns (or blocks when the policy names libvirt_version).
    """

    factor = 'libvirt_version'

    def check(self, ctx):
        return _version_check(ctx, self.factor, 'libvirt',
                              ctx.mode != PASSTHROUGH)


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


def _guest_features(ctx):
    """Features the guest sees on the source (for the TSC rule)."""
    if ctx.mode == HOST_MODEL:
        value = values.part(ctx.source['host_model'], 'features',
                            'host_model')
    else:
        value = values.part(ctx.source['cpu_features'], 'features',
                            'cpu_features')
    return values.feature_set(value, 'source features')


class TscRule(Rule):
    """A guest with an invariant TSC (invtsc) needs the same TSC frequency
    on the destination (within tsc_tolerance_ppm), unless the destination
    can scale the TSC.

    Applies to host-model and host-passthrough guests whose CPU has invtsc.
    """

    factor = 'tsc'
    modes = (HOST_MODEL, PASSTHROUGH)

    def check(self, ctx):
        features = _guest_features(ctx)
        if is_unknown(features) or 'invtsc' not in features:
            return []  # no invariant TSC: any frequency will do
        src, dst = ctx.values(self.factor)
        f_src = values.number(values.part(src, 'frequency', 'tsc'),
                              'tsc frequency')
        f_dst = values.number(values.part(dst, 'frequency', 'tsc'),
                              'tsc frequency')
        scaling = values.part(dst, 'scaling', 'tsc')
        if is_unknown(f_src) or is_unknown(f_dst):
            if scaling is True and not is_unknown(f_src):
                return []
            return [ctx.unknown(self.factor, src, dst,
                                'TSC frequency (the guest has invtsc)')]
        tolerance = f_src * ctx.policy.tsc_tolerance_ppm / 1e6
        if abs(f_dst - f_src) <= tolerance:
            return []
        if scaling is True:
            return [Finding(self.factor, INFO, src, dst,
                            'TSC frequency differs (%d Hz, %d Hz); the '
                            'destination scales TSC' % (f_src, f_dst))]
        return [Finding(
            self.factor, BLOCK, src, dst,
            'the guest has an invariant TSC (invtsc) and the TSC frequency '
            'differs (source %d Hz, destination %d Hz, more than %d ppm) '
            'on a destination that %s scale TSC'
            % (f_src, f_dst, ctx.policy.tsc_tolerance_ppm,
               'cannot' if scaling is False else 'may not'),
            'choose a destination with the same TSC frequency or with TSC '
            'scaling, or remove invtsc from the guest CPU')]


def compare_cpu_features(src, dst):
    """(missing, complete, note) for host CPU features (host-passthrough).

    Like is compared with like: features read from /proc/cpuinfo with
    features read from /proc/cpuinfo, libvirt's with libvirt's (the two
    see different sets: cpuinfo hides what the kernel disabled and shows
    synthetic flags, libvirt shows CPUID bits). Across readers the
    comparison is made but is not complete: the note says so. A named
    model without expansion only counts as the same features when both
    sides name the same model.
    """
    kinds = []
    for value in (src, dst):
        kind = values.part(value, 'source', 'cpu_features')
        kinds.append(None if is_unknown(kind) else kind)
    src_e = values.feature_set(values.part(src, 'features', 'cpu_features'),
                               'source features')
    dst_e = values.feature_set(values.part(dst, 'features', 'cpu_features'),
                               'destination features')
    if is_unknown(src_e) or is_unknown(dst_e):
        return None, False, ''
    src_x = kinds[0] != 'libvirt-unexpanded'
    dst_x = kinds[1] != 'libvirt-unexpanded'
    if kinds[0] != kinds[1] and src_x and dst_x:
        missing = src_e - dst_e
        if not missing:
            return missing, True, ''
        return missing, False, (
            'the source features were read from %s, the destination '
            'features from %s; those readers see different feature sets, '
            'so read both hosts the same way to be sure'
            % (kinds[0] or 'an unknown reader',
               kinds[1] or 'an unknown reader'))
    if src_x and dst_x:
        return src_e - dst_e, True, ''
    if not src_x and not dst_x and values.same(
            values.part(src, 'model', 'cpu_features'),
            values.part(dst, 'model', 'cpu_features')):
        return src_e - dst_e, True, ''
    if dst_x:
        # The destination list is complete: what the source lists beyond
        # its named model is certainly missing when absent there.
        missing = src_e - dst_e
    else:
        missing = frozenset()
        if src_x and not (src_e - dst_e):
            # Every source feature is among those the destination lists.
            # Only a complete source list allows this: the features of an
            # unexpanded source model are not in src_e at all.
            return missing, True, ''
    return missing, False, (
        'the host CPUs are named models (%s, %s) without expanded feature '
        'lists' % (values.part(src, 'model', 'cpu_features'),
                   values.part(dst, 'model', 'cpu_features')))


class PassthroughFeaturesRule(Rule):
    """host-passthrough: the destination host CPU features must be a
    superset of the source's.

    Known-missing features block. Nothing else checks this for
    host-passthrough guests, so what cannot be fully compared (unknown
    features, features read differently on the two hosts, named models)
    follows the host-passthrough unknown policy, which blocks by default.
    """

    factor = 'cpu_features'
    modes = (PASSTHROUGH,)

    def check(self, ctx):
        src, dst = ctx.values(self.factor)
        missing, complete, note = compare_cpu_features(src, dst)
        if missing is None:
            return [ctx.unknown(self.factor, src, dst, 'host CPU features')]
        if missing:
            severity = BLOCK if complete else \
                ctx.policy.unknown_severity(ctx.mode)
            message = ('the destination host CPU lacks %d feature(s) of the '
                       "source's: %s" % (len(missing),
                                         values.short_list(missing, 40)))
            if note:
                message += ' (%s)' % note
            return [Finding(self.factor, severity, src, dst, message,
                            hints.for_missing_features(missing, ctx))]
        if not complete:
            finding = ctx.unknown(self.factor, src, dst, 'host CPU features')
            finding.message = ('host CPU features cannot be fully compared: '
                               '%s' % note)
            return [finding]
        return []


class IdenticalRule(Rule):
    """host-passthrough: the factor should be identical on both hosts.

    A difference (or an unknown value) warns, and blocks when the policy is
    strict or names the factor in passthrough_blocking_factors.
    """

    modes = (PASSTHROUGH,)
    what = None
    ignore = ()

    def values(self, ctx):
        src, dst = ctx.values(self.factor)
        if self.ignore:
            src, dst = [({k: v for k, v in x.items() if k not in self.ignore}
                         if isinstance(x, dict) else x) for x in (src, dst)]
        return src, dst

    def hint(self, ctx, src, dst):
        return None

    def check(self, ctx):
        src, dst = self.values(ctx)
        severity = _identical_severity(ctx, self.factor)
        if values.contains_unknown(src) or values.contains_unknown(dst):
            return [ctx.unknown(self.factor, src, dst, self.what,
                                severity=severity)]
        if values.same(src, dst):
            return []
        if isinstance(src, dict) and isinstance(dst, dict):
            diff = values.differing_keys(src, dst)
            detail = ': %s' % ', '.join(
                '%s %s -> %s' % (k, _show(values.lookup(src, k)),
                                 _show(values.lookup(dst, k)))
                for k in diff[:8])
            if len(diff) > 8:
                detail += ' and %d more' % (len(diff) - 8)
        else:
            detail = ' (source %s, destination %s)' % (src, dst)
        return [Finding(self.factor, severity, src, dst,
                        '%s differs%s; host-passthrough hosts should be '
                        'identical' % (self.what, detail),
                        self.hint(ctx, src, dst))]


def _show(value):
    return 'unset' if value is None else str(value)


class CpuSignatureRule(IdenticalRule):
    """host-passthrough: same CPU signature (family, model, stepping).

    The guest sees the host CPUID as is; a different stepping can change
    errata, features and model-specific registers.
    """

    factor = 'cpu_model'
    what = 'CPU signature'
    ignore = ('model_name', 'libvirt_model', 'vendor')


class MicrocodeRule(IdenticalRule):
    """host-passthrough: same microcode revision (it adds and removes
    features)."""

    factor = 'microcode_version'
    what = 'microcode revision'


class FirmwareVersionRule(IdenticalRule):
    """host-passthrough: same firmware (BIOS) revision; it bundles
    microcode and defaults."""

    factor = 'firmware_version'
    what = 'firmware revision'


class FirmwareSettingsRule(IdenticalRule):
    """host-passthrough: same firmware settings (SMT, VT-x/AMD-V)."""

    factor = 'firmware_settings'
    what = 'firmware settings'


class KernelVersionRule(IdenticalRule):
    """host-passthrough: same host kernel release (kernels hide or emulate
    features)."""

    factor = 'kernel_version'
    what = 'host kernel version'


class KernelSettingsRule(IdenticalRule):
    """host-passthrough: same CPU-relevant kernel settings (command line,
    KVM module options, vulnerability mitigations)."""

    factor = 'kernel_settings'
    what = 'host kernel settings'

    def hint(self, ctx, src, dst):
        def tsx(p):
            return values.lookup(p, 'cmdline.tsx')
        if tsx(src) != tsx(dst):
            return ('tsx=%s on the source, tsx=%s on the destination: TSX '
                    'guests lose hle/rtm' % (_show(tsx(src)),
                                             _show(tsx(dst))))
        return None


class NestedVirtRule(IdenticalRule):
    """host-passthrough: both hosts bare metal, or both nested alike."""

    factor = 'nested_virt'
    what = 'nested virtualization'

    def hint(self, ctx, src, dst):
        return hints.nested_destination(ctx)


class PhysBitsRule(Rule):
    """host-passthrough: the destination must have at least the source's
    physical address bits (the guest sees the host's); a different value
    otherwise follows the identical-factor policy.
    """

    factor = 'phys_bits'
    modes = (PASSTHROUGH,)

    def check(self, ctx):
        src, dst = ctx.values(self.factor)
        severity = _identical_severity(ctx, self.factor)
        src = values.number(src, 'phys_bits')
        dst = values.number(dst, 'phys_bits')
        if is_unknown(src) or is_unknown(dst):
            return [ctx.unknown(self.factor, src, dst,
                                'physical address bits', severity=severity)]
        if dst < src:
            return [Finding(self.factor, BLOCK, src, dst,
                            'the destination has %d physical address bits, '
                            'the source %d: a host-passthrough guest sized '
                            'for the source cannot address its memory there'
                            % (dst, src))]
        if dst != src:
            return [Finding(self.factor, INFO, src, dst,
                            'the destination has more physical address bits '
                            '(%d) than the source (%d)' % (dst, src))]
        return []


class CustomModelRule(Rule):
    """custom: every named CPU model of the guest must be usable on the
    destination (libvirt's domain capabilities say usable='yes')."""

    factor = 'usable_models'
    modes = (CUSTOM,)

    def check(self, ctx):
        wanted = ctx.cpu_models
        if not wanted:
            wanted = ctx.source['cpu_models']
        wanted = values.feature_set(wanted, "the guest's CPU models")
        if not is_unknown(wanted) and not wanted:
            wanted = Unknown('no guest CPU model given (nova [libvirt] '
                             'cpu_models is empty; pass --cpu-model)')
        src, dst = ctx.values(self.factor)
        usable = values.feature_set(dst, 'destination usable models')
        if is_unknown(wanted) or is_unknown(usable):
            return [ctx.unknown(self.factor, wanted, dst,
                                'usable CPU models')]
        # libvirt model names are case-sensitive, but nova lower-cases
        # cpu_models in some releases; compare without case.
        usable_ci = {m.lower() for m in usable}
        missing = sorted(m for m in wanted if m.lower() not in usable_ci)
        if missing:
            return [Finding(
                self.factor, BLOCK, sorted(wanted), dst,
                'the destination cannot run the guest CPU model(s) %s (not '
                'usable there)' % ', '.join(missing),
                _custom_hint(ctx, missing))]
        return []


def _custom_hint(ctx, missing):
    found = [h for h in (hints.nested_destination(ctx),
                         hints.older_software(ctx),
                         hints.microcode_change(ctx)) if h]
    return '; '.join(found) if found else None


RULES = [
    ArchRule(),
    VendorRule(),
    HostModelFeaturesRule(),
    PassthroughFeaturesRule(),
    CustomModelRule(),
    QemuVersionRule(),
    LibvirtVersionRule(),
    MachineTypesRule(),
    TscRule(),
    CpuSignatureRule(),
    MicrocodeRule(),
    FirmwareVersionRule(),
    FirmwareSettingsRule(),
    KernelVersionRule(),
    KernelSettingsRule(),
    NestedVirtRule(),
    PhysBitsRule(),
]


def rules_for(mode):
    return [rule for rule in RULES if mode in rule.modes]
