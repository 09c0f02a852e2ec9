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

"""Real host profiles (and variants of them) for the rules tests.

The CPU facts are real: the ``XEON_*`` and ``EPYC_*`` feature lists are the
host CPUs of libvirt's own test data (tests/cputestdata/x86_64-cpuid-*-
host.xml, LGPL-2.1-or-later, libvirt project; copies in tests/fixtures/
hosts/libvirt-cpuid-*) expanded once to explicit feature lists with the CPU
map of libvirt 9.0 (features that CPU map does not know kept as listed).
The ``MILAN_L1_*`` values are the snapshot of one of our own machines (an L1
nested KVM guest on AMD EPYC Milan; tests/fixtures/hosts/
epyc-milan-nested-l1): its host-model require/disable lists, host CPU,
machine types, microcode, kernel, versions and TSC as read there.

What the libvirt test data does not carry (firmware, kernel, microcode of
the Intel hosts, QEMU and libvirt versions) is filled with plausible values
and marked as such; the scenarios vary exactly one thing at a time, so the
tests say which factor decides.
"""

import copy

from migcompat_filter.profile import Profile
from migcompat_filter.profile import Unknown


def _names(text):
    return tuple(sorted(text.split()))


def _cpu(vendor, family, model, stepping, libvirt_model, features):
    return {'vendor': vendor, 'family': family, 'model': model,
            'stepping': stepping, 'libvirt_model': libvirt_model,
            'features': _names(features)}


XEON_9242 = _cpu(
    'Intel', 6, 85, 7, 'Cascadelake-Server-v1', (
        '3dnowprefetch abm acpi adx aes apic arat arch-capabilities avx '
        'avx2 avx512bw avx512cd avx512dq avx512f avx512vl avx512vnni bmi1 '
        'bmi2 clflush clflushopt clwb cmov cmt cx16 cx8 dca de ds ds_cpl '
        'dtes64 erms est f16c fdp-excptn-only flush-l1d fma fpu fsgsbase '
        'fxsr hle ht ibrs-all intel-pt invpcid invtsc lahf_lm lm '
        'mbm_local mbm_total mca mce md-clear mds-no mmx monitor movbe '
        'mpx msr mtrr nx ospke osxsave pae pat pbe pcid pclmuldq pdcm '
        'pdpe1gb pge pku pni popcnt pse pse36 rdctl-no rdrand rdseed '
        'rdtscp rtm sep skip-l1dfl-vmentry smap smep smx spec-ctrl ss '
        'ssbd sse sse2 sse4.1 sse4.2 ssse3 stibp syscall tm tm2 tsc '
        'tsc-deadline tsc_adjust tsx-ctrl vme vmx x2apic xgetbv1 xsave '
        'xsavec xsaveopt xsaves xtpr zero-fcs-fds'))

XEON_4214R = _cpu(
    'Intel', 6, 85, 7, 'Cascadelake-Server-v3', (
        '3dnowprefetch abm acpi adx aes apic arat arch-capabilities avx '
        'avx2 avx512bw avx512cd avx512dq avx512f avx512vl avx512vnni bmi1 '
        'bmi2 clflush clflushopt clwb cmov cmt cx16 cx8 dca de ds ds_cpl '
        'dtes64 erms est f16c fdp-excptn-only flush-l1d fma fpu fsgsbase '
        'fxsr ht ibrs-all intel-pt invpcid invtsc lahf_lm lm mbm_local '
        'mbm_total mca mce md-clear mds-no mmx monitor movbe mpx msr mtrr '
        'nx ospke osxsave pae pat pbe pcid pclmuldq pdcm pdpe1gb pge pku '
        'pni popcnt pschange-mc-no pse pse36 rdctl-no rdrand rdseed '
        'rdtscp rfds-no sep skip-l1dfl-vmentry smap smep smx spec-ctrl ss '
        'ssbd sse sse2 sse4.1 sse4.2 ssse3 stibp syscall tm tm2 tsc '
        'tsc-deadline tsc_adjust tsx-ctrl vme vmx x2apic xgetbv1 xsave '
        'xsavec xsaveopt xsaves xtpr zero-fcs-fds'))

