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

"""Canonical x86 CPU feature names, so that hosts read different ways compare.

The kernel (``/proc/cpuinfo`` flags) and libvirt (CPU map,
capabilities, domain capabilities) spell many features differently. The
libvirt spelling is canonical here, because traits and rules compare
against libvirt's view (host-model, usable models). Plain data plus
:func:`canonical_feature`.
"""

#: Kernel flag -> libvirt feature, where the two spell a feature
#: differently beyond "underscore becomes dash".
KERNEL_TO_LIBVIRT = {
    'pni': 'pni',                      # libvirt keeps the CPUID name for SSE3
    'sse3': 'pni',
    'pclmulqdq': 'pclmuldq',
    'sse4_1': 'sse4.1',
    'sse4_2': 'sse4.2',
    'tsc_deadline_timer': 'tsc-deadline',
    'cr8_legacy': 'cr8legacy',
    'dts': 'ds',                       # CPUID.1:EDX[21] debug store
    'pausefilter': 'pause-filter',
    'tsxldtrk': 'tsx-ldtrk',
    'sgx_lc': 'sgxlc',
    'core_capabilities': 'core-capability',
    'cqm': 'cmt',
    'cqm_mbm_total': 'mbm_total',
    'cqm_mbm_local': 'mbm_local',
    'avx512_vbmi2': 'avx512vbmi2',
    'avx512_vnni': 'avx512vnni',
    'avx512_bitalg': 'avx512bitalg',
    'ibrs_enhanced': 'ibrs-all',
    'autoibrs': 'auto-ibrs',
    # The kernel sets nonstop_tsc exactly when CPUID 0x80000007:EDX[8]
    # (invariant TSC) is set; libvirt calls that bit invtsc.
    'nonstop_tsc': 'invtsc',
    'xsaveerptr': 'xsaveerptr',
    'fsgsbase': 'fsgsbase',
}

#: libvirt's own feature names that contain an underscore: kept as they are
#: (libvirt cpu_map/x86_features.xml).
LIBVIRT_UNDERSCORE_NAMES = frozenset([
    'ds_cpl', 'tsc_adjust', 'mbm_total', 'mbm_local', 'fxsr_opt', 'lahf_lm',
    'cmp_legacy', 'nodeid_msr', 'perfctr_core', 'perfctr_nb',
])

#: Kernel flags that are not CPUID features a guest could be given:
#: synthetic flags the kernel derives (constant_tsc, rep_good, ...),
#: kernel-internal state (pti, retpoline, ...), and VMX capability flags
#: that old kernels list among the flags. Dropped.
KERNEL_SYNTHETIC = frozenset([
    'constant_tsc', 'up', 'art', 'arch_perfmon', 'pebs', 'bts', 'rep_good',
    'acc_power', 'nopl', 'xtopology', 'tsc_reliable', 'nonstop_tsc_s3',
    'cpuid', 'extd_apicid', 'amd_dcm', 'aperfmperf', 'rapl',
    'tsc_known_freq', 'ring3mwait', 'cpuid_fault', 'cpb', 'epb', 'cat_l3',
    'cat_l2', 'cdp_l3', 'cdp_l2', 'invpcid_single', 'hw_pstate',
    'proc_feedback', 'pti', 'kaiser', 'retpoline', 'retpoline_amd',
    'rsb_ctxsw', 'use_ibpb', 'use_ibrs_fw', 'spec_store_bypass_disable',
    'ls_cfg_ssbd', 'zen', 'zen1', 'zen2', 'zen3', 'zen4', 'zen5',
    'l1tf_pteinv', 'mba', 'cqm_llc', 'cqm_occup_llc', 'tpr_shadow',
    'flexpriority', 'ept', 'vpid', 'ept_ad', 'vmmcall', 'xenpv',
    'intel_ppin', 'amd_ppin', 'dtherm', 'ida', 'pln', 'pts', 'hwp',
    'hwp_notify', 'hwp_act_window', 'hwp_epp', 'hwp_pkg_req', 'hfi',
    'sme', 'sev', 'sev_es', 'sev_snp', 'vme_e', 'msr_ia32_feat_ctl',
    'user_shstk', 'fpu_exception', 'total_memory_encryption', 'rdt_a',
    'cdp',
    'xcompacted', 'xsaves_ss', 'ibrs_fw', 'entry_ibpb', 'sbpb_ssb',
    'ibpb_brtype', 'rethunk', 'unret', 'call_depth', 'clear_cpu_buf',
    'bhi_ctrl_use', 'v_spec_ctrl_use',
])


def canonical_feature(name, source='kernel'):
    """Return ``name`` in libvirt spelling, or None to drop it.

    ``source`` is ``'kernel'`` for /proc/cpuinfo flags (renamed and
    synthetic flags dropped) or ``'libvirt'`` for names libvirt wrote
    (already canonical; only lower-cased and stripped).
    """
    name = (name or '').strip().lower()
    if not name:
        return None
    if source == 'libvirt':
        return name
    if name in KERNEL_TO_LIBVIRT:
        return KERNEL_TO_LIBVIRT[name]
    if name in KERNEL_SYNTHETIC:
        return None
    if name in LIBVIRT_UNDERSCORE_NAMES:
        return name
    return name.replace('_', '-')


def canonical_features(names, source='kernel'):
    """Sorted, de-duplicated canonical names of an iterable of features."""
    out = set()
    for name in names:
        canon = canonical_feature(name, source)
        if canon:
            out.add(canon)
    return sorted(out)


#: CPUID vendor string -> libvirt's vendor name (cpu_map/x86_vendors.xml).
VENDORS = {
    'GenuineIntel': 'Intel',
    'AuthenticAMD': 'AMD',
    'HygonGenuine': 'Hygon',
    'CentaurHauls': 'VIA',
    '  Shanghai  ': 'Zhaoxin',
    'Shanghai': 'Zhaoxin',
}


def normalise_vendor(vendor):
    """libvirt's name of a CPUID vendor string (None stays None)."""
    if vendor is None:
        return None
    return VENDORS.get(vendor, VENDORS.get(vendor.strip(), vendor.strip()))
