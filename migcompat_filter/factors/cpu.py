"""CPU factors: architecture, model, features, microcode.

/proc/cpuinfo is the first choice (what the kernel sees); libvirt's host
capabilities are the fallback (and the only source of libvirt's model
name). Shared helpers for the other factor modules live here too.
"""

import re
import xml.etree.ElementTree as ET  # building XML only

from migcompat_filter import cpufeatures
from migcompat_filter.factors import base
from migcompat_filter.profile import Unknown

CPUINFO = 'proc/cpuinfo'

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
    if vendor is None:
        return None
    return VENDORS.get(vendor, VENDORS.get(vendor.strip(), vendor.strip()))


def cpuinfo(host):
    """First processor block of /proc/cpuinfo as {key: value} (cached)."""
    return host.cached(('cpuinfo',), lambda: _parse_cpuinfo(host))


def _parse_cpuinfo(host):
    fields = {}
    for line in host.read_text(CPUINFO).splitlines():
        if not line.strip():
            if fields:
                break
            continue
        name, sep, value = line.partition(':')
        if sep:
            fields.setdefault(name.strip(), value.strip())
    if not fields:
        raise base.FactorUnknown('%s: is empty' % CPUINFO)
    return fields


def cpuinfo_flags(host):
    """Kernel CPU flags (raw names) or FactorUnknown."""
    info = cpuinfo(host)
    flags = info.get('flags')
    if flags is None:
        raise base.FactorUnknown('%s: has no "flags" line' % CPUINFO)
    return flags.split()


def host_cpu(host):
    """The <cpu> element of libvirt capabilities' <host>."""
    caps = host.libvirt_xml('capabilities')
    cpu = caps.find('host/cpu')
    if cpu is None:
        raise base.FactorUnknown('%s: has no <host><cpu> element'
                                 % host.libvirt_origin('capabilities'))
    return cpu


def _int(text, what):
    try:
        return int(str(text).strip(), 0)
    except (TypeError, ValueError):
        raise base.FactorUnknown('%s: %r is not an integer' % (what, text))


def expand_named_cpu(host, cpu):
    """Expand a libvirt <cpu> (model + extra features) into all features.

    Returns the :class:`migcompat_filter.hostsource.Expansion` of
    ``host.expand_cpu``: libvirt's CPU map first, then the local QEMU's
    model definitions for models the map does not know; its ``how`` says
    which. FactorUnknown when neither can expand it.
    """
    spec = ET.Element('cpu')
    for tag in ('arch', 'model', 'vendor'):
        for child in cpu.findall(tag):
            ET.SubElement(spec, tag).text = (child.text or '').strip()
    for f in cpu.findall('feature'):
        if f.get('policy', 'require') == 'require' and f.get('name'):
            ET.SubElement(spec, 'feature', name=f.get('name'))
    return host.expand_cpu(ET.tostring(spec, encoding='unicode'))


class ArchFactor(base.Factor):
    def read(self, host):
        try:
            arch = host_cpu(host).findtext('arch')
            if arch:
                return arch.strip()
        except base.FactorUnknown as e:
            libvirt_error = e
        else:
            libvirt_error = base.FactorUnknown(
                'capabilities host CPU has no <arch>')
        try:
            info = cpuinfo(host)
        except base.FactorUnknown as e:
            raise base.FactorUnknown('%s; %s' % (libvirt_error, e))
        if 'vendor_id' in info and 'flags' in info:
            return 'x86_64' if 'lm' in info['flags'].split() else 'i686'
        raise base.FactorUnknown(
            '%s; %s does not say the architecture' % (libvirt_error,
                                                      CPUINFO))


