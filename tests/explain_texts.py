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


"""Real failure texts of libvirt, QEMU and nova for ``migration explain``
(used by tests/functional/test_nova_explain and tests/unit/test_explain)."""

from nova.tests.fixtures import libvirt as fakelibvirt

CPU_INCOMPATIBLE = (91, 'the CPU is incompatible with host CPU: %s')
OPERATION_FAILED = (fakelibvirt.VIR_ERR_OPERATION_FAILED,
                    'operation failed: %s')
CONFIG_UNSUPPORTED = (fakelibvirt.VIR_ERR_CONFIG_UNSUPPORTED,
                      'unsupported configuration: %s')
INTERNAL_ERROR = (fakelibvirt.VIR_ERR_INTERNAL_ERROR, 'internal error: %s')

#: (libvirt error kind, message, factor): real texts (the format strings
#: are those of the source named in migcompat_filter/fleet/
#: failure_patterns.py, filled in as in the bug reports cited there).
TEXTS = (
    (OPERATION_FAILED, "guest CPU doesn't match specification: missing "
     "features: hle,rtm", 'cpu_features'),
    (OPERATION_FAILED, "guest CPU doesn't match specification: extra "
     "features: ht", 'cpu_features'),
    (CPU_INCOMPATIBLE, 'Host CPU does not provide required features: '
     'erms, vaes, vpclmulqdq, fsrm', 'cpu_features'),
    (INTERNAL_ERROR, 'Unknown CPU feature arch-lbr', 'libvirt_version'),
    (INTERNAL_ERROR, "unable to execute QEMU command 'migrate': State "
     'blocked by non-migratable CPU device (invtsc flag)', 'tsc'),
    (CONFIG_UNSUPPORTED, "Emulator '/usr/bin/qemu-system-x86_64' does not "
     "support machine type 'pc-q35-8.2'", 'machine_types'),
    (CONFIG_UNSUPPORTED, 'Requested TSC frequency 2600000000 Hz is outside '
     'tolerance range ([2599350000, 2600650000] Hz) around host frequency '
     '2400000000 Hz and TSC scaling is not supported by the host CPU',
     'tsc'),
    (INTERNAL_ERROR, 'qemu unexpectedly closed the monitor: '
     '2025-11-07T15:00:45.528098Z qemu-system-x86_64: Features '
     '0x1c0010130afffa7 unsupported. Allowed features: 0x10179bfffe7\n'
     '2025-11-07T15:00:45.528253Z qemu-system-x86_64: error while loading '
     "state for instance 0x0 of device '0000:00:02.0/virtio-net'\n"
     '2025-11-07T15:00:45.528260Z qemu-system-x86_64: load of migration '
     'failed: Operation not permitted', 'qemu_version'),
    (INTERNAL_ERROR, 'qemu unexpectedly closed the monitor: '
     "qemu-system-x86_64: warning: host doesn't support requested "
     'feature: CPUID.07H:EBX.hle [bit 4]', 'cpu_features'),
    (INTERNAL_ERROR, 'process exited while connecting to monitor: '
     'qemu-system-x86_64: unsupported machine type: "pc-q35-10.0"\n'
     'Use -machine help to list supported machines', 'machine_types'),
)
