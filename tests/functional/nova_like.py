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

"""The bundled demo hosts as nova-compute would publish them: their
profiles and the traits nova's libvirt driver gives such a host (shared
by the nova-compute trait tests and tools/bench_fleet.py,
tools/bench_placement_tax.py).
"""

import glob
import os

import os_traits

from migcompat_filter.profile import Profile

HOSTS = os.path.join(os.path.dirname(__file__), '..', '..',
                     'migcompat_filter', 'demo', 'data', 'hosts')
#: nova's capability traits every libvirt compute node of ours carries.
_NOVA_COMMON = frozenset(
    t for t in os_traits.get_traits('COMPUTE_')
    if t.startswith(('COMPUTE_IMAGE_TYPE_', 'COMPUTE_NET_VIF_MODEL_',
                     'COMPUTE_GRAPHICS_MODEL_', 'COMPUTE_STORAGE_BUS_',
                     'COMPUTE_VOLUME_', 'COMPUTE_NET_ATTACH_',
                     'COMPUTE_DEVICE_TAGGING', 'COMPUTE_TRUSTED_CERTS',
                     'COMPUTE_NODE', 'COMPUTE_ARCH_X86_64')))
_X86 = frozenset(os_traits.get_traits('HW_CPU_X86_'))


def demo_profiles():
    """[(label, Profile)] of the bundled demo hosts, sorted."""
    out = []
    for path in sorted(glob.glob(os.path.join(HOSTS, '*.json'))):
        with open(path) as f:
            out.append((os.path.basename(path)[:-5],
                        Profile.from_json(f.read(), origin=path)))
    if not out:
        raise AssertionError('no demo host profiles in %s' % HOSTS)
    return out


def nova_traits(prof):
    """nova's own traits of a libvirt host with this profile's CPU."""
    feats = prof['cpu_features']
    names = feats.get('features') if isinstance(feats, dict) else None
    cpu = {'HW_CPU_X86_' + f.upper().replace('.', '_')
           for f in names or ()} & _X86
    return set(_NOVA_COMMON) | cpu
