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

"""Small synthetic hosts for the fleet tests: a profile with the given
QEMU version, extra features, microcode and vendor, and a fleet Host
carrying its traits (as Fleet.load reads them from Placement).
"""

from migcompat_filter.fleet import inventory
from migcompat_filter.profile import Profile
from migcompat_filter.traits import codec as traits

BASE = ['apic', 'clflush', 'cmov', 'cx8', 'de', 'fpu', 'fxsr', 'lm', 'mca',
        'mce', 'mmx', 'msr', 'mtrr', 'nx', 'pae', 'pat', 'pge', 'pni',
        'pse', 'pse36', 'sep', 'sse', 'sse2', 'syscall', 'tsc', 'vme']


def profile(qemu='8.2.0', extra=(), microcode='0x10', vendor='Intel',
            usable=('486', 'pentium', 'qemu64'), expanded=True):
    feats = sorted(set(BASE) | set(extra))
    return Profile({
        'arch': 'x86_64',
        'cpu_model': {'vendor': vendor, 'family': 6, 'model': 85,
                      'stepping': 4, 'model_name': 'Test CPU',
                      'libvirt_model': 'qemu64'},
        'cpu_features': {'source': 'libvirt', 'model': None,
                         'features': feats},
        'host_model': {'model': 'qemu64', 'vendor': vendor,
                       'features': feats, 'disabled': [],
                       'expanded': expanded},
        'usable_models': list(usable),
        'microcode_version': microcode,
        'kernel_version': '6.1.0',
        'qemu_version': qemu,
        'libvirt_version': '9.0.0',
        'cpu_mode': 'host-model',
        'cpu_models': [],
        'nested_virt': {'nested': False, 'hypervisor': None,
                        'nested_enabled': True},
        'tsc': {'frequency': 2000000000, 'scaling': True},
        'phys_bits': 46,
        'machine_types': ['pc', 'pc-q35-8.2', 'q35'],
        'firmware_version': {'vendor': 'ACME', 'version': '1.0',
                             'date': '01/01/2026'},
        'firmware_settings': {'smt': 'on', 'threads_per_core': 2,
                              'virtualization': 'vmx'},
        'kernel_settings': {'cmdline': {}, 'modprobe': {},
                            'module_parameters': {}, 'vulnerabilities': {}},
    })


def host(name, prof, extra_traits=('COMPUTE_NODE',), hypervisor=None):
    h = inventory.Host(name, 'uuid-' + name, hypervisor=hypervisor)
    h.traits = set(extra_traits) | (set(traits.encode(prof)) if prof
                                    else set())
    h.classify()
    return h
