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

"""Hypervisor factors: QEMU/libvirt versions, nesting, the host-model CPU
libvirt offers, usable models, TSC, phys-bits and machine types.
"""

import re

from migcompat_filter.cpu import features as cpufeatures
from migcompat_filter.factors import base
from migcompat_filter.host.source import CPUINFO
from migcompat_filter.profile import Unknown

#: Features every libvirt x86 CPU model includes: libvirt never lists them
#: on top of a named model, so finding them listed means the list is the
#: complete (expanded) one.
BASE_X86_FEATURES = frozenset(['fpu', 'cx8', 'cmov', 'mmx', 'fxsr', 'sse',
                               'sse2', 'pae', 'msr', 'tsc'])

#: DMI sys_vendor / product_name patterns of virtual machines.
VM_DMI = re.compile(r'qemu|kvm|vmware|virtualbox|innotek|xen|bochs|'
                    r'microsoft corporation|hyper-v|parallels|'
                    r'openstack|amazon ec2|google compute|cloud hypervisor|'
                    r'firecracker', re.I)


def _version(host, key, what):
    versions = host.versions()
    if not versions.get(key):
        raise base.FactorUnknown('%s: does not say the %s version'
                                 % (host.libvirt_origin('version'), what))
    return versions[key]


class QemuVersionFactor(base.Factor):
    def read(self, host):
        version = _version(host, 'qemu', 'QEMU')
        hypervisor = host.versions().get('hypervisor', 'QEMU')
        if hypervisor.upper() != 'QEMU':
            raise base.FactorUnknown('%s: the hypervisor is %s %s, not QEMU'
                                     % (host.libvirt_origin('version'),
                                        hypervisor, version))
        return version


class LibvirtVersionFactor(base.Factor):
    def read(self, host):
        return _version(host, 'libvirt', 'libvirt')


def _dmi_vm(host):
    """(vm description or None, reason) from DMI sys_vendor/product_name."""
    found, errors = [], []
    for name in ('sys_vendor', 'product_name'):
        try:
            found.append(host.dmi(name))
        except base.FactorUnknown as e:
            errors.append(str(e))
    if not found:
        return None, 'no DMI data: %s' % '; '.join(errors)
    text = ' '.join(found)
    return (text if VM_DMI.search(text) else None), None


def _nested_enabled(host):
    errors = []
    for module in ('kvm_intel', 'kvm_amd'):
        path = 'sys/module/%s/parameters/nested' % module
        if not host.exists(path):
            errors.append(path)
            continue
        value = host.read_value(path).upper()
        if value in ('Y', '1'):
            return True
        if value in ('N', '0'):
            return False
        return Unknown('%s: unexpected value %r' % (path, value))
    return Unknown('%s do not exist (neither kvm_intel nor kvm_amd is '
                   'loaded)' % ' and '.join(errors))


class NestedVirtFactor(base.Factor):
    def read(self, host):
        dmi_vm, dmi_error = _dmi_vm(host)
        try:
            flags = set(host.cpuinfo_flags())
        except base.FactorUnknown as e:
            try:
                flags = {f.get('name') for f in
                         host.host_cpu().findall('feature')}
            except base.FactorUnknown as e2:
                flags = None
                flag_error = '%s; %s' % (e, e2)
        if flags is not None:
            nested = 'hypervisor' in flags or dmi_vm is not None
        elif dmi_vm is not None:
            nested = True
        elif dmi_error is None:
            nested = False
        else:
            raise base.FactorUnknown('%s; %s' % (flag_error, dmi_error))
        if not nested:
            hypervisor = None
        elif dmi_vm is not None:
            hypervisor = dmi_vm
        else:
            hypervisor = Unknown(dmi_error or 'DMI does not name a '
                                              'hypervisor')
        return {'nested': nested, 'hypervisor': hypervisor,
                'nested_enabled': _nested_enabled(host)}


def _domcaps_mode(host, name):
    doc = host.libvirt_xml('domcapabilities')
    mode = doc.find("cpu/mode[@name='%s']" % name)
    origin = host.libvirt_origin('domcapabilities')
    if mode is None:
        raise base.FactorUnknown('%s: has no CPU mode %s' % (origin, name))
    if mode.get('supported') != 'yes':
        raise base.FactorUnknown('%s: CPU mode %s is not supported on this '
                                 'host' % (origin, name))
    return mode


