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

"""The guest CPU modes, defined once.

nova's ``[libvirt] cpu_mode`` names them; a guest's own mode is recorded
in ``instance.vcpu_model``. The rules judge the first three; ``none``
(libvirt's default CPU, for virt types other than kvm and qemu) is only
ever read, never judged.
"""

HOST_MODEL = 'host-model'
HOST_PASSTHROUGH = 'host-passthrough'
CUSTOM = 'custom'
NONE = 'none'

#: The modes the rules judge, in the order the CLI and docs list them.
MODES = (HOST_MODEL, HOST_PASSTHROUGH, CUSTOM)
#: Every value nova's [libvirt] cpu_mode accepts.
NOVA_CPU_MODES = MODES + (NONE,)
#: nova's default for virt_type kvm or qemu.
DEFAULT = HOST_MODEL