class CpuModelFactor(base.Factor):
    def read(self, host):
        try:
            cpu = host_cpu(host)
        except base.FactorUnknown as e:
            cpu, cpu_error = None, e
        try:
            info = cpuinfo(host)
        except base.FactorUnknown as e:
            info, info_error = None, e
        if cpu is None and info is None:
            raise base.FactorUnknown('%s; %s' % (info_error, cpu_error))
        value = {}
        if cpu is not None:
            model = cpu.findtext('model')
            value['libvirt_model'] = (
                model.strip() if model else
                Unknown('capabilities host CPU has no <model>'))
        else:
            value['libvirt_model'] = Unknown(str(cpu_error))
        if info is not None and 'vendor_id' in info:
            value['vendor'] = normalise_vendor(info['vendor_id'])
            for key, name in (('family', 'cpu family'), ('model', 'model'),
                              ('stepping', 'stepping')):
                try:
                    value[key] = _int(info.get(name), '%s "%s"'
                                      % (CPUINFO, name))
                except base.FactorUnknown as e:
                    value[key] = Unknown(str(e))
            value['model_name'] = info.get('model name') or Unknown(
                '%s: has no "model name"' % CPUINFO)
            return value
        # No usable cpuinfo: libvirt's signature.
        reason = (str(info_error) if info is None
                  else '%s: has no "vendor_id"' % CPUINFO)
        if cpu is None:
            raise base.FactorUnknown('%s; %s' % (reason, cpu_error))
        vendor = cpu.findtext('vendor')
        value['vendor'] = (normalise_vendor(vendor) if vendor else
                           Unknown('capabilities host CPU has no <vendor>'))
        sig = cpu.find('signature')
        for key in ('family', 'model', 'stepping'):
            if sig is not None and sig.get(key) is not None:
                try:
                    value[key] = _int(sig.get(key), 'signature %s' % key)
                except base.FactorUnknown as e:
                    value[key] = Unknown(str(e))
            else:
                value[key] = Unknown('%s; capabilities host CPU has no '
                                     '<signature %s>' % (reason, key))
        value['model_name'] = Unknown(reason)
        return value


class CpuFeaturesFactor(base.Factor):
    def read(self, host):
        try:
            cpu = host_cpu(host)
        except base.FactorUnknown as e:
            cpu, cpu_error = None, e
        model = None
        if cpu is not None and cpu.findtext('model'):
            model = cpu.findtext('model').strip()
        try:
            flags = cpuinfo_flags(host)
        except base.FactorUnknown as e:
            info_error = e
        else:
            return {'source': 'cpuinfo', 'model': model,
                    'features': cpufeatures.canonical_features(flags)}
        if cpu is None:
            raise base.FactorUnknown('%s; %s' % (info_error, cpu_error))
        extra = cpufeatures.canonical_features(
            [f.get('name') for f in cpu.findall('feature')
             if f.get('policy', 'require') == 'require'], 'libvirt')
        if model is None:
            return {'source': 'libvirt', 'model': None, 'features': extra}
        try:
            expansion = expand_named_cpu(host, cpu)
        except base.FactorUnknown as e:
            return {'source': 'libvirt-unexpanded', 'model': model,
                    'features': extra,
                    'note': 'model %s not expanded: %s' % (model, e)}
        # libvirt's map, alone or with QEMU's version changes on top of
        # it, gives libvirt's view; QEMU's own model lists differ from
        # libvirt's in places, so they are another reader's view.
        value = {'source': 'qemu' if expansion.how == 'qemu' else 'libvirt',
                 'model': model,
                 'features': cpufeatures.canonical_features(
                     expansion.features, 'libvirt'),
                 'expanded_by': expansion.how}
        if expansion.detail:
            value['note'] = 'model %s expanded with %s' % (model,
                                                           expansion.detail)
        return value


class MicrocodeFactor(base.Factor):
    def read(self, host):
        try:
            info = cpuinfo(host)
            if info.get('microcode'):
                return info['microcode']
            info_error = '%s: has no "microcode" line' % CPUINFO
        except base.FactorUnknown as e:
            info_error = str(e)
        try:
            mc = host_cpu(host).find('microcode')
        except base.FactorUnknown as e:
            raise base.FactorUnknown('%s; %s' % (info_error, e))
        if mc is None or mc.get('version') is None:
            raise base.FactorUnknown('%s; capabilities host CPU has no '
                                     '<microcode>' % info_error)
        return '0x%x' % _int(mc.get('version'), 'capabilities microcode')


def dmi(host, name):
    """A DMI string (sys/class/dmi/id/NAME) or FactorUnknown."""
    return host.read_value('sys/class/dmi/id/%s' % name)


def has_match(pattern, text):
    return re.search(pattern, text or '', re.I) is not None
