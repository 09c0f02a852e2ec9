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

"""The error texts of failed live migrations, mapped to a factor.

One plain table (``PATTERNS``): for each text libvirt, QEMU or nova
writes when a live migration fails or is refused, the regular expression
that finds it, the migcompat factor it points at, the likely cause, what
to do, and where the text comes from (project, file, function), so that a
row can be checked against the source. ``migcompat migration explain``
reads it (:mod:`migcompat_filter.fleet.explain`).

Each regex matches the message as the component formats it, without the
prefix the caller adds (libvirt's "operation failed: ", nova's "Migration
pre-check error: "), so the same row matches a log line, nova's instance
action event and a ticket. Named groups are evidence (``features``,
``machine``, ...).

``kind``:

* ``cause``: the text names a cause; it gives a row.
* ``generic``: a symptom that follows a cause named elsewhere in the same
  text ("load of migration failed" after a device's "Features 0x...
  unsupported"); it gives a row only when no ``cause`` row matched.
* ``wrapper``: a frame around another message (nova's "Migration
  pre-check error: %(reason)s"); never a row by itself: an otherwise
  unmatched text stays ``unknown``.
"""

CAUSE = 'cause'
GENERIC = 'generic'
WRAPPER = 'wrapper'

# A CPU feature list as libvirt prints it ("hle,rtm" or "hle, rtm").
_FEATURES = r'(?P<features>[A-Za-z0-9_.\-]+(?:, ?[A-Za-z0-9_.\-]+)*)'


def _p(name, regex, factor, cause, hint, origin, kind=CAUSE):
    return {'name': name, 'regex': regex, 'factor': factor,
            'cause': cause, 'hint': hint, 'origin': origin, 'kind': kind}


