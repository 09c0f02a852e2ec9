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

"""The factor catalogue: one row per factor, and nothing else to keep in step.

Plain data in the spirit of os-traits: every list that is keyed by a factor
name elsewhere (the profile schema, the trait codes and codecs, the
similarity weights, the host-passthrough "identical" factors and the help
of ``passthrough_blocking_factors``, the files a snapshot captures, the
cosmetic sub-keys ignored for identity) is derived from these rows. The
module imports nothing heavier than stevedore, so nova-scheduler can read
it without libvirt or defusedxml.

A factor is three touches: its row here (or, for a third party, a row
registered in the ``migcompat.catalogue`` entry-point namespace), its reader
(``migcompat.factors``) and its rule (``migcompat.rules``), or ``no_rule``
saying why it has none. ``tests/unit/test_catalogue.py`` fails when the
three disagree.
"""

import collections
from collections import abc
import logging

LOG = logging.getLogger(__name__)

#: Codec kinds (migcompat_filter.traits.codec): a text value, an int, any JSON
#: value, or a dict whose ``feature_fields`` are sets of CPU feature names.
TEXT = 'text'
INT = 'int'
JSON = 'json'
FEATURES = 'features'

#: Entry-point namespaces: readers, rules, and third-party catalogue rows.
FACTOR_NAMESPACE = 'migcompat.factors'
RULE_NAMESPACE = 'migcompat.rules'
CATALOGUE_NAMESPACE = 'migcompat.catalogue'

#: Kernel parameters that change what the CPU offers to guests or how KVM
#: runs them (names with '-' read as '_', as the kernel does): the ones
#: factors.kernel keeps from the command line, and the names trait schema 2
#: spells plainly. Append only: a name's trait spelling never changes.
CPU_KERNEL_PARAMETERS = (
    'tsx', 'l1tf', 'nosmt', 'mitigations', 'spectre_v1', 'spectre_v2',
    'spectre_v2_user', 'spectre_bhi', 'spec_store_bypass_disable',
    'spec_rstack_overflow', 'clearcpuid', 'mds', 'tsx_async_abort',
    'retbleed', 'srbds', 'mmio_stale_data', 'gather_data_sampling',
    'reg_file_data_sampling', 'indirect_target_selection', 'l1d_flush',
    'nospectre_v1', 'nospectre_v2', 'nospec_store_bypass_disable',
    'nopti', 'pti', 'nopku', 'nox2apic', 'x2apic_phys', 'nopcid',
    'noinvpcid', 'nosgx', 'no5lvl', 'nofsgsbase', 'tsc', 'nosmap',
    'nosmep', 'noexec', 'mce', 'intel_iommu', 'amd_iommu', 'iommu')

#: sysfs module parameters read from /sys/module/kvm*/parameters: the ones
#: that change what a guest sees or whether it can migrate (not tuning
#: knobs such as halt polling).
KVM_MODULE_PARAMETERS = (
    'nested', 'enable_pmu', 'ignore_msrs', 'report_ignored_msrs',
    'nx_huge_pages', 'tdp_mmu', 'mitigate_smt_rsb', 'enable_vmware_backdoor',
    'force_emulation_prefix',
    # kvm_intel
    'ept', 'unrestricted_guest', 'enable_apicv', 'enable_shadow_vmcs',
    'enable_ipiv', 'pt_mode', 'vpid', 'flexpriority', 'pml',
    'preemption_timer', 'allow_smaller_maxphyaddr', 'enlightened_vmcs',
    'vnmi', 'sgx', 'enable_unrestricted_guest',
    # kvm_amd
    'npt', 'avic', 'vls', 'vgif', 'lbrv', 'nrips', 'sev', 'sev_es',
    'sev_snp', 'tsc_scaling', 'intercept_smee',
)

_FIELDS = ('name', 'description', 'schema', 'trait_code', 'codec',
           'feature_fields', 'similarity', 'passthrough_identical',
           'identity_ignore', 'snapshot_files', 'no_rule', 'per_host',
           'per_host_fields')