class HostModelFactor(base.Factor):
    """The domcaps host-model CPU; without domain capabilities, an
    approximation from the host CPU (see approximate_host_model).
    """

    def read(self, host):
        try:
            mode = _domcaps_mode(host, 'host-model')
        except base.FactorUnknown as e:
            if not _no_domcaps(host):
                raise
            return approximate_host_model(host, e)
        model = (mode.findtext('model') or '').strip() or None
        vendor = mode.findtext('vendor')
        vendor = cpufeatures.normalise_vendor(vendor.strip()) if vendor \
            else None
        listed = [f.get('name') for f in mode.findall('feature')
                  if f.get('policy') in ('require', 'force', None)]
        disabled = [f.get('name') for f in mode.findall('feature')
                    if f.get('policy') in ('disable', 'forbid')]
        listed = cpufeatures.canonical_features(listed, 'libvirt')
        disabled = cpufeatures.canonical_features(disabled, 'libvirt')
        value = {'model': model, 'vendor': vendor, 'disabled': disabled}
        named = None
        named_error = None
        expanded_by = None
        if model:
            cpu = _cpu_element(host, model, vendor)
            try:
                expansion = host.expand_cpu_element(cpu)
            except base.FactorUnknown as e:
                named_error = e
            else:
                if expansion.how == 'qemu':
                    # QEMU's own model lists differ from libvirt's, and
                    # host-model CPUs are libvirt's: not comparable.
                    named_error = base.FactorUnknown(
                        "libvirt's CPU map does not know it, and %s "
                        "lists features differently from libvirt's map"
                        % expansion.detail)
                else:
                    named = set(expansion.features)
                    expanded_by = expansion.how
        if (mode.get('expanded') == 'yes'
                or (named is not None and named <= set(listed))
                or BASE_X86_FEATURES <= set(listed) or not model):
            value.update(features=listed, expanded=True)
            return value
        if named is None:
            value.update(features=listed, expanded=False,
                         note='only the features listed on top of model %s:'
                              ' %s' % (model, named_error))
            return value
        value.update(features=sorted((named | set(listed)) - set(disabled)),
                     expanded=True, expanded_by=expanded_by)
        return value


def _no_domcaps(host):
    """True when the source has no domain capabilities at all (a snapshot
    or profile written without them), not when they say host-model is
    unsupported (that host really offers none).
    """
    try:
        host.libvirt_xml('domcapabilities')
    except base.FactorUnknown:
        return True
    return False


def approximate_host_model(host, why):
    """host-model approximated from the capabilities host CPU: its named
    model expanded (libvirt's CPU map, as for cpu_features) plus its
    listed features, less the features libvirt never gives a migratable
    guest. ``expanded`` and ``approximated`` are true and ``note`` says
    so: better than an unknown, which lets a TSX-on -> tsx=off move
    through. It can list features KVM would not offer (the host-model is
    the host CPU less what KVM cannot virtualise), so a destination so
    approximated can look more capable than it is; the note says that.
    FactorUnknown naming both reasons when the host CPU cannot be read.
    """
    # plain data
    from migcompat_filter.cpu import map_migratable as cpu_map_migratable
    try:
        cpu = host.host_cpu()
        expansion = host.expand_cpu_element(cpu)
    except base.FactorUnknown as e:
        raise base.FactorUnknown('%s; and no host CPU to approximate it '
                                 'from: %s' % (why, e))
    if expansion.how == 'qemu':
        raise base.FactorUnknown(
            "%s; and the host CPU model is not in libvirt's CPU map (%s)"
            % (why, expansion.detail))
    arch = (cpu.findtext('arch') or 'x86_64').strip()
    features = set(cpufeatures.canonical_features(expansion.features,
                                                  'libvirt'))
    features -= cpu_map_migratable.non_migratable(arch)
    if arch in ('x86_64', 'i686'):
        # QEMU sets the CPUID hypervisor bit for every KVM guest, and
        # libvirt's host-model lists it; a bare-metal host CPU has not.
        features.add('hypervisor')
    vendor = cpu.findtext('vendor')
    return {'model': (cpu.findtext('model') or '').strip() or None,
            'vendor': (cpufeatures.normalise_vendor(vendor.strip())
                       if vendor else None),
            'features': sorted(features), 'disabled': [], 'expanded': True,
            'approximated': True, 'expanded_by': expansion.how,
            'note': 'approximated from the host CPU (libvirt capabilities, '
                    'expanded, migratable view) as there are no domain '
                    'capabilities (%s); may list features KVM would not '
                    'offer a guest' % why}


