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

"""The CPU feature catalogue of the ``features`` trait payload.

Feature names (libvirt spelling) with a bit each in the feature bitmap
(see migcompat_filter.traits.payloads). Plain data, APPEND ONLY: a position
never changes meaning, so traits written by an older migcompat keep
decoding.
"""

#: Feature names (libvirt spelling) with a bit each in the feature bitmap.
#: Plain data, APPEND ONLY: a position never changes meaning. Version 1 is
#: libvirt 9.0's cpu_map/x86_features.xml in file order, then (sorted) the
#: features newer libvirt names in real host dumps. To add features, append
#: them and add a new CATALOGUE_SIZES entry; old traits keep decoding.
FEATURE_CATALOGUE = (
    'fpu', 'vme', 'de', 'pse', 'tsc', 'msr', 'pae', 'mce', 'cx8', 'apic',
    'sep', 'mtrr', 'pge', 'mca', 'cmov', 'pat', 'pse36', 'pn', 'clflush',
    'ds', 'acpi', 'mmx', 'fxsr', 'sse', 'sse2', 'ss', 'ht', 'tm', 'ia64',
    'pbe', 'pni', 'pclmuldq', 'dtes64', 'monitor', 'ds_cpl', 'vmx', 'smx',
    'est', 'tm2', 'ssse3', 'cid', 'fma', 'cx16', 'xtpr', 'pdcm', 'pcid',
    'dca', 'sse4.1', 'sse4.2', 'x2apic', 'movbe', 'popcnt', 'tsc-deadline',
    'aes', 'xsave', 'osxsave', 'avx', 'f16c', 'rdrand', 'hypervisor', 'arat',
    'fsgsbase', 'tsc_adjust', 'sgx', 'bmi1', 'hle', 'avx2', 'smep', 'bmi2',
    'erms', 'invpcid', 'rtm', 'cmt', 'mpx', 'avx512f', 'avx512dq', 'rdseed',
    'adx', 'smap', 'avx512ifma', 'pcommit', 'clflushopt', 'clwb', 'intel-pt',
    'avx512pf', 'avx512er', 'avx512cd', 'sha-ni', 'avx512bw', 'avx512vl',
    'avx512vbmi', 'umip', 'pku', 'ospke', 'waitpkg', 'avx512vbmi2', 'gfni',
    'vaes', 'vpclmulqdq', 'avx512vnni', 'avx512bitalg', 'avx512-vpopcntdq',
    'la57', 'rdpid', 'bus-lock-detect', 'cldemote', 'movdiri', 'movdir64b',
    'sgxlc', 'pks', 'avx512-4vnniw', 'avx512-4fmaps', 'fsrm',
    'avx512-vp2intersect', 'md-clear', 'serialize', 'tsx-ldtrk', 'pconfig',
    'arch-lbr', 'amx-bf16', 'avx512-fp16', 'amx-tile', 'amx-int8',
    'spec-ctrl', 'stibp', 'arch-capabilities', 'core-capability', 'ssbd',
    'avx-vnni', 'avx512-bf16', 'xsaveopt', 'xsavec', 'xgetbv1', 'xsaves',
    'xfd', 'mbm_total', 'mbm_local', 'sgx1', 'sgx2', 'sgx-exinfo',
    'sgx-debug', 'sgx-mode64', 'sgx-provisionkey', 'sgx-tokenkey', 'sgx-kss',
    'intel-pt-lip', 'syscall', 'nx', 'mmxext', 'fxsr_opt', 'pdpe1gb',
    'rdtscp', 'lm', '3dnowext', '3dnow', 'lahf_lm', 'cmp_legacy', 'svm',
    'extapic', 'cr8legacy', 'abm', 'sse4a', 'misalignsse', '3dnowprefetch',
    'osvw', 'ibs', 'xop', 'skinit', 'wdt', 'lwp', 'fma4', 'tce', 'cvt16',
    'nodeid_msr', 'tbm', 'topoext', 'perfctr_core', 'perfctr_nb', 'invtsc',
    'clzero', 'xsaveerptr', 'wbnoinvd', 'ibpb', 'ibrs', 'amd-stibp',
    'amd-ssbd', 'virt-ssbd', 'amd-no-ssb', 'npt', 'lbrv', 'svm-lock',
    'nrip-save', 'tsc-scale', 'vmcb-clean', 'flushbyasid', 'decodeassists',
    'pause-filter', 'pfthreshold', 'avic', 'v-vmsave-vmload', 'vgif',
    'svme-addr-chk', 'rdctl-no', 'ibrs-all', 'rsba', 'skip-l1dfl-vmentry',
    'ssb-no', 'mds-no', 'pschange-mc-no', 'tsx-ctrl', 'taa-no',
    'split-lock-detect', 'ace2', 'amd-psfd', 'amx-fp16', 'auto-ibrs',
    'avx-ifma', 'avx-ne-convert', 'avx-vnni-int16', 'avx-vnni-int8', 'avx10',
    'avx10-128', 'avx10-256', 'avx10-512', 'bhi-ctrl', 'bhi-no', 'cet-ss',
    'cmpccxadd', 'ddpd-u', 'eraps', 'fbsdp-no', 'fdp-excptn-only',
    'flush-l1d', 'fs-gs-base-ns', 'fsrc', 'fsrs', 'fzrm', 'gds-no', 'gmet',
    'ibpb-brtype', 'intel-psfd', 'ipred-ctrl', 'lam',
    'lfence-always-serializing', 'mcdt-no', 'no-nested-data-bp',
    'null-sel-clr-base', 'overflow-recov', 'pbrsb-no', 'perfmon-v2', 'phe',
    'phe-en', 'pmm', 'pmm-en', 'prefetchi', 'prefetchiti', 'psdp-no',
    'rfds-no', 'rrsba-ctrl', 'sbdr-ssdp-no', 'sbpb', 'sha512', 'sm3', 'sm4',
    'srso-user-kernel-no', 'stibp-always-on', 'succor', 'vmx-any-errcode',
    'vmx-cr3-load-noexit', 'vmx-entry-noload-debugctl',
    'vmx-exit-nosave-debugctl', 'vmx-invept-all-context',
    'vmx-invept-single-context', 'vmx-invlpg-exit', 'vmx-mwait-exit',
    'vmx-nested-exception', 'vmx-rdpmc-exit', 'vmx-rdtsc-exit', 'vnmi',
    'xcrypt', 'xcrypt-en', 'xstore', 'xstore-en', 'zero-fcs-fds',
)

#: catalogue version -> how many leading FEATURE_CATALOGUE names it covers.
CATALOGUE_SIZES = {1: 284}
CATALOGUE_VERSION = max(CATALOGUE_SIZES)