class FactorRow(collections.namedtuple('FactorRow', _FIELDS)):
    """One factor.

    name: the profile key (and entry-point name of its reader and rule).
    description: one line, for ``migcompat factor list`` and the docs.
    schema: the shape of its value, in words.
    trait_code: letters, unique, never reused; None for a third-party
      factor (it then gets the plugin code, see migcompat_filter.traits.codec).
    codec: TEXT, INT, JSON or FEATURES (with feature_fields).
    similarity: weight in the similarity score (0: not weighed).
    passthrough_identical: host-passthrough recommends it identical
      (a difference warns, or blocks when named in
      passthrough_blocking_factors).
    identity_ignore: sub-keys that restate another part in another form
      (cosmetic), left out when two values are compared for identity.
    snapshot_files: host paths its reader needs, as a snapshot stores
      them: a path, a pattern with ``*`` in a component, or a directory
      ending in ``/`` that a snapshot creates even when empty (an empty
      one says "nothing there", a missing one "not captured").
    no_rule: None when a rule in migcompat.rules judges the factor; else
      why none does.
    per_host: the value belongs to this one host and changes while it
      runs (its running guests), so its traits are left out of the digest
      and of the key that groups identical hosts: guests starting and
      stopping never split a group. The scheduler reads it from the
      source's own traits on each request.
    per_host_fields: fields of a dict value that belong to this one host
      and differ between otherwise identical hosts (the TSC frequency the
      kernel calibrates at each boot). They are published in traits of
      their own, left out of the digest and of the group key like a
      per_host factor, and blanked in a group's shared profile; a rule
      that needs one reads it from that host's own traits, and treats it
      as unknown when absent.
    """

    __slots__ = ()


def row(name, description, schema, trait_code=None, codec=JSON,
        feature_fields=(), similarity=0.0, passthrough_identical=False,
        identity_ignore=(), snapshot_files=(), no_rule=None,
        per_host=False, per_host_fields=()):
    """A FactorRow with the defaults a third-party factor would want."""
    return FactorRow(name, description, schema, trait_code, codec,
                     tuple(feature_fields), float(similarity),
                     bool(passthrough_identical), tuple(identity_ignore),
                     tuple(snapshot_files), no_rule, bool(per_host),
                     tuple(per_host_fields))


_CAPS = 'libvirt/capabilities.xml'
_DOMCAPS = 'libvirt/domcapabilities.xml'
_VERSION = 'libvirt/version.txt'
_CPUINFO = 'proc/cpuinfo'
_DMI = 'sys/class/dmi/id/'
#: The running guests' live XML, cut down (migcompat_filter.host.snapshot).
_DOMAINS = 'libvirt/domains/'