XEON_6148 = _cpu(
    'Intel', 6, 85, 4, 'Skylake-Server-v1', (
        '3dnowprefetch abm acpi adx aes apic arat avx avx2 avx512bw '
        'avx512cd avx512dq avx512f avx512vl bmi1 bmi2 clflush clflushopt '
        'clwb cmov cmt cx16 cx8 dca de ds ds_cpl dtes64 erms est f16c '
        'fdp-excptn-only fma fpu fsgsbase fxsr hle ht intel-pt invpcid '
        'invtsc lahf_lm lm mbm_local mbm_total mca mce mmx monitor movbe '
        'mpx msr mtrr nx osxsave pae pat pbe pcid pclmuldq pdcm pdpe1gb '
        'pge pku pni popcnt pse pse36 rdrand rdseed rdtscp rtm sep smap '
        'smep smx ss sse sse2 sse4.1 sse4.2 ssse3 syscall tm tm2 tsc '
        'tsc-deadline tsc_adjust vme vmx x2apic xgetbv1 xsave xsavec '
        'xsaveopt xsaves xtpr zero-fcs-fds'))

EPYC_7601 = _cpu(
    'AMD', 23, 1, 2, 'EPYC-v1', (
        '3dnowprefetch abm adx aes apic arat avic avx avx2 bmi1 bmi2 '
        'clflush clflushopt clzero cmov cmp_legacy cr8legacy cx16 cx8 de '
        'decodeassists extapic f16c flushbyasid fma fpu fsgsbase fxsr '
        'fxsr_opt ht invtsc lahf_lm lbrv lm mca mce misalignsse mmx '
        'mmxext monitor movbe msr mtrr npt nrip-save nx osvw osxsave '
        'overflow-recov pae pat pause-filter pclmuldq pdpe1gb '
        'perfctr_core perfctr_nb pfthreshold pge pni popcnt pse pse36 '
        'rdrand rdseed rdtscp sep sha-ni skinit smap smep sse sse2 sse4.1 '
        'sse4.2 sse4a ssse3 succor svm svm-lock syscall tce topoext tsc '
        'tsc-scale v-vmsave-vmload vgif vmcb-clean vme wdt xgetbv1 xsave '
        'xsavec xsaveerptr xsaveopt xsaves'))

EPYC_7601_IBPB = _cpu(
    'AMD', 23, 1, 2, 'EPYC-v4', (
        '3dnowprefetch abm adx aes apic arat avic avx avx2 bmi1 bmi2 '
        'clflush clflushopt cmov cmp_legacy cr8legacy cx16 cx8 de '
        'decodeassists extapic f16c flushbyasid fma fpu fsgsbase fxsr '
        'fxsr_opt ht ibpb invtsc lahf_lm lbrv lm mca mce misalignsse mmx '
        'mmxext monitor movbe msr mtrr nx osvw osxsave overflow-recov pae '
        'pat pause-filter pclmuldq pdpe1gb perfctr_nb pfthreshold pge pni '
        'popcnt pse pse36 rdrand rdseed rdtscp sep sha-ni skinit smap '
        'smep sse sse2 sse4.1 sse4.2 sse4a ssse3 succor svm svm-lock '
        'syscall tce topoext tsc tsc-scale v-vmsave-vmload vgif '
        'vmcb-clean vme wdt xgetbv1 xsave xsavec xsaveopt'))

EPYC_7713 = _cpu(
    'AMD', 25, 1, 1, 'EPYC-Milan-v3', (
        '3dnowprefetch abm adx aes amd-ssbd amd-stibp apic arat avx avx2 '
        'bmi1 bmi2 cet-ss clflush clflushopt clwb clzero cmov cmp_legacy '
        'cmt cr8legacy cx16 cx8 de decodeassists erms extapic f16c fma '
        'fpu fsgsbase fsrm fxsr fxsr_opt gmet ht ibpb ibrs ibs invpcid '
        'invtsc lahf_lm lm mbm_local mbm_total mca mce mds-no misalignsse '
        'mmx mmxext monitor movbe msr mtrr npt nrip-save nx ospke osvw '
        'osxsave pae pat pcid pclmuldq pdpe1gb perfctr_core perfctr_nb '
        'pge pku pni popcnt pschange-mc-no pse pse36 rdctl-no rdpid '
        'rdrand rdseed rdtscp sep sha-ni skinit skip-l1dfl-vmentry smap '
        'smep sse sse2 sse4.1 sse4.2 sse4a ssse3 svm svm-lock '
        'svme-addr-chk syscall tce topoext tsc umip vme wbnoinvd wdt '
        'x2apic xgetbv1 xsave xsavec xsaveerptr xsaveopt xsaves'))

