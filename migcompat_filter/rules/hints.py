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

"""Likely causes of a difference, in words an operator can act on.

A rule knows *what* differs; these functions look at the other factors of
the two hosts to say *why* it probably differs (the destination boots with
``tsx=off``, its microcode or firmware changed, it is a nested guest, its
QEMU is older). Each returns a string or None; none of them decide a
verdict.
"""

from migcompat_filter.profile import is_unknown
from migcompat_filter.rules import values

TSX_FEATURES = frozenset(['hle', 'rtm'])
VIRT_FEATURES = frozenset(['vmx', 'svm'])


def _cmdline(profile):
    settings = profile['kernel_settings']
    cmdline = values.part(settings, 'cmdline', 'kernel_settings')
    return cmdline if isinstance(cmdline, dict) else {}


def _known_and_differ(a, b):
    return (not values.contains_unknown(a) and not values.contains_unknown(b)
            and a != b)


def _nested(profile):
    nested = values.part(profile['nested_virt'], 'nested', 'nested_virt')
    return nested if isinstance(nested, bool) else None


def nested_destination(ctx):
    """Hint when the destination is an L1 nested guest and the source not."""
    dst_nested = _nested(ctx.destination)
    if not dst_nested:
        return None
    if _nested(ctx.source) is True:
        return None
    on = values.part(ctx.destination['nested_virt'], 'hypervisor',
                     'nested_virt')
    on = '' if is_unknown(on) else ' (on %s)' % on
    return ('the destination is itself a virtual machine%s: an L1 nested '
            'hypervisor only passes on what its own hypervisor exposes, '
            'typically far less than the bare-metal CPU (AVX, AES, ...)'
            % on)


def _signature(profile):
    value = profile['cpu_model']
    if not isinstance(value, dict):
        return None
    sig = tuple(value.get(k) for k in ('vendor', 'family', 'model',
                                       'stepping'))
    if values.contains_unknown(sig) or None in sig:
        return None
    return sig


def different_cpu(ctx):
    """Hint when the two hosts have different CPUs altogether."""
    src, dst = _signature(ctx.source), _signature(ctx.destination)
    if src is None or dst is None or src == dst:
        return None

    def name(profile, sig):
        label = values.part(profile['cpu_model'], 'model_name', 'cpu_model')
        label = '' if is_unknown(label) else ' %s' % label
        return '%s family %s model %s stepping %s%s' % (sig + (label,))
    return ('the destination is a different CPU (source %s; destination %s)'
            % (name(ctx.source, src), name(ctx.destination, dst)))


def microcode_change(ctx):
    src, dst = ctx.values('microcode_version')
    if _known_and_differ(src, dst):
        return ('microcode differs (source %s, destination %s): microcode '
                'updates add and remove CPU features' % (src, dst))
    return None


def firmware_change(ctx):
    src, dst = ctx.values('firmware_version')
    if _known_and_differ(src, dst):
        return ('firmware differs (source %s, destination %s): a BIOS update '
                'brings its own microcode and settings that can hide CPU '
                'features' % (_firmware_str(src), _firmware_str(dst)))
    src, dst = ctx.values('firmware_settings')
    if _known_and_differ(src, dst):
        return ('firmware settings differ (%s)'
                % ', '.join(values.differing_keys(src, dst)))
    return None


def _firmware_str(value):
    if isinstance(value, dict):
        return ' '.join(str(value.get(k)) for k in ('vendor', 'version',
                                                    'date') if value.get(k))
    return str(value)