#: The built-in factors, in the order ``migcompat factor list`` lists them.
BUILTIN = (
    row('arch',
        'CPU architecture (libvirt capabilities, else cpuinfo)',
        'str: CPU architecture, e.g. "x86_64"',
        trait_code='ARCH', codec=TEXT,
        snapshot_files=(_CAPS, _CPUINFO)),
    row('cpu_model',
        'physical CPU: vendor, family/model/stepping, model name, libvirt '
        'model',
        'dict: vendor ("Intel", "AMD", ...), family, model, stepping '
        '(ints), model_name (the /proc/cpuinfo string), libvirt_model '
        '(the model libvirt names the host CPU with); on aarch64 also '
        'implementer, part, variant, revision (the MIDR fields, ints; '
        'family = implementer, model = part, stepping = variant * 16 + '
        'revision)',
        trait_code='CPU', codec=JSON, similarity=3.0,
        passthrough_identical=True,
        identity_ignore=('libvirt_model', 'model_name'),
        snapshot_files=(_CAPS, _CPUINFO)),
    row('cpu_features',
        'host CPU features in libvirt spelling (cpuinfo flags, else libvirt '
        'capabilities expanded with the CPU map or QEMU\'s model '
        'definitions)',
        'dict: source ("cpuinfo", "libvirt", "qemu" or '
        '"libvirt-unexpanded"), model (libvirt model name or null), '
        'features (sorted feature names in libvirt spelling; with '
        '"libvirt-unexpanded" only the features beyond the named model, '
        'and note: why the model could not be expanded), expanded_by '
        '(when a named model was expanded: "libvirt" for libvirt\'s CPU '
        'map, "libvirt+qemu" for libvirt\'s base model plus the changes '
        'the local QEMU defines for a model version the map does not '
        'know (both give source "libvirt"), "qemu" for the local QEMU\'s '
        'own model definition (source "qemu": QEMU\'s model lists differ '
        'from libvirt\'s in places); note says how)',
        trait_code='FEAT', codec=FEATURES, feature_fields=('features',),
        similarity=3.0, snapshot_files=(_CAPS, _CPUINFO)),
    row('microcode_version',
        'microcode revision (cpuinfo, else libvirt capabilities)',
        'str: microcode revision as /proc/cpuinfo shows it, e.g. '
        '"0x1000065"',
        trait_code='UCODE', codec=TEXT, similarity=2.0,
        passthrough_identical=True, snapshot_files=(_CPUINFO, _CAPS)),
    row('firmware_version',
        'firmware (BIOS) vendor, version and date from DMI',
        'dict: vendor, version, date (DMI bios_* strings)',
        trait_code='FWVER', codec=JSON, similarity=1.0,
        passthrough_identical=True,
        snapshot_files=(_DMI + 'bios_vendor', _DMI + 'bios_version',
                        _DMI + 'bios_date')),
    row('firmware_settings',
        'firmware settings: SMT control, threads per core, VT-x/AMD-V '
        'exposed',
        'dict: smt (sysfs smt/control: on, off, forceoff, notsupported, '
        'notimplemented), threads_per_core (int), virtualization ("vmx", '
        '"svm" or "none": whether the firmware exposes VT-x/AMD-V)',
        trait_code='FWSET', codec=JSON, similarity=1.0,
        passthrough_identical=True,
        snapshot_files=('sys/devices/system/cpu/smt/control', _CAPS,
                        _CPUINFO)),
    row('kernel_version',
        'running kernel release (uname -r)',
        'str: the running kernel release (uname -r)',
        trait_code='KVER', codec=TEXT, similarity=1.0,
        passthrough_identical=True,
        snapshot_files=('proc/sys/kernel/osrelease',)),
    row('kernel_settings',
        'CPU/virtualization kernel settings: command line, modprobe.d and '
        'sysfs kvm parameters, vulnerabilities',
        'dict: cmdline (the CPU-relevant kernel parameters: name -> value, '
        'true for a bare flag), modprobe (module -> option -> value from '
        '/etc/modprobe.d), module_parameters (module -> parameter -> value '
        'from /sys/module/kvm*/parameters), vulnerabilities (name -> text)',
        trait_code='KSET', codec=JSON, similarity=1.0,
        passthrough_identical=True,
        snapshot_files=(
            ('proc/cmdline', 'sys/devices/system/cpu/vulnerabilities/*',
             'etc/modprobe.d/', 'etc/modprobe.d/*.conf', 'sys/module/') +
            tuple('sys/module/kvm*/parameters/' + p
                  for p in KVM_MODULE_PARAMETERS))),
    row('qemu_version',
        'QEMU version (virsh version "Running hypervisor")',
        'str: e.g. "7.2.22"',
        trait_code='QEMU', codec=TEXT, similarity=2.0,
        passthrough_identical=True, snapshot_files=(_VERSION,)),
    row('libvirt_version',
        'libvirt version (virsh version "Using library")',
        'str: e.g. "9.0.0"',
        trait_code='LIBVIRT', codec=TEXT, similarity=2.0,
        passthrough_identical=True, snapshot_files=(_VERSION,)),
    row('nested_virt',
        'nested virtualization: is this host a VM, on what, and does its '
        'KVM offer nesting',
        'dict: nested (bool: this host is itself a virtual machine), '
        'hypervisor (str or null: what it runs on, from DMI), '
        'nested_enabled (bool: KVM offers nested virtualization to guests)',
        trait_code='NESTED', codec=JSON, similarity=1.0,
        passthrough_identical=True,
        snapshot_files=(_CPUINFO, _DMI + 'sys_vendor', _DMI + 'product_name',
                        'sys/module/kvm*/parameters/nested')),
    row('host_model',
        'the host-model CPU libvirt offers guests, expanded to an explicit '
        'feature list',
        'dict: model, vendor, features (sorted enabled features of the '
        'host-model CPU, libvirt spelling), disabled (sorted), expanded '
        '(bool: features is the complete list, not only the require list '
        'on top of the named model; when false, note says why), '
        'expanded_by (present when migcompat expanded the named model: '
        '"libvirt" or "libvirt+qemu" as for cpu_features), approximated '
        '(present and true when there were no domain capabilities and '
        'the value is the host CPU expanded, in the migratable view; '
        'note says so)',
        trait_code='HOSTMODEL', codec=FEATURES,
        feature_fields=('features', 'disabled'), similarity=3.0,
        snapshot_files=(_DOMCAPS,)),
    row('usable_models',
        'named CPU models libvirt reports usable on this host',
        'list: named CPU models libvirt reports usable',
        trait_code='USABLE', codec=JSON, snapshot_files=(_DOMCAPS,)),
    row('tsc',
        'TSC frequency and whether it can be scaled',
        'dict: frequency (int Hz), scaling (bool or null)',
        trait_code='TSC', codec=JSON, similarity=1.0,
        snapshot_files=(_CAPS,), per_host_fields=('frequency',)),
    row('phys_bits',
        'physical address bits (libvirt, else cpuinfo)',
        'int: physical address bits',
        trait_code='PHYSBITS', codec=INT, similarity=1.0,
        passthrough_identical=True, snapshot_files=(_CAPS, _CPUINFO)),
    row('machine_types',
        'QEMU machine types for KVM guests (with aliases)',
        'list: QEMU machine types (kvm domain, with aliases)',
        trait_code='MACHINES', codec=JSON, similarity=1.0,
        snapshot_files=(_CAPS,)),
    row('cpu_mode',
        'nova [libvirt] cpu_mode (guest CPU mode)',
        'str: nova [libvirt] cpu_mode: host-model, host-passthrough, '
        'custom or none',
        trait_code='MODE', codec=TEXT, snapshot_files=('nova/cpu_mode',),
        no_rule='it chooses which rules apply (the guest CPU mode)'),
    row('cpu_models',
        'nova [libvirt] cpu_models (custom mode models)',
        'list: nova [libvirt] cpu_models (custom mode)',
        trait_code='MODELS', codec=JSON,
        snapshot_files=('nova/cpu_models', 'nova/cpu_mode'),
        no_rule='it names the guest models the usable_models rule checks'),
    row('running_guests',
        'what the running guests need from any destination (live domain '
        'XML of every active guest)',
        'dict: count (int), modes (nova mode -> count), '
        'host_model_features and custom_features (sorted union of the '
        'features the host-model / custom guests run with, migratable '
        'view), unexpanded (sorted models that could not be expanded), '
        'machine_types (sorted, e.g. "pc-q35-7.2"), invtsc_frequencies '
        '(sorted pinned TSC Hz of invtsc guests), invtsc_unpinned (int: '
        'invtsc guests without a pinned frequency, which QEMU refuses to '
        'migrate), phys_bits (sorted guest maxphysaddr bits), '
        'passthrough_extra (sorted features added to host-passthrough '
        'guests); only when a guest\'s XML cannot be read, unjudged '
        '(count and the first reasons, each naming the guest\'s file)',
        trait_code='GUESTS', codec=FEATURES,
        feature_fields=('host_model_features', 'custom_features'),
        snapshot_files=(_DOMAINS, _DOMAINS + '*.xml',
                        _DOMAINS + 'unjudged-*.txt'), per_host=True),
)