EPYC_7502 = _cpu(
    'AMD', 23, 49, 0, 'EPYC-Rome', (
        '3dnowprefetch abm adx aes amd-ssbd amd-stibp apic arat avic avx '
        'avx2 bmi1 bmi2 clflush clflushopt clwb clzero cmov cmp_legacy '
        'cmt cr8legacy cx16 cx8 de decodeassists extapic f16c flushbyasid '
        'fma fpu fsgsbase fxsr fxsr_opt ht ibpb ibrs ibs invtsc lahf_lm '
        'lbrv lm mbm_local mbm_total mca mce mds-no misalignsse mmx '
        'mmxext monitor movbe msr mtrr npt nrip-save nx osvw osxsave pae '
        'pat pause-filter pclmuldq pdpe1gb perfctr_core perfctr_nb '
        'pfthreshold pge pni popcnt pschange-mc-no pse pse36 rdctl-no '
        'rdpid rdrand rdseed rdtscp sep sha-ni skinit skip-l1dfl-vmentry '
        'smap smep sse sse2 sse4.1 sse4.2 sse4a ssse3 svm svm-lock '
        'syscall tce topoext tsc tsc-scale umip v-vmsave-vmload vgif '
        'vmcb-clean vme wbnoinvd wdt xgetbv1 xsave xsavec xsaveerptr '
        'xsaveopt xsaves'))

MILAN_L1_REQUIRE = _names(
    'arch-capabilities cmp_legacy hypervisor invtsc mds-no pschange-mc-no '
    'rdctl-no skip-l1dfl-vmentry tsc-deadline tsc_adjust x2apic')

MILAN_L1_DISABLE = _names(
    'abm adx aes amd-ssbd amd-stibp avx avx2 bmi1 bmi2 erms f16c fma '
    'fsgsbase fsrm ibpb ibrs invpcid movbe npt nrip-save pcid pclmuldq '
    'pdpe1gb perfctr_core pku pni popcnt rdpid rdrand rdseed rdtscp '
    'sha-ni smap smep sse4.1 sse4.2 sse4a ssse3 svm svme-addr-chk '
    'wbnoinvd xgetbv1 xsave xsavec xsaveopt xsaves')

EPYC_MILAN_MODEL = _names(
    '3dnowprefetch abm adx aes amd-ssbd amd-stibp apic arat avx avx2 bmi1 '
    'bmi2 clflush clflushopt clwb clzero cmov cr8legacy cx16 cx8 de erms '
    'f16c fma fpu fsgsbase fsrm fxsr fxsr_opt ibpb ibrs invpcid lahf_lm '
    'lm mca mce misalignsse mmx mmxext movbe msr mtrr npt nrip-save nx '
    'osvw pae pat pcid pclmuldq pdpe1gb perfctr_core pge pku pni popcnt '
    'pse pse36 rdpid rdrand rdseed rdtscp sep sha-ni smap smep sse sse2 '
    'sse4.1 sse4.2 sse4a ssse3 svm svme-addr-chk syscall tsc umip vme '
    'wbnoinvd xgetbv1 xsave xsavec xsaveerptr xsaveopt xsaves')
MILAN_L1_HOST_CPU = _names(
    '3dnowprefetch abm adx aes apic arat avx avx2 bmi1 bmi2 clflush '
    'clflushopt clwb clzero cmov cmp_legacy cr8legacy cx16 cx8 de erms '
    'f16c fma fpu fsgsbase fsrm fxsr fxsr_opt ht hypervisor invpcid '
    'invtsc lahf_lm lm mca mce misalignsse mmx mmxext movbe msr mtrr nx '
    'osvw osxsave pae pat pcid pclmuldq pdpe1gb pge pni popcnt pse pse36 '
    'rdpid rdrand rdseed rdtscp sep sha-ni smap smep sse sse2 sse4.1 '
    'sse4.2 sse4a ssse3 syscall topoext tsc tsc-deadline tsc_adjust umip '
    'vaes vme vpclmulqdq x2apic xgetbv1 xsave xsavec xsaveerptr xsaveopt '
    'xsaves')