def _cpu_element(host, model, vendor):
    import xml.etree.ElementTree as ET  # building XML only
    cpu = ET.Element('cpu')
    arch = None
    try:
        arch = host.libvirt_xml('domcapabilities').findtext('arch')
    except base.FactorUnknown:
        pass
    ET.SubElement(cpu, 'arch').text = arch or 'x86_64'
    ET.SubElement(cpu, 'model').text = model
    if vendor:
        ET.SubElement(cpu, 'vendor').text = vendor
    return cpu


class UsableModelsFactor(base.Factor):
    def read(self, host):
        mode = _domcaps_mode(host, 'custom')
        return sorted({(m.text or '').strip() for m in mode.findall('model')
                       if m.get('usable') == 'yes' and (m.text or '').strip()})


class TscFactor(base.Factor):
    def read(self, host):
        counter = host.host_cpu().find("counter[@name='tsc']")
        if counter is None or not counter.get('frequency'):
            raise base.FactorUnknown(
                '%s: host CPU has no <counter name="tsc" frequency=>'
                % host.libvirt_origin('capabilities'))
        # A TSC runs at some MHz to a few GHz: zero, negative or absurd
        # values are impossible, not "another frequency".
        freq = base.bounded_int(
            counter.get('frequency'),
            '%s: TSC frequency' % host.libvirt_origin('capabilities'),
            kind='tsc_hz')
        scaling = {'yes': True, 'no': False}.get(counter.get('scaling'))
        return {'frequency': freq, 'scaling': scaling}


class PhysBitsFactor(base.Factor):
    """Physical address bits: libvirt's <maxphysaddr>, else cpuinfo's
    "address sizes"; 1..64 or unknown (an impossible value names its
    file).
    """

    def read(self, host):
        caps = host.libvirt_origin('capabilities')
        try:
            el = host.host_cpu().find('maxphysaddr')
        except base.FactorUnknown as e:
            el, caps_error = None, str(e)
        else:
            caps_error = 'capabilities host CPU has no <maxphysaddr bits=>'
        if el is not None and el.get('bits'):
            # An impossible value is unknown, not a reason to trust the
            # other file of a snapshot that is inconsistent.
            return base.bounded_int(el.get('bits'),
                                    '%s: maxphysaddr bits' % caps,
                                    kind='phys_bits')
        try:
            info = host.cpuinfo()
        except base.FactorUnknown as e:
            raise base.FactorUnknown('%s; %s' % (caps_error, e))
        m = re.match(r'\s*(\d+) bits physical', info.get('address sizes', ''))
        if not m:
            raise base.FactorUnknown('%s; %s has no "address sizes"'
                                     % (caps_error, CPUINFO))
        return base.bounded_int(m.group(1), '%s: "address sizes"' % CPUINFO,
                                kind='phys_bits')


class MachineTypesFactor(base.Factor):
    def read(self, host):
        caps = host.libvirt_xml('capabilities')
        origin = host.libvirt_origin('capabilities')
        arch = caps.findtext('host/cpu/arch')
        names = set()
        for guest in caps.findall('guest'):
            arch_el = guest.find('arch')
            if arch_el is None or (arch and arch_el.get('name') != arch):
                continue
            kvm = arch_el.find("domain[@type='kvm']")
            machines = []
            if kvm is not None:
                machines = kvm.findall('machine')
            if not machines:
                machines = arch_el.findall('machine')
            for m in machines:
                for name in ((m.text or '').strip(), m.get('canonical')):
                    if name:
                        names.add(name)
        if not names:
            raise base.FactorUnknown('%s: lists no machine types for %s '
                                     'guests' % (origin, arch or 'host'))
        return sorted(names)
