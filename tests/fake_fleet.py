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

"""A compute node as fleet.Fleet.load returns it (the attributes the
planners read: drain, what-if, upgrade-plan), with its profile read back
from the traits Placement would hold, and fleets of them built from the
real host snapshots under tests/fixtures/hosts. For tests and
tools/bench_drain.py.
"""

import functools
import os

from migcompat_filter.cpu import map_migratable as cpu_map_migratable
from migcompat_filter.host import reader
from migcompat_filter.host import source as hostsource
from migcompat_filter.placement import hoststate
from migcompat_filter.profile import Profile
from migcompat_filter.traits import codec as traits


class FleetHost(object):

    def __init__(self, name, prof, service_host=None):
        self.name = name
        self.uuid = 'uuid-' + name
        self.service_host = service_host or name
        self.hypervisor = None
        read = hoststate.classify(set(traits.encode(prof)))
        self.state, self.key, self.profile = read.state, read.key, \
            read.profile

    def nova_refusal(self):
        return None


HOSTS = os.path.join(os.path.dirname(__file__), 'fixtures', 'hosts')
MILAN = 'epyc-milan-nested-l1'
CLX_8268 = 'libvirt-cpuid-xeon-platinum-8268-host'   # has TSX
CLX_4214R = 'libvirt-cpuid-xeon-silver-4214r-host'   # no TSX
STACK = ('qemu_version', 'libvirt_version', 'machine_types', 'cpu_mode',
         'kernel_version', 'microcode_version', 'phys_bits', 'tsc')


@functools.lru_cache(maxsize=None)
def snapshot(name):
    return reader.read_profile(
        hostsource.SnapshotSource(os.path.join(HOSTS, name)))


def real(name, **changes):
    factors = dict(snapshot(name).factors)
    if name != MILAN:
        milan = snapshot(MILAN)
        factors.update({k: milan[k] for k in STACK})
    factors.update(changes)
    return Profile(factors)


def with_guests(prof, count=2, mode='host-model'):
    """prof running count guests of mode started there (the reporter's
    running_guests record: the host-model CPU, migratable part).
    """
    feats = sorted(set(prof['host_model']['features']) -
                   cpu_map_migratable.non_migratable(prof['arch']))
    record = {'count': count, 'modes': {mode: count},
              'host_model_features': feats if mode == 'host-model' else [],
              'custom_features': [], 'unexpanded': [],
              'machine_types': [], 'invtsc_frequencies': [],
              'invtsc_unpinned': 0, 'phys_bits': [], 'passthrough_extra': []}
    return Profile(dict(prof.factors, running_guests=record))


def fleet(**profiles):
    return [FleetHost(n, p, service_host='svc-' + n)
            for n, p in sorted(profiles.items())]