QEMU_7_2_MACHINES = _names(
    'isapc microvm pc pc-i440fx-1.4 pc-i440fx-1.5 pc-i440fx-1.6 '
    'pc-i440fx-1.7 pc-i440fx-2.0 pc-i440fx-2.1 pc-i440fx-2.10 '
    'pc-i440fx-2.11 pc-i440fx-2.12 pc-i440fx-2.2 pc-i440fx-2.3 '
    'pc-i440fx-2.4 pc-i440fx-2.5 pc-i440fx-2.6 pc-i440fx-2.7 '
    'pc-i440fx-2.8 pc-i440fx-2.9 pc-i440fx-3.0 pc-i440fx-3.1 '
    'pc-i440fx-4.0 pc-i440fx-4.1 pc-i440fx-4.2 pc-i440fx-5.0 '
    'pc-i440fx-5.1 pc-i440fx-5.2 pc-i440fx-6.0 pc-i440fx-6.1 '
    'pc-i440fx-6.2 pc-i440fx-7.0 pc-i440fx-7.1 pc-i440fx-7.2 pc-q35-2.10 '
    'pc-q35-2.11 pc-q35-2.12 pc-q35-2.4 pc-q35-2.5 pc-q35-2.6 pc-q35-2.7 '
    'pc-q35-2.8 pc-q35-2.9 pc-q35-3.0 pc-q35-3.1 pc-q35-4.0 pc-q35-4.0.1 '
    'pc-q35-4.1 pc-q35-4.2 pc-q35-5.0 pc-q35-5.1 pc-q35-5.2 pc-q35-6.0 '
    'pc-q35-6.1 pc-q35-6.2 pc-q35-7.0 pc-q35-7.1 pc-q35-7.2 q35 x-remote')


# Host CPU features KVM does not pass to guests (monitoring, thermal,
# SMX, tracing): absent from a host-model CPU.
HOST_ONLY = frozenset(
    'acpi cmt dca ds ds_cpl dtes64 est ht intel-pt mbm_local mbm_total '
    'monitor osxsave ospke pbe pdcm smx ss tm tm2 xtpr'.split())
# Features KVM adds to every host-model CPU (seen in the real Rome, Genoa
# and nested Milan host-model CPUs of tests/fixtures/hosts).
KVM_ADDS = frozenset(
    'arch-capabilities hypervisor invtsc mds-no pschange-mc-no rdctl-no '
    'skip-l1dfl-vmentry tsc-deadline tsc_adjust x2apic'.split())

# Named models libvirt 9.0 reports usable on such hosts (plausible).
USABLE = {
    'Cascadelake-Server-v1': ['Cascadelake-Server', 'Skylake-Server',
                              'Skylake-Server-IBRS', 'Broadwell',
                              'Haswell', 'IvyBridge', 'SandyBridge',
                              'Westmere', 'Nehalem'],
    'Cascadelake-Server-v3': ['Cascadelake-Server-noTSX',
                              'Skylake-Server-noTSX-IBRS',
                              'Broadwell-noTSX', 'Haswell-noTSX',
                              'IvyBridge', 'SandyBridge', 'Westmere',
                              'Nehalem'],
    'Skylake-Server-v1': ['Skylake-Server', 'Broadwell', 'Haswell',
                          'IvyBridge', 'SandyBridge', 'Westmere', 'Nehalem'],
    'EPYC-v1': ['EPYC', 'Opteron_G3', 'Opteron_G2', 'Opteron_G1'],
    'EPYC-v4': ['EPYC', 'EPYC-IBPB', 'Opteron_G3', 'Opteron_G2'],
    'EPYC-Rome': ['EPYC-Rome', 'EPYC-IBPB', 'EPYC', 'Opteron_G3'],
    'EPYC-Milan-v3': ['EPYC-Milan', 'EPYC-Rome', 'EPYC-IBPB', 'EPYC',
                      'Opteron_G3'],
}
HOST_MODEL_NAME = {
    'Cascadelake-Server-v1': 'Cascadelake-Server',
    'Cascadelake-Server-v3': 'Cascadelake-Server-noTSX',
    'Skylake-Server-v1': 'Skylake-Server',
    'EPYC-v1': 'EPYC', 'EPYC-v4': 'EPYC-IBPB', 'EPYC-Rome': 'EPYC-Rome',
    'EPYC-Milan-v3': 'EPYC-Milan',
}