_LOADED = None


def _plugin_rows():
    """Rows that installed distributions register (migcompat.catalogue).

    A broken or misnamed row is logged and left out; its reader still
    shows the factor (as a plugin factor without a row).
    """
    from stevedore import extension  # deferred: only when rows are read

    def failed(_manager, entrypoint, exc):
        LOG.warning('catalogue row %s (%s) cannot be loaded: %s',
                    entrypoint.name, entrypoint.value, exc)

    mgr = extension.ExtensionManager(CATALOGUE_NAMESPACE,
                                     on_load_failure_callback=failed)
    found = []
    for ext in mgr:
        if isinstance(ext.plugin, FactorRow) and ext.plugin.name == ext.name:
            found.append(ext.plugin)
        else:
            LOG.warning('catalogue entry point %s is not a FactorRow named '
                        '%s; ignored', ext.name, ext.name)
    return found


def rows():
    """Every row: the built-in ones, then installed third-party ones."""
    global _LOADED
    if _LOADED is None:
        builtin = {r.name for r in BUILTIN}
        _LOADED = BUILTIN + tuple(
            sorted((r for r in _plugin_rows() if r.name not in builtin),
                   key=lambda r: r.name))
    return _LOADED


_BUILTIN_BY_NAME = {r.name: r for r in BUILTIN}


