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

"""What nova, libvirt and QEMU do with one live migration (a model).

Written from the projects' documentation, not from migcompat's rules:
nothing here imports the rules engine, so the simulator can count where
the two disagree.

Sources:

* nova: the conductor's live-migration task checks that the destination
  hypervisor's type matches and its version is not older than the
  source's (``_check_compatible_with_source_hypervisor``); after the
  scheduler's pick, the destination's libvirt driver compares the
  *source host's* CPU (``cpu_info``) with its own through
  ``compareHypervisorCPU`` (nova docs, "Live-migrate instances"; skipped
  for host-passthrough guests, and by ``[workarounds]
  skip_cpu_compare_on_dest``). The scheduler's default filters look at
  no CPU feature.
* libvirt (formatdomain "CPU model and topology"; "Guest migration"):
  a host-model or custom guest is started on the destination with the
  CPU definition it runs with on the source; QEMU refuses to start it
  when the destination cannot provide a required feature (check='partial'
  / 'full'), so the migration fails before the guest moves. A custom
  model must be one the destination's QEMU/libvirt can run. A
  host-passthrough guest is started with whatever the destination CPU
  is: libvirt checks nothing, the guest keeps running with the CPUID it
  saw at boot, and libvirt's documentation says such guests may only
  migrate between identical hosts (CPU, microcode, kernel, firmware).
* QEMU (docs/devel/migration, "Compatibility"): migration goes from an
  older to a newer (or the same) QEMU only; the guest's machine type
  must exist on the destination (a QEMU knows the machine types of its
  own and older releases).

Simplified: TSC frequency and invtsc, physical address bits, devices,
memory size and dirty-page convergence are not modelled; KVM's view of
the host CPU is taken to be the host-model CPU (for host-model and custom
guests) and the host's CPU flags (for host-passthrough guests).
"""

#: CPU features libvirt never carries across a migration (libvirt 9.0's
#: src/cpu_map/x86_features.xml marks them migratable='no'; a migratable
#: guest does not get them).
NON_MIGRATABLE = frozenset(['invtsc', 'xsaves'])

OK = 'ok'
FAILED = 'failed'        # the migration started and failed; the guest stays
UNSAFE = 'unsafe'        # the guest moved and may now fault or misbehave

HOST_MODEL = 'host-model'
HOST_PASSTHROUGH = 'host-passthrough'
CUSTOM = 'custom'


class Host(object):
    """What the model needs to know of a host."""

    __slots__ = ('name', 'vendor', 'cpu_signature', 'host_model', 'flags',
                 'models', 'microcode', 'kernel', 'firmware', 'qemu',
                 'key')

    def __init__(self, name, vendor, cpu_signature, host_model, flags,
                 models, microcode, kernel, firmware, qemu, key=None):
        self.name = name
        self.vendor = vendor
        self.cpu_signature = cpu_signature
        self.host_model = frozenset(host_model)   # KVM's host-model CPU
        self.flags = frozenset(flags)             # the host CPU's flags
        self.models = frozenset(models)           # custom models it runs
        self.microcode = microcode
        self.kernel = kernel
        self.firmware = firmware
        self.qemu = tuple(qemu)
        self.key = key

    def identity(self):
        """What libvirt asks to be identical for host-passthrough."""
        return (self.vendor, self.cpu_signature, self.flags, self.microcode,
                self.kernel, self.firmware)


class Guest(object):
    """A running guest: what it was started with."""

    __slots__ = ('id', 'mode', 'features', 'model', 'machine', 'identity',
                 'key', 'vcpus')

    def __init__(self, id, mode, features, model, machine, identity,
                 key=None, vcpus=1):
        self.id = id
        self.mode = mode
        #: The CPU features the guest sees (its CPUID).
        self.features = frozenset(features)
        #: The named model of a custom guest.
        self.model = model
        #: The QEMU release its machine type comes from (its start host's).
        self.machine = tuple(machine)
        #: The start host's identity (host-passthrough guests).
        self.identity = identity
        self.key = key
        self.vcpus = vcpus


def started_on(host, mode, id, model=None, model_features=(), vcpus=1):
    """A guest as libvirt starts it on host in mode."""
    if mode == HOST_PASSTHROUGH:
        features = host.flags
    elif mode == CUSTOM:
        features = frozenset(model_features)
    else:
        features = host.host_model
    return Guest(id, mode, features - NON_MIGRATABLE, model, host.qemu,
                 host.identity(), key=(host.key, mode, model), vcpus=vcpus)


def nova_precheck(src, dst, guest, skip_cpu_compare=False):
    """Why nova's own checks refuse this migration, or None."""
    if dst.qemu < src.qemu:
        return 'destination hypervisor version is older'
    if guest.mode != HOST_PASSTHROUGH and not skip_cpu_compare:
        # compareHypervisorCPU of the source *host's* CPU, not the guest's.
        if src.vendor != dst.vendor or not src.host_model <= dst.host_model:
            return 'source host CPU is not compatible with the destination'
    return None


def migrate(src, dst, guest):
    """(OK | FAILED | UNSAFE, why) of carrying guest from src to dst."""
    if dst.qemu < src.qemu:
        return FAILED, 'QEMU migrates only to the same or a newer release'
    if dst.qemu < guest.machine:
        return FAILED, 'machine type unknown to the destination QEMU'
    if guest.mode == HOST_PASSTHROUGH:
        if guest.features - dst.flags:
            lacks = sorted(guest.features - dst.flags)[:5]
            return UNSAFE, ('guest uses CPU features the destination '
                            'lacks: %s' % ', '.join(lacks))
        if guest.identity != dst.identity():
            return UNSAFE, 'host-passthrough guest on a non-identical host'
        return OK, ''
    if src.vendor != dst.vendor:
        return FAILED, 'CPU vendor differs'
    if guest.mode == CUSTOM and guest.model not in dst.models:
        return FAILED, 'the destination cannot run model %s' % guest.model
    missing = guest.features - dst.host_model
    if missing:
        return FAILED, ('QEMU cannot provide %s on the destination'
                        % ', '.join(sorted(missing)[:5]))
    return OK, ''