def bare_metal(cpu, microcode, tsc_hz, model_name, phys_bits=46,
               firmware_version='2.18.1'):
    """A bare-metal KVM host with ``cpu`` (one of the dicts above).

    Kernel, firmware, QEMU and libvirt values are plausible placeholders
    (Debian 12 with libvirt 9.0 and QEMU 7.2.22 like our own hosts, SMT on,
    TSC scaling on).
    """
    intel = cpu['vendor'] == 'Intel'
    features = set(cpu['features'])
    host_model = sorted((features - HOST_ONLY) | KVM_ADDS)
    return Profile({
        'arch': 'x86_64',
        'cpu_model': {'vendor': cpu['vendor'], 'family': cpu['family'],
                      'model': cpu['model'], 'stepping': cpu['stepping'],
                      'model_name': model_name,
                      'libvirt_model': cpu['libvirt_model']},
        'cpu_features': {'source': 'libvirt',
                         'model': cpu['libvirt_model'],
                         'features': sorted(features)},
        'firmware_version': {'vendor': 'Dell Inc.',
                             'version': firmware_version,
                             'date': '06/13/2023'},
        'firmware_settings': {'smt': 'on', 'threads_per_core': 2,
                              'virtualization': 'vmx' if intel else 'svm'},
        'kernel_version': '6.1.0-28-amd64',
        'kernel_settings': {
            'cmdline': {'intel_iommu' if intel else 'amd_iommu': 'on'},
            'modprobe': {},
            'module_parameters': {
                'kvm_intel' if intel else 'kvm_amd': {'nested': 'Y'}},
            'vulnerabilities': {'mds': 'Not affected'}},
        'microcode_version': microcode,
        'qemu_version': '7.2.22',
        'libvirt_version': '9.0.0',
        'nested_virt': {'nested': False, 'hypervisor': None,
                        'nested_enabled': True},
        'cpu_mode': 'host-model',
        'cpu_models': [],
        'host_model': {'model': HOST_MODEL_NAME[cpu['libvirt_model']],
                       'vendor': cpu['vendor'], 'features': host_model,
                       'disabled': [], 'expanded': True},
        'usable_models': USABLE[cpu['libvirt_model']],
        'tsc': {'frequency': tsc_hz, 'scaling': True},
        'phys_bits': phys_bits,
        'machine_types': list(QEMU_7_2_MACHINES),
    })


def xeon_9242():
    """Cascade Lake Platinum 9242, TSX on."""
    return bare_metal(XEON_9242, '0x5003604', 2300000000,
                      'Intel(R) Xeon(R) Platinum 9242 CPU @ 2.30GHz')


def xeon_4214r():
    """Cascade Lake Silver 4214R: the 9242's signature, TSX off (no
    hle/rtm), a newer microcode. Same TSC as the 9242 so that only the CPU
    differs.
    """
    return bare_metal(XEON_4214R, '0x5003707', 2300000000,
                      'Intel(R) Xeon(R) Silver 4214R CPU @ 2.40GHz')


def xeon_6148():
    """Skylake-SP Gold 6148 (one generation older than Cascade Lake)."""
    return bare_metal(XEON_6148, '0x2007006', 2300000000,
                      'Intel(R) Xeon(R) Gold 6148 CPU @ 2.40GHz')


def epyc_7713():
    """Bare-metal EPYC 7713 (Milan): the CPU the nested host runs on."""
    return bare_metal(EPYC_7713, '0xa0011d1', 2445426000,
                      'AMD EPYC 7713 64-Core Processor', phys_bits=48)


