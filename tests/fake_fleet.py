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
from the traits Placement would hold. For tests and tools/bench_drain.py.
"""

from migcompat_filter.placement import hoststate
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
