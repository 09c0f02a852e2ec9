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

"""Rules on the CPU: architecture, vendor, address bits, TSC."""

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

    No live migration crosses architectures, and nothing else about two
    hosts is comparable without knowing theirs: an unknown architecture
    blocks in every mode (it is not left to the unknown-factor policy).

    aarch64 pairs are judged by host-passthrough identity, whatever the
    configured mode: libvirt 9 has no host-model CPU expansion on ARM (its
    aarch64 driver offers host-passthrough only, domain capabilities say
    host-model supported='no'), and KVM treats the MIDR and the ID
    registers as invariant, so a guest moves only to a CPU with the same
    MIDR (implementer, part, variant, revision) and every feature of the
    source (cpuinfo ``Features``). A difference, or either unknown,
    blocks.
    """

    factor = 'arch'
    reads = ('arch', 'cpu_model', 'cpu_features')

    def check(self, ctx):
        src, dst = ctx.values(self.factor)
        if is_unknown(src) or is_unknown(dst):
            return [ctx.unknown(self.factor, src, dst, 'CPU architecture',
                                severity=BLOCK)]
        if src != dst:
            return [Finding(self.factor, BLOCK, src, dst,
                            'the destination is %s, the source %s: a guest '
                            'cannot live-migrate across CPU architectures'
                            % (dst, src))]
        if src == 'aarch64':
            return _aarch64_identity(ctx)
        return []


#: The MIDR fields an aarch64 cpu_model carries (factors.cpuinfo_arch).
MIDR_FIELDS = ('implementer', 'part', 'variant', 'revision')


def _aarch64_identity(ctx):
    """Findings of host-passthrough identity for an aarch64 pair."""
    findings = []
    if ctx.mode != HOST_PASSTHROUGH:
        findings.append(Finding(
            'arch', INFO, 'aarch64', 'aarch64',
            'aarch64 hosts are judged as host-passthrough (libvirt 9 offers '
            'no host-model or named CPU models on ARM), not as %s'
            % ctx.mode))
    src = [values.part(ctx.source['cpu_model'], k, 'cpu_model')
           for k in MIDR_FIELDS]
    dst = [values.part(ctx.destination['cpu_model'], k, 'cpu_model')
           for k in MIDR_FIELDS]
    if any(is_unknown(v) for v in src + dst):
        findings.append(ctx.unknown('cpu_model', src, dst,
                                    'aarch64 CPU identity (MIDR)',
                                    severity=BLOCK))
    elif src != dst:
        findings.append(Finding(
            'cpu_model', BLOCK, _midr(src), _midr(dst),
            'the aarch64 CPUs differ (source MIDR %s, destination %s): '
            'KVM on ARM keeps the MIDR and ID registers invariant, so a '
            'host-passthrough guest cannot move to another CPU'
            % (_midr(src), _midr(dst))))
    findings.extend(_aarch64_features(ctx))
    return findings


def _midr(fields):
    return 'implementer 0x%02x part 0x%03x r%dp%d' % tuple(fields)


def _aarch64_features(ctx):
    def features(profile):
        return values.feature_set(values.part(
            profile['cpu_features'], 'features', 'cpu_features'),
            'cpu_features')
    src, dst = features(ctx.source), features(ctx.destination)
    if is_unknown(src) or is_unknown(dst):
        return [ctx.unknown('cpu_features', src, dst,
                            'aarch64 CPU features', severity=BLOCK)]
    missing = src - dst
    if missing:
        return [Finding('cpu_features', BLOCK, sorted(src), sorted(dst),
                        'the destination lacks aarch64 CPU features the '
                        'source has: %s' % values.short_list(missing))]
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

    An Intel guest CPU cannot run on AMD or the reverse; an unknown vendor
    blocks (whatever the unknown-factor policy). That holds for
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
            # Unknown blocks in every mode: without the vendor no guest
            # CPU is comparable (not left to the unknown-factor policy).
            return [ctx.unknown(self.factor, src, dst, 'CPU vendor',
                                severity=BLOCK)]
        if str(src).lower() != str(dst).lower():
            return [Finding(self.factor, BLOCK, src, dst,
                            'CPU vendor differs (source %s, destination '
                            '%s): the guest CPU cannot move across vendors'
                            % (src, dst))]
        return []


class PhysBitsRule(Rule):
    """Guests sized with maxphysaddr bits need a destination with at least
    that many physical address bits (every mode). host-passthrough: the
    destination must also have at least the source's (the guest sees the
    host's); a different value otherwise follows the identical-factor
    policy.
    """

    factor = 'phys_bits'
    reads = ('phys_bits',)

    def check(self, ctx):
        findings = self._guest_bits(ctx)
        if ctx.mode == HOST_PASSTHROUGH:
            findings.extend(self._host_bits(ctx))
        return findings

    def _guest_bits(self, ctx):
        given = ctx.guest.phys_bits
        if not given:
            return []
        dst = _bits(ctx.destination[self.factor])
        bits = values.bounded(given, 'guest maxphysaddr bits',
                              *values.PHYS_BITS_RANGE)
        if is_unknown(bits) or is_unknown(dst):
            return [ctx.unknown(self.factor, bits, dst,
                                'physical address bits (the guest uses %s)'
                                % values.short(given))]
        if dst < bits:
            return [Finding(self.factor, BLOCK, bits, dst,
                            'the guest CPU has %d physical address bits '
                            '(maxphysaddr), the destination only %d'
                            % (bits, dst))]
        return []

    def _host_bits(self, ctx):
        src, dst = ctx.values(self.factor)
        severity = identical_severity(ctx, self.factor)
        src, dst = _bits(src), _bits(dst)
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


class TscRule(Rule):
    """A guest with an invariant TSC (invtsc) cannot migrate unless its XML
    pins a TSC frequency (QEMU refuses: a blocker in every mode, to every
    destination); with a pinned frequency the destination must match it
    within tsc_tolerance_ppm, unless it can scale the TSC.

    Only guests that really have invtsc: the running guests' record, one
    domain XML, an invtsc extra flag, or a host-passthrough guest with
    migratable='off' on a host with invtsc. A host-model or migratable
    host-passthrough guest never has it (libvirt marks it not
    migratable), so hosts of different TSC frequency do not matter then.
    """

    factor = 'tsc'
    reads = ('tsc',)

    def check(self, ctx):
        guest = ctx.guest
        if guest.invtsc_unpinned:
            return [self._unpinned(ctx, guest.invtsc_unpinned)]
        if self._host_invtsc(ctx) and not guest.invtsc_frequencies:
            return [self._unpinned(ctx, guest.migratable_off)]
        src, dst = ctx.values(self.factor)
        if guest.invtsc_frequencies:
            wanted = sorted(guest.invtsc_frequencies)
        elif 'invtsc' in guest.given() and guest.invtsc_unpinned is None:
            # nova gave the guest invtsc and nothing says how it runs: the
            # source host's frequency is the best guess of its own.
            wanted = [_frequency(src)]
        else:
            return []  # no invariant TSC: any frequency will do
        return [f for f in (self._pinned(ctx, hz, src, dst) for hz in wanted)
                if f][:1]

    @staticmethod
    def _host_invtsc(ctx):
        """A host-passthrough guest with migratable='off' on a source
        host with invtsc has invtsc (QEMU gives it every host feature).
        """
        if ctx.mode != HOST_PASSTHROUGH or not ctx.guest.migratable_off:
            return False
        features = values.feature_set(values.part(
            ctx.source['cpu_features'], 'features', 'cpu_features'),
            'source features')
        return not is_unknown(features) and 'invtsc' in features

    def _unpinned(self, ctx, count):
        return Finding(
            self.factor, BLOCK, count, ctx.destination[self.factor],
            'running guests (at least %d) have an invariant TSC (invtsc) '
            'without a pinned TSC frequency: QEMU refuses to migrate such '
            'a guest to any destination' % count,
            "pin the TSC frequency in the guest XML (<clock><timer "
            "name='tsc' frequency=...>) or remove invtsc from the guest CPU")

    def _pinned(self, ctx, f_src, src, dst):
        f_src = values.bounded(f_src, 'guest TSC frequency',
                               *values.TSC_HZ_RANGE)
        f_dst = _frequency(dst)
        scaling = values.part(dst, 'scaling', 'tsc')
        if is_unknown(f_src) or is_unknown(f_dst):
            if scaling is True and not is_unknown(f_src):
                return None
            # The Unknown frequencies carry the reasons (out of range,
            # not finite, missing) into the message.
            return ctx.unknown(self.factor, f_src, f_dst,
                               'TSC frequency (the guest has invtsc)')
        tolerance = f_src * ctx.policy.tsc_tolerance_ppm / 1e6
        if abs(f_dst - f_src) <= tolerance:
            return None
        if scaling is True:
            return Finding(self.factor, INFO, f_src, dst,
                           'TSC frequency differs (guest %d Hz, destination '
                           '%d Hz); the destination scales TSC'
                           % (f_src, f_dst))
        return Finding(
            self.factor, BLOCK, f_src, dst,
            'the guest has an invariant TSC (invtsc) at %d Hz and the '
            'destination TSC runs at %d Hz (more than %d ppm apart) on a '
            'destination that %s scale TSC'
            % (f_src, f_dst, ctx.policy.tsc_tolerance_ppm,
               'cannot' if scaling is False else 'may not'),
            'choose a destination with the same TSC frequency or with TSC '
            'scaling, or remove invtsc from the guest CPU')


def _frequency(value):
    """The TSC frequency in Hz (1 Hz..1e11 Hz, finite) or Unknown: NaN,
    an infinity or a 400-digit number must neither raise nor make the
    tolerance test hold for every destination.
    """
    return values.bounded(values.part(value, 'frequency', 'tsc'),
                          'tsc frequency', *values.TSC_HZ_RANGE)


def _bits(value):
    return values.bounded(value, 'phys_bits', *values.PHYS_BITS_RANGE)