def epyc_7601(ibpb=False):
    """EPYC 7601 (Naples); ibpb=True: after the IBPB microcode update."""
    if ibpb:
        return bare_metal(EPYC_7601_IBPB, '0x8001227', 2200000000,
                          'AMD EPYC 7601 32-Core Processor', phys_bits=48)
    return bare_metal(EPYC_7601, '0x8001206', 2200000000,
                      'AMD EPYC 7601 32-Core Processor', phys_bits=48)


def epyc_7502():
    """EPYC 7502 (Rome)."""
    return bare_metal(EPYC_7502, '0x830107a', 2500000000,
                      'AMD EPYC 7502 32-Core Processor', phys_bits=48)


def milan_l1(expanded=False):
    """Our own L1 nested KVM guest on EPYC Milan, as its snapshot reads.

    expanded=False: its host-model CPU as libvirt 9.0 writes it (EPYC-Milan
    plus require/disable lists); True: the same expanded to a feature list.
    """
    if expanded:
        host_model = {
            'model': 'EPYC-Milan', 'vendor': 'AMD',
            'features': sorted((set(EPYC_MILAN_MODEL) |
                                set(MILAN_L1_REQUIRE)) -
                               set(MILAN_L1_DISABLE)),
            'disabled': sorted(MILAN_L1_DISABLE), 'expanded': True}
    else:
        host_model = {
            'model': 'EPYC-Milan', 'vendor': 'AMD',
            'features': list(MILAN_L1_REQUIRE),
            'disabled': list(MILAN_L1_DISABLE), 'expanded': False}
    no_dmi = Unknown('no DMI data: sys/class/dmi/id/bios_version does not '
                     'exist')
    return Profile({
        'arch': 'x86_64',
        'cpu_model': {'vendor': 'AMD', 'family': 25, 'model': 1,
                      'stepping': 1, 'model_name': 'AMD EPYC',
                      'libvirt_model': 'kvm64'},
        'cpu_features': {'source': 'libvirt', 'model': 'kvm64',
                         'features': list(MILAN_L1_HOST_CPU)},
        'firmware_version': no_dmi,
        'firmware_settings': {'smt': 'notsupported', 'threads_per_core': 1,
                              'virtualization': 'none'},
        'kernel_version': '6.18.44-fc-v595',
        'kernel_settings': {
            'cmdline': {'mitigations': 'auto,no_guest_host,no_guest_guest',
                        'console': 'ttyS0', 'quiet': True, 'reboot': 'k',
                        'panic': '1', 'nomodule': True,
                        'random.trust_cpu': '1', 'swiotlb': 'noforce',
                        'psi': '1'},
            'modprobe': {}, 'module_parameters': {},
            'vulnerabilities': {}},
        'microcode_version': '0x1000065',
        'qemu_version': '7.2.22',
        'libvirt_version': '9.0.0',
        'nested_virt': {'nested': True, 'hypervisor': None,
                        'nested_enabled': False},
        'cpu_mode': 'host-model',
        'cpu_models': [],
        'host_model': host_model,
        'usable_models': ['pentium3', 'pentium2', 'pentium', '486'],
        'tsc': {'frequency': 2445426000, 'scaling': False},
        'phys_bits': 48,
        'machine_types': list(QEMU_7_2_MACHINES),
    })


# -- variants -----------------------------------------------------------------

def variant(profile, **factors):
    """A deep copy of profile with some factors replaced."""
    data = copy.deepcopy(profile.factors)
    data.update(factors)
    return Profile(data)


def edit(profile, factor, **changes):
    """A deep copy with keys of one dict-valued factor changed."""
    value = copy.deepcopy(profile.factors[factor])
    value.update(changes)
    return variant(profile, **{factor: value})


def without_features(profile, *names):
    """The host with some CPU features gone (host CPU and host-model)."""
    out = variant(profile)
    for factor in ('cpu_features', 'host_model'):
        value = out.factors.get(factor)
        if isinstance(value, dict) and isinstance(value.get('features'),
                                                  list):
            value['features'] = [f for f in value['features']
                                 if f not in names]
    return out


def with_tsx_off(profile):
    """The same host booted with tsx=off: hle and rtm vanish."""
    out = without_features(profile, 'hle', 'rtm')
    settings = out.factors['kernel_settings']
    settings['cmdline'] = dict(settings['cmdline'], tsx='off')
    return out
