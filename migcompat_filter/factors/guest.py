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

"""Guest CPU mode factors: nova-compute's [libvirt] cpu_mode / cpu_models.

The host source reads them (``host.nova_cpu_mode()``,
``host.nova_cpu_models()``): the live host from nova's config file, a
snapshot from the nova/cpu_mode and nova/cpu_models files that
``migcompat snapshot create`` writes (never nova.conf itself). See
migcompat_filter.host.nova_cpu_options.
"""

from migcompat_filter.factors import base


class CpuModeFactor(base.Factor):
    def read(self, host):
        return host.nova_cpu_mode()


class CpuModelsFactor(base.Factor):
    def read(self, host):
        return host.nova_cpu_models()
