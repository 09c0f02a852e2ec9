"""Rules on the host CPU itself: architecture, vendor, address bits, TSC."""

from migcompat_filter.cpu_modes import HOST_MODEL
from migcompat_filter.cpu_modes import HOST_PASSTHROUGH
from migcompat_filter.cpu_modes import MODES
from migcompat_filter.profile import is_unknown
from migcompat_filter.rules.base import identical_severity
from migcompat_filter.rules.base import Rule
from migcompat_filter.rules import values
from migcompat_filter.rules.verdict import BLOCK
from migcompat_filter.rules.verdict import Finding
from migcompat_filter.rules.verdict import INFO


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
    modes = MODES
    # host_model names the vendor when cpu_model cannot.
    reads = ('cpu_model', 'host_model')

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


class PhysBitsRule(Rule):
    """host-passthrough: the destination must have at least the source's
    physical address bits (the guest sees the host's); a different value
    otherwise follows the identical-factor policy.
    """

    factor = 'phys_bits'
    modes = (HOST_PASSTHROUGH,)

    def check(self, ctx):
        src, dst = ctx.values(self.factor)
        severity = identical_severity(ctx, self.factor)
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
    modes = (HOST_MODEL, HOST_PASSTHROUGH)
    # Whether the guest has invtsc comes from its CPU's features.
    reads = ('tsc', 'host_model', 'cpu_features')

    def check(self, ctx):
        features = _guest_features(ctx)
        if is_unknown(features) or 'invtsc' not in features:
            return []  # no invariant TSC: any frequency will do
        src, dst = ctx.values(self.factor)
        f_src, f_dst = _frequency(src), _frequency(dst)
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
        return [self._differs(ctx, src, dst, scaling)]

    def _differs(self, ctx, src, dst, scaling):
        return Finding(
            self.factor, BLOCK, src, dst,
            'the guest has an invariant TSC (invtsc) and the TSC frequency '
            'differs (source %d Hz, destination %d Hz, more than %d ppm) '
            'on a destination that %s scale TSC'
            % (_frequency(src), _frequency(dst),
               ctx.policy.tsc_tolerance_ppm,
               'cannot' if scaling is False else 'may not'),
            'choose a destination with the same TSC frequency or with TSC '
            'scaling, or remove invtsc from the guest CPU')


def _frequency(value):
    return values.number(values.part(value, 'frequency', 'tsc'),
                         'tsc frequency')
