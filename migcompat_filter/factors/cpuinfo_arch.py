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

"""What /proc/cpuinfo says about non-x86 CPUs: the architecture (ARM,
POWER, s390 as well as x86) and an aarch64 CPU's identity (MIDR).

The formats, as the kernel prints them (first processor block):

* x86: ``vendor_id``, ``flags`` (``lm``: 64-bit);
* aarch64 (arch/arm64/kernel/cpuinfo.c): ``Features``, ``CPU
  implementer`` (0x41 is ARM Ltd), ``CPU architecture: 8``, ``CPU
  variant``, ``CPU part`` (0xd0c is Neoverse-N1), ``CPU revision``;
  32-bit ARM kernels print ``CPU architecture: 7`` and ``model name:
  ARMv7 Processor ...``;
* POWER (arch/powerpc/kernel/setup-common.c): ``cpu : POWER9
  (architected), altivec supported``, and ``platform`` (pSeries,
  PowerNV) in the trailing block;
* s390 (arch/s390/kernel/processor.c): ``vendor_id : IBM/S390``.
"""

from migcompat_filter.factors import base
from migcompat_filter.profile import Unknown

CPUINFO = 'proc/cpuinfo'

#: MIDR implementer codes -> libvirt's aarch64 vendor names
#: (src/cpu_map/arm_vendors.xml).
ARM_IMPLEMENTERS = {
    0x41: 'ARM', 0x42: 'Broadcom', 0x43: 'Cavium', 0x46: 'Fujitsu',
    0x48: 'HiSilicon', 0x4e: 'NVIDIA', 0x50: 'APM', 0x51: 'Qualcomm',
    0x61: 'Apple', 0xc0: 'Ampere',
}

#: ARM Ltd's part numbers of server and common cores (MIDR PartNum).
ARM_PARTS = {
    0xd03: 'Cortex-A53', 0xd07: 'Cortex-A57', 0xd08: 'Cortex-A72',
    0xd0b: 'Cortex-A76', 0xd0c: 'Neoverse-N1', 0xd40: 'Neoverse-V1',
    0xd49: 'Neoverse-N2', 0xd4f: 'Neoverse-V2',
}


def arch_from_cpuinfo(info):
    """The libvirt architecture name /proc/cpuinfo implies, or None."""
    vendor = info.get('vendor_id', '')
    if vendor.startswith('IBM/S390'):
        return 's390x'
    if 'CPU implementer' in info or 'CPU architecture' in info:
        version = info.get('CPU architecture', '').strip()
        if version == '8' or version.lower() == 'aarch64':
            return 'aarch64'
        if version.isdigit() and int(version) <= 7:
            return 'armv7l'
        return None
    if info.get('cpu', '').upper().startswith('POWER') or 'platform' in info:
        # Every POWER host libvirt and nova support today is little
        # endian; a big-endian host would need capabilities.xml to say so.
        return 'ppc64le'
    if vendor and 'flags' in info:
        return 'x86_64' if 'lm' in info['flags'].split() else 'i686'
    return None


#: Architectures of one family: cpuinfo cannot tell them apart reliably
#: (i686 vs x86_64 hides in a flag, POWER's endianness not at all).
_FAMILIES = {'x86_64': 'x86', 'i686': 'x86', 'ppc64': 'ppc',
             'ppc64le': 'ppc', 'aarch64': 'arm64', 'armv7l': 'arm',
             's390x': 's390'}


def family(arch):
    """The family of a libvirt architecture name (itself if unlisted)."""
    return _FAMILIES.get(arch, arch)


def _midr_field(info, key, high):
    return base.bounded_int(info.get(key), '%s: "%s"' % (CPUINFO, key),
                            0, high, base_=0)


def aarch64_cpu_model(info):
    """cpu_model of an aarch64 host from its MIDR fields.

    family/model/stepping carry the MIDR (implementer, part, variant * 16
    + revision) so that the signature rules compare them as for x86;
    the raw fields are kept under their MIDR names too. FactorUnknown
    when the implementer or part is missing or malformed.
    """
    implementer = _midr_field(info, 'CPU implementer', 0xff)
    part = _midr_field(info, 'CPU part', 0xfff)
    value = {'implementer': implementer, 'part': part,
             'family': implementer, 'model': part}
    try:
        variant = _midr_field(info, 'CPU variant', 0xf)
        revision = _midr_field(info, 'CPU revision', 0xf)
    except base.FactorUnknown as e:
        value['stepping'] = Unknown(str(e))
    else:
        value.update(variant=variant, revision=revision,
                     stepping=variant * 16 + revision)
    value['vendor'] = ARM_IMPLEMENTERS.get(
        implementer, 'implementer 0x%02x' % implementer)
    name = ARM_PARTS.get(part) if implementer == 0x41 else None
    value['model_name'] = name or '%s part 0x%03x' % (value['vendor'], part)
    return value


def aarch64_features(info):
    """The sorted ``Features`` of an aarch64 cpuinfo, or FactorUnknown."""
    features = info.get('Features')
    if features is None:
        raise base.FactorUnknown('%s: has no "Features" line' % CPUINFO)
    return sorted({f.strip().lower() for f in features.split() if f})