PATTERNS = (
    _p('libvirt-missing-features',
       r"guest CPU doesn't match specification: missing features: "
       + _FEATURES,
       'cpu_features',
       'the destination CPU, as libvirt and QEMU see it now, lacks '
       'features the guest runs with (a microcode update or tsx=off '
       'removing hle/rtm, an older CPU, a kernel hiding a feature)',
       'move the guest only to hosts that have these features (migcompat '
       'server check); or cold-restart it to re-baseline its CPU',
       'libvirt src/cpu/cpu_x86.c virCPUx86UpdateLive'),
    _p('libvirt-extra-features',
       r"guest CPU doesn't match specification: extra features: "
       + _FEATURES,
       'cpu_features',
       'the destination QEMU/KVM turns on features the guest did not have '
       'on the source (QEMU 10.0 reports "ht" differently from 9.2: QEMU '
       'issue 3153)',
       'keep source and destination on the same QEMU release until both '
       'are upgraded, or cold-restart the guest on the newer QEMU',
       'libvirt src/cpu/cpu_x86.c virCPUx86UpdateLive'),
    _p('libvirt-required-features',
       r'Host CPU does not provide required features: ' + _FEATURES,
       'cpu_features',
       'the destination host CPU lacks features the guest CPU requires '
       '(compareHypervisorCPU on the destination)',
       'choose a destination with these features, or give the guest a '
       'CPU model every host can run (migcompat fleet baseline)',
       'libvirt src/cpu/cpu_x86.c x86Compute (virCPUCompare)'),
    _p('libvirt-strict-extra',
       r'Host CPU does not strictly match guest CPU: Extra features: '
       + _FEATURES,
       'cpu_model',
       'the guest CPU has match="strict" and the destination CPU has more '
       'features than the guest model',
       'use match="exact" (nova does) or a destination of the same CPU',
       'libvirt src/cpu/cpu_x86.c x86Compute (virCPUCompare)'),
    _p('libvirt-forbidden-features',
       r'Host CPU provides forbidden features: ' + _FEATURES,
       'cpu_features',
       'the guest forbids features the destination CPU has',
       'drop policy="forbid" for them or pick a host without them',
       'libvirt src/cpu/cpu_x86.c x86Compute (virCPUCompare)'),
    _p('libvirt-vendor',
       r'host CPU vendor does not match required CPU vendor (?P<vendor>\w+)',
       'cpu_model',
       'Intel and AMD hosts: a guest never moves between CPU vendors',
       'keep the guest within hosts of its CPU vendor (one aggregate per '
       'vendor)',
       'libvirt src/cpu/cpu_x86.c x86Compute (virCPUCompare)'),
    _p('libvirt-unknown-feature',
       r'[Uu]nknown CPU feature (?P<feature>[A-Za-z0-9_.\-]+)',
       'libvirt_version',
       'the destination libvirt\'s CPU map does not know a feature the '
       'guest CPU names: the destination libvirt is older than the '
       'source\'s',
       'upgrade libvirt on the destination first (move guests from old to '
       'new, never back)',
       'libvirt src/cpu/cpu_x86.c x86ModelFromCPU / x86FeatureInData'),
    _p('libvirt-model-not-supported',
       r'CPU model (?P<model>\S+) is not supported by hypervisor',
       'usable_models',
       'the destination QEMU cannot run the guest\'s named CPU model',
       'choose a model all hosts list as usable (migcompat fleet '
       'baseline) or upgrade QEMU on the destination',
       'libvirt src/cpu/cpu_x86.c x86Decode'),
    _p('qemu-invtsc-blocker',
       r'State blocked by non-migratable CPU device \(invtsc flag\)',
       'tsc',
       'the guest has the invariant TSC (invtsc) without a pinned TSC '
       'frequency: QEMU refuses to migrate it at all',
       'give the guest a TSC frequency (<clock><timer name="tsc" '
       'frequency=.../>) or drop invtsc, then cold-restart it; only hosts '
       'within 250 ppm of that frequency (or with TSC scaling) take it',
       'QEMU target/i386/kvm/kvm.c kvm_arch_init_vcpu (invtsc_mig_blocker)'),
    _p('libvirt-tsc-frequency',
       r'Requested TSC frequency (?P<frequency>\d+) Hz is outside '
       r'tolerance range \(\[(?P<low>\d+), (?P<high>\d+)\] Hz\) around '
       r'host frequency (?P<host_frequency>\d+) Hz',
       'tsc',
       'the guest\'s pinned TSC frequency is more than 250 ppm from the '
       'destination\'s and the destination CPU cannot scale the TSC',
       'move the guest to a host of the same TSC frequency or with TSC '
       'scaling (migcompat server check)',
       'libvirt src/qemu/qemu_process.c qemuProcessStartValidateTSC'),
    _p('libvirt-machine-type',
       r"Emulator '(?P<emulator>[^']*)' does not support machine type "
       r"'(?P<machine>[^']*)'",
       'machine_types',
       'the destination QEMU does not have the guest\'s machine type (an '
       'older QEMU than the one the guest started on)',
       'move the guest to a host whose QEMU has that machine type (same '
       'or newer QEMU), or upgrade the destination\'s QEMU first',
       'libvirt src/qemu/qemu_validate.c qemuValidateDomainDef'),
    _p('qemu-machine-type',
       r'unsupported machine type(?:: "(?P<machine>[^"]*)")?',
       'machine_types',
       'the destination QEMU refused the guest\'s machine type',
       'move the guest to a host whose QEMU has that machine type',
       'QEMU system/vl.c select_machine'),
    _p('libvirt-unreliable-features',
       r'Some features cannot be reliably used with this QEMU: '
       + _FEATURES,
       'qemu_version',
       'the destination QEMU is too old to report which CPU features it '
       'really enabled',
       'upgrade QEMU on the destination',
       'libvirt src/qemu/qemu_process.c qemuProcessStartValidateXML'),
    _p('qemu-enforce',
       r"[Hh]ost doesn't support requested features?(?:: "
       r"(?P<feature>[^\s\[]+)(?: \[bit (?P<bit>\d+)\])?)?",
       'cpu_features',
       'QEMU on the destination was asked for a CPU feature KVM there '
       'does not offer (with "enforce" it refuses to start the guest)',
       'find the feature in migcompat profile compare SOURCE DEST; a '
       'microcode, kernel or BIOS change on the destination is the usual '
       'cause',
       'QEMU target/i386/cpu.c x86_cpu_filter_features / '
       'mark_unavailable_features'),
    _p('qemu-virtio-features',
       r'Features 0x(?P<requested>[0-9a-fA-F]+) unsupported\. Allowed '
       r'features: 0x(?P<allowed>[0-9a-fA-F]+)',
       'qemu_version',
       'a virtio device of the guest uses features the destination QEMU '
       'does not offer for its machine type (e.g. virtio-net USO after '
       'QEMU 8.2; KubeVirt issue 16386)',
       'migrate to the same or a newer QEMU; a destination with an older '
       'QEMU needs the guest cold-restarted there',
       'QEMU hw/virtio/virtio.c virtio_load / virtio_set_features_nocheck'),
    _p('qemu-vmstate-device',
       r"error while loading state for instance 0x[0-9a-f]+ of device "
       r"'(?P<device>[^']+)'",
       'qemu_version',
       'the destination QEMU could not load one device\'s state (its '
       'layout differs between the two QEMU builds or machine types)',
       'compare the QEMU versions and the guest\'s machine type on both '
       'hosts; migrate only to the same or newer QEMU',
       'QEMU migration/savevm.c qemu_loadvm_section_start_full',
       kind=GENERIC),
    _p('qemu-load-failed',
       r'load of migration failed: (?P<error>[A-Za-z ]+)',
       'qemu_version',
       'the destination QEMU could not load the guest\'s state',
       'see the destination\'s QEMU log for the device that failed; '
       'compare the QEMU versions',
       'QEMU migration/migration.c process_incoming_migration_co',
       kind=GENERIC),
    _p('nova-cpu-compare-result',
       r"CPU doesn't have compatibility\.\s+(?P<result>-?\d+)\s+Refer to",
       'cpu_features',
       'nova\'s destination pre-check compared the SOURCE HOST\'s CPU '
       '(host-model/passthrough) with compareHypervisorCPU without '
       'VIR_CONNECT_COMPARE_CPU_FAIL_INCOMPATIBLE, so libvirt gave only '
       'the number (0: incompatible) and no feature name',
       'migcompat profile compare SOURCE DEST names the features; see '
       'nova bug 2039803 before setting [workarounds] '
       'skip_cpu_compare_on_dest',
       'nova nova/virt/libvirt/driver.py LibvirtDriver._compare_cpu'),
    _p('nova-hypervisor-too-old',
       r'The instance requires a newer hypervisor version than has been '
       r'provided',
       'qemu_version',
       'nova\'s conductor refused the destination: its hypervisor version '
       '(for libvirt, the QEMU version) is lower than the source\'s',
       'upgrade QEMU on the destination, or move guests from old to new '
       'QEMU only ([workarounds] skip_hypervisor_version_check_on_lm '
       'turns the check off, not the risk)',
       'nova nova/conductor/tasks/live_migrate.py '
       'LiveMigrationTask._check_compatible_with_source_hypervisor '
       '(DestinationHypervisorTooOld)'),
    _p('nova-precheck',
       r'Migration pre-check error: (?P<reason>[^\n]*)',
       None, None, None,
       'nova nova/exception.py MigrationPreCheckError',
       kind=WRAPPER),
    _p('nova-invalid-cpu-info',
       r'Unacceptable CPU info: (?P<reason>[^\n]*)',
       None, None, None,
       'nova nova/exception.py InvalidCPUInfo (raised by '
       'LibvirtDriver._compare_cpu)',
       kind=WRAPPER),
    # nova's conductor tries the scheduler's hosts one by one and logs
    # each refusal at DEBUG only; the API keeps just this.
    _p('nova-no-valid-host',
       r'No valid host was found\.(?P<reason>[^\n]*)',
       None, None,
       'nova-conductor logs each destination it refused at DEBUG '
       '("Skipping host: H because: ..."): explain that line with '
       '--error-text; "migcompat server check SERVER" shows the hosts '
       'migcompat\'s filter would refuse, and why',
       'nova nova/scheduler/manager.py SchedulerManager.'
       '_ensure_sufficient_hosts (NoValidHost); nova/conductor/tasks/'
       'live_migrate.py LiveMigrationTask._find_destination',
       kind=WRAPPER),
)
