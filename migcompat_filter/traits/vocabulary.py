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

"""The vocabularies of schema-2 trait spelling (plain data).

A name a vocabulary knows is spelt plainly (upper case, punctuation as
``_``) and decodes back through it (migcompat_filter.traits.text). APPEND
ONLY: the first name to claim a spelling keeps it, so adding a name never
changes how an existing one is spelt.
"""

from migcompat_filter.factors import catalogue
from migcompat_filter.traits.feature_catalogue import FEATURE_CATALOGUE
from migcompat_filter.traits import text

ARCHES = text.Vocabulary(('x86_64', 'i686', 'aarch64', 'armv7l', 's390x',
                          'ppc64le', 'ppc64', 'riscv64', 'loongarch64'))
VENDORS = text.Vocabulary(('AMD', 'Intel', 'Hygon', 'Zhaoxin', 'IBM', 'ARM'))
_BASE_MODELS = (
    '486', 'pentium', 'pentium2', 'pentium3', 'pentiumpro', 'coreduo',
    'core2duo', 'n270', 'athlon', 'phenom', 'qemu32', 'qemu64', 'kvm32',
    'kvm64', 'cpu64-rhel5', 'cpu64-rhel6', 'Conroe', 'Penryn', 'Nehalem',
    'Nehalem-IBRS', 'Westmere', 'Westmere-IBRS', 'SandyBridge',
    'SandyBridge-IBRS', 'IvyBridge', 'IvyBridge-IBRS', 'Haswell',
    'Haswell-IBRS', 'Haswell-noTSX', 'Haswell-noTSX-IBRS', 'Broadwell',
    'Broadwell-IBRS', 'Broadwell-noTSX', 'Broadwell-noTSX-IBRS',
    'Skylake-Client', 'Skylake-Client-IBRS', 'Skylake-Client-noTSX-IBRS',
    'Skylake-Server', 'Skylake-Server-IBRS', 'Skylake-Server-noTSX-IBRS',
    'Cascadelake-Server', 'Cascadelake-Server-noTSX', 'Cooperlake',
    'Icelake-Client', 'Icelake-Client-noTSX', 'Icelake-Server',
    'Icelake-Server-noTSX', 'SapphireRapids', 'EmeraldRapids',
    'GraniteRapids', 'SierraForest', 'ClearwaterForest', 'Snowridge',
    'Denverton', 'KnightsMill', 'Opteron_G1', 'Opteron_G2', 'Opteron_G3',
    'Opteron_G4', 'Opteron_G5', 'EPYC', 'EPYC-IBPB', 'EPYC-Rome',
    'EPYC-Milan', 'EPYC-Genoa', 'EPYC-Turin', 'Dhyana', 'YongFeng', 'host',
)
#: libvirt's and QEMU's x86 CPU model names, and their versions -v1..-v9.
MODELS = text.Vocabulary(_BASE_MODELS + tuple(
    '%s-v%d' % (m, v) for m in _BASE_MODELS for v in range(1, 10)))
FEATURES = text.Vocabulary(FEATURE_CATALOGUE)
MODES = text.Vocabulary(('host-model', 'host-passthrough', 'custom', 'none'))
SMT = text.Vocabulary(('on', 'off', 'forceoff', 'notsupported',
                       'notimplemented'))
VIRT = text.Vocabulary(('vmx', 'svm', 'none'))
#: The kernel parameters factors.kernel reads (the catalogue's list,
#: append only: a name's spelling never changes).
KERNEL_PARAMS = text.Vocabulary(catalogue.CPU_KERNEL_PARAMETERS)
KVM_MODULES = text.Vocabulary(('kvm', 'kvm_intel', 'kvm_amd'))


MODULE_PARAMS = text.Vocabulary(catalogue.KVM_MODULE_PARAMETERS)