def get(name):
    """The row of a factor, or None.

    A built-in name is answered without loading the third-party rows
    (a built-in row always wins over a row of the same name).
    """
    if name in _BUILTIN_BY_NAME:
        return _BUILTIN_BY_NAME[name]
    for r in rows():
        if r.name == name:
            return r
    return None


def names():
    return tuple(r.name for r in rows())


def schema():
    """factor -> the shape of its value (profile.FACTOR_SCHEMA)."""
    return {r.name: r.schema for r in rows()}


def similarity_weights():
    """factor -> weight, for the factors the similarity score weighs."""
    return {r.name: r.similarity for r in rows() if r.similarity}


def passthrough_identical():
    """The factors host-passthrough recommends identical, in row order."""
    return tuple(r.name for r in rows() if r.passthrough_identical)


def per_host():
    """The names of the per-host factors (FactorRow.per_host)."""
    return frozenset(r.name for r in rows() if r.per_host)


def per_host_fields():
    """factor -> its per-host fields (FactorRow.per_host_fields), for the
    factors that have some.
    """
    return {r.name: r.per_host_fields for r in rows() if r.per_host_fields}


def identity_ignore(name=None):
    """The cosmetic sub-keys of a factor; without a name, factor -> keys
    for every factor that has some.
    """
    if name is None:
        return {r.name: r.identity_ignore for r in rows()
                if r.identity_ignore}
    r = get(name)
    return r.identity_ignore if r else ()


def snapshot_files():
    """Every path a snapshot captures, in a stable order, once each."""
    seen = []
    for r in rows():
        for path in r.snapshot_files:
            if path not in seen:
                seen.append(path)
    return tuple(seen)


class Derived(abc.Mapping):
    """A read-only mapping computed from the rows, e.g.
    ``FACTOR_SCHEMA = catalogue.Derived(catalogue.schema)``.

    Computed on first use, not at import time (third-party rows come from
    installed distributions).
    """

    def __init__(self, compute):
        self._compute = compute
        self._rows = None
        self._value = {}

    def _current(self):
        current = rows()
        if current is not self._rows:
            self._value = dict(self._compute())
            self._rows = current
        return self._value

    def __getitem__(self, key):
        return self._current()[key]

    # The mixin methods would look the rows up once per key; the scheduler
    # reads these for every host it weighs.
    def get(self, key, default=None):
        return self._current().get(key, default)

    def __contains__(self, key):
        return key in self._current()

    def keys(self):
        return self._current().keys()

    def items(self):
        return self._current().items()

    def values(self):
        return self._current().values()

    def __iter__(self):
        return iter(self._current())

    def __len__(self):
        return len(self._current())

    def __repr__(self):
        return 'Derived(%r)' % (self._current(),)
