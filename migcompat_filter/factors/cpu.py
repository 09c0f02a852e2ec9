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

"""CPU factors: architecture, model, features, microcode.

/proc/cpuinfo is the first choice (what the kernel sees); libvirt's host
capabilities are the fallback (and the only source of libvirt's model
name). Both are parsed once by the host source (host.cpuinfo(),
host.host_cpu()).
"""

from migcompat_filter.cpu import features as cpufeatures
from migcompat_filter.factors import base
from migcompat_filter.factors import cpuinfo_arch
from migcompat_filter.host.source import CPUINFO
from migcompat_filter.profile import Unknown


#: cpu_model field -> its kind in migcompat_filter.bounds
_KINDS = {'family': 'cpu_family', 'model': 'cpu_model_number',
          'stepping': 'cpu_stepping'}


def _int(text, what, key):
    return base.bounded_int(text, what + ':', base_=0, kind=_KINDS[key])


class ArchFactor(base.Factor):
    """libvirt's <host><cpu><arch>, else what /proc/cpuinfo implies (x86,
    ARM, POWER and s390 formats: factors.cpuinfo_arch).
    """

    def read(self, host):
        try:
            arch = host.host_cpu().findtext('arch')
        except base.FactorUnknown as e:
            arch, libvirt_error = None, e
        else:
            libvirt_error = base.FactorUnknown(
                'capabilities host CPU has no <arch>')
        if arch and arch.strip():
            return self._cross_checked(host, arch.strip())
        try:
            info = host.cpuinfo()
        except base.FactorUnknown as e:
            raise base.FactorUnknown('%s; %s' % (libvirt_error, e))
        arch = cpuinfo_arch.arch_from_cpuinfo(info)
        if arch:
            return arch
        raise base.FactorUnknown(
            '%s; %s does not say the architecture' % (libvirt_error,
                                                      CPUINFO))

    @staticmethod
    def _cross_checked(host, arch):
        """libvirt's arch, unless /proc/cpuinfo plainly names another
        family (an altered snapshot: nothing says which file is right).
        """
        try:
            implied = cpuinfo_arch.arch_from_cpuinfo(host.cpuinfo())
        except base.FactorUnknown:
            return arch
        if implied and (cpuinfo_arch.family(implied)
                        != cpuinfo_arch.family(arch)):
            raise base.FactorUnknown(
                '%s says %s but %s is of an %s CPU; the snapshot is '
                'inconsistent' % (host.libvirt_origin('capabilities'), arch,
                                  CPUINFO, implied))
        return arch


class CpuModelFactor(base.Factor):
    def read(self, host):
        try:
            cpu = host.host_cpu()
        except base.FactorUnknown as e:
            cpu, cpu_error = None, e
        try:
            info = host.cpuinfo()
        except base.FactorUnknown as e:
            info, info_error = None, e
        if cpu is None and info is None:
            raise base.FactorUnknown('%s; %s' % (info_error, cpu_error))
        value = {}
        if info is not None and 'CPU implementer' in info:
            # aarch64: the MIDR fields are the CPU's identity.
            value = cpuinfo_arch.aarch64_cpu_model(info)
        if cpu is not None:
            model = cpu.findtext('model')
            value['libvirt_model'] = (
                model.strip() if model else
                Unknown('capabilities host CPU has no <model>'))
        else:
            value['libvirt_model'] = Unknown(str(cpu_error))
        if 'implementer' in value:
            return value
        if info is not None and 'vendor_id' in info:
            value['vendor'] = cpufeatures.normalise_vendor(info['vendor_id'])
            for key, name in (('family', 'cpu family'), ('model', 'model'),
                              ('stepping', 'stepping')):
                try:
                    value[key] = _int(info.get(name), '%s "%s"'
                                      % (CPUINFO, name), key)
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
        value['vendor'] = (cpufeatures.normalise_vendor(vendor) if vendor else
                           Unknown('capabilities host CPU has no <vendor>'))
        sig = cpu.find('signature')
        for key in ('family', 'model', 'stepping'):
            if sig is not None and sig.get(key) is not None:
                try:
                    value[key] = _int(sig.get(key), 'signature %s' % key,
                                      key)
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
            cpu = host.host_cpu()
        except base.FactorUnknown as e:
            cpu, cpu_error = None, e
        model = None
        if cpu is not None and cpu.findtext('model'):
            model = cpu.findtext('model').strip()
        try:
            info = host.cpuinfo()
        except base.FactorUnknown:
            info = {}
        if 'CPU implementer' in info:  # aarch64: the "Features" line
            return {'source': 'cpuinfo', 'model': model,
                    'features': cpuinfo_arch.aarch64_features(info)}
        try:
            flags = host.cpuinfo_flags()
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
            expansion = host.expand_cpu_element(cpu)
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


def _microcode_text(text, what):
    """The cpuinfo microcode revision (hex, "0x" optional) as shown,
    or FactorUnknown when it is not a non-negative hex number.
    """
    digits = str(text).strip()
    digits = digits[2:] if digits.lower().startswith('0x') else digits
    if not digits or not all(c in '0123456789abcdefABCDEF' for c in digits):
        raise base.FactorUnknown('%s %r is not a non-negative hex number'
                                 % (what, str(text)[:40]))
    return str(text).strip()


class MicrocodeFactor(base.Factor):
    """The microcode revision: cpuinfo's "microcode", else libvirt's
    <microcode version=> (decimal, shown as hex); negative or
    malformed revisions are unknown, naming the file.
    """

    def read(self, host):
        try:
            info = host.cpuinfo()
            if info.get('microcode'):
                return _microcode_text(info['microcode'],
                                       '%s: "microcode"' % CPUINFO)
            info_error = '%s: has no "microcode" line' % CPUINFO
        except base.FactorUnknown as e:
            info_error = str(e)
        try:
            mc = host.host_cpu().find('microcode')
        except base.FactorUnknown as e:
            raise base.FactorUnknown('%s; %s' % (info_error, e))
        if mc is None or mc.get('version') is None:
            raise base.FactorUnknown('%s; capabilities host CPU has no '
                                     '<microcode>' % info_error)
        return '0x%x' % base.bounded_int(
            mc.get('version'), '%s: microcode version'
            % host.libvirt_origin('capabilities'), 0, None, base_=0)