def tsx(missing, ctx):
    """hle/rtm missing: tsx=off on the command line, else microcode/BIOS."""
    gone = sorted(TSX_FEATURES & set(missing))
    if not gone:
        return None
    dst_tsx = _cmdline(ctx.destination).get('tsx')
    src_tsx = _cmdline(ctx.source).get('tsx')
    if dst_tsx == 'off' and src_tsx != 'off':
        return ('%s (TSX) missing: the destination kernel command line has '
                'tsx=off, which hides TSX from guests; boot it with tsx=on '
                '(where the microcode allows) or keep TSX guests on hosts '
                'with the same setting' % '/'.join(gone))
    causes = [different_cpu(ctx)]
    if not causes[0]:
        causes = [microcode_change(ctx), firmware_change(ctx)]
    for cause in causes:
        if cause:
            return ('%s (TSX) missing: %s; Intel microcode since 2019 and '
                    'the BIOS updates carrying it often disable TSX'
                    % ('/'.join(gone), cause))
    return ('%s (TSX) missing: TSX is off on the destination (kernel '
            'tsx= parameter, microcode or BIOS setting); see its '
            '/proc/cmdline and /sys/devices/system/cpu/vulnerabilities/'
            'tsx_async_abort' % '/'.join(gone))


def virtualization(missing, ctx):
    gone = sorted(VIRT_FEATURES & set(missing))
    if not gone:
        return None
    if _nested(ctx.destination):
        return None  # nested_destination() says why
    settings = ctx.destination['firmware_settings']
    virt = values.part(settings, 'virtualization', 'firmware_settings')
    if virt == 'none':
        return ('%s missing: VT-x/AMD-V is disabled in the destination '
                'firmware' % '/'.join(gone))
    enabled = values.part(ctx.destination['nested_virt'], 'nested_enabled',
                          'nested_virt')
    if enabled is False:
        return ('%s missing: the destination KVM module does not offer '
                'nested virtualization (kvm_intel/kvm_amd nested=0)'
                % '/'.join(gone))
    return None


def clearcpuid(ctx):
    value = _cmdline(ctx.destination).get('clearcpuid')
    if value and value != _cmdline(ctx.source).get('clearcpuid'):
        return ('the destination kernel command line hides CPU features '
                '(clearcpuid=%s)' % value)
    return None


def kernel_change(ctx):
    src, dst = ctx.values('kernel_version')
    if _known_and_differ(src, dst):
        return ('kernel differs (source %s, destination %s): a kernel can '
                'hide or emulate features (XSAVE/PKU, x2apic)' % (src, dst))
    return None


def older_software(ctx):
    """Either QEMU or libvirt of the destination is older than the source's."""
    out = []
    for factor, name in (('qemu_version', 'QEMU'),
                         ('libvirt_version', 'libvirt')):
        src, dst = ctx.values(factor)
        a = values.parse_version(src, factor)
        b = values.parse_version(dst, factor)
        if not is_unknown(a) and not is_unknown(b) and b < a:
            out.append('%s %s on the destination is older than %s on the '
                       'source' % (name, dst, src))
    if out:
        return ('; '.join(out) + ': an older hypervisor does not know or '
                'cannot enable every feature the newer one offers')
    return None


def for_missing_features(missing, ctx):
    """Why features of the source may be missing on the destination."""
    found = []
    for hint in (tsx(missing, ctx), virtualization(missing, ctx),
                 clearcpuid(ctx), nested_destination(ctx)):
        if hint:
            found.append(hint)
    other = set(missing) - TSX_FEATURES
    if other and not _nested(ctx.destination):
        # A different CPU explains its own microcode; on the same CPU a
        # microcode or firmware change is the usual cause.
        cpu = different_cpu(ctx)
        for hint in ([cpu] if cpu else
                     [microcode_change(ctx), firmware_change(ctx)]):
            if hint and hint not in ' '.join(found):
                found.append(hint)
    if not found:
        for hint in (older_software(ctx), kernel_change(ctx)):
            if hint:
                found.append(hint)
    return '; '.join(found) if found else None


def for_version(factor, ctx):
    name = 'QEMU' if factor == 'qemu_version' else 'libvirt'
    return ('upgrade %s on the destination, or choose a destination at least '
            'as new as the source' % name)
