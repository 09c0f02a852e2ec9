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

"""Real tiny KVM guests on the machine's libvirtd, for functional tests.

``RunningGuest`` starts a transient, diskless domain with a few MiB of RAM
(it sits in the firmware looking for a boot device: enough for libvirt to
expand its CPU and machine type) and destroys it in cleanup, also when the
test fails. Use it as a fixture::

    conn = guests.open_or_skip(self)
    guest = self.useFixture(guests.RunningGuest(conn))
    guest.uuid, guest.live_xml()

CI's ``tools/setup-host.sh`` starts libvirtd and virtlogd (libvirtd cannot
start a guest without virtlogd).
"""

import os
import uuid as uuid_mod

import fixtures
import testtools

URI = 'qemu:///system'

#: host-model, as nova asks for it, with arch-capabilities disabled: on an
#: L1 nested KVM host on AMD EPYC (this project's development and CI
#: machines) the host-model includes arch-capabilities, and QEMU aborts
#: the guest on MSR 0x10a (IA32_ARCH_CAPABILITIES), which the L0 hypervisor
#: does not let it set. On bare metal the disable is harmless.
HOST_MODEL_CPU = ("<cpu mode='host-model' check='partial'>"
                  "<feature policy='disable' name='arch-capabilities'/>"
                  "</cpu>")

#: A custom guest as nova writes one (model and extra flags, no vendor).
#: svm is disabled because this nested host offers no nested SVM to its
#: own guests, and qemu64 has it.
CUSTOM_CPU = ("<cpu mode='custom' match='exact'><model>qemu64</model>"
              "<feature policy='disable' name='svm'/>"
              "<feature policy='require' name='x2apic'/></cpu>")

DOMAIN = """<domain type='kvm'>
  <name>%(name)s</name>
  <uuid>%(uuid)s</uuid>
  <memory unit='MiB'>%(memory)d</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='%(machine)s'>hvm</type></os>
  %(cpu)s
  %(clock)s
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <graphics type='vnc' autoport='yes' listen='127.0.0.1' passwd='changeme'/>
    <memballoon model='none'/>
  </devices>
</domain>"""


def _libvirt():
    import libvirt
    # libvirt prints every error to stderr by default; the tests report
    # their own.
    libvirt.registerErrorHandler(lambda ctx, err: None, None)
    return libvirt


def open_or_skip(test, uri=URI):
    """A read-write connection to uri, closed at the test's cleanup.

    Skips the test (with the reason) when /dev/kvm is missing or libvirtd
    does not answer: those are machines that cannot run a KVM guest.
    """
    if not os.path.exists('/dev/kvm'):
        test.skipTest('/dev/kvm is missing: this machine cannot run a KVM '
                      'guest')
    try:
        libvirt = _libvirt()
    except ImportError as e:
        test.skipTest('libvirt-python is not installed: %s' % e)
    try:
        conn = libvirt.open(uri)
    except libvirt.libvirtError as e:
        test.skipTest('libvirtd does not answer on %s (CI starts it with '
                      'tools/setup-host.sh): %s' % (uri,
                                                    e.get_error_message()))
    test.addCleanup(conn.close)
    return conn


class RunningGuest(fixtures.Fixture):
    """A transient diskless KVM guest, destroyed at cleanup.

    ``cpu_xml`` is the domain's ``<cpu>`` (default: host-model with
    arch-capabilities disabled, see HOST_MODEL_CPU), ``machine`` the
    machine type to ask for (libvirt expands ``q35`` to ``pc-q35-X.Y``),
    ``clock_xml`` the ``<clock>``. The domain has a VNC password
    (``changeme``) so that tests can show it never leaves the host.
    """

    def __init__(self, conn, cpu_xml=HOST_MODEL_CPU, machine='q35',
                 clock_xml="<clock offset='utc'/>", memory_mib=16):
        super(RunningGuest, self).__init__()
        self.conn = conn
        self.uuid = str(uuid_mod.uuid4())
        self.name = 'migcompat-test-%s' % self.uuid[:8]
        self.xml = DOMAIN % {'name': self.name, 'uuid': self.uuid,
                             'memory': memory_mib, 'machine': machine,
                             'cpu': cpu_xml, 'clock': clock_xml}
        self.domain = None

    def _setUp(self):
        libvirt = _libvirt()
        try:
            self.domain = self.conn.createXML(self.xml, 0)
        except libvirt.libvirtError as e:
            raise testtools.TestCase.failureException(
                'libvirt could not start the test guest %s (is virtlogd '
                'running? tools/setup-host.sh starts it): %s\n%s'
                % (self.name, e.get_error_message(), self.xml))
        self.addCleanup(self._destroy)

    def _destroy(self):
        libvirt = _libvirt()
        try:
            self.domain.destroy()
        except libvirt.libvirtError as e:
            if e.get_error_code() != libvirt.VIR_ERR_NO_DOMAIN:
                raise

    def live_xml(self, flags=0):
        return self.domain.XMLDesc(flags)


class CountingConnection(object):
    """A libvirt connection proxy counting the calls list_running makes."""

    def __init__(self, conn):
        self._conn = conn
        self.calls = []
        self.listed = []

    def listAllDomains(self, flags=0):
        self.calls.append(('listAllDomains', flags))
        self.listed = [_CountingDomain(d, self.calls)
                       for d in self._conn.listAllDomains(flags)]
        return self.listed

    def __getattr__(self, name):
        return getattr(self._conn, name)


class _CountingDomain(object):

    def __init__(self, dom, calls):
        self._dom = dom
        self._calls = calls

    def XMLDesc(self, flags=0):
        self._calls.append(('XMLDesc', flags))
        return self._dom.XMLDesc(flags)

    def __getattr__(self, name):
        return getattr(self._dom, name)


def cpu_map_expander():
    """expand(model) -> features through libvirt's CPU map, None if unknown.

    Uses the daemon-less test driver, so it needs no libvirtd. Call
    ``expand.close()`` when done (tests: ``addCleanup(expand.close)``).
    """
    libvirt = _libvirt()
    conn = libvirt.open('test:///default')

    def expand(model):
        cpu = '<cpu><arch>x86_64</arch><model>%s</model></cpu>' % model
        try:
            out = conn.baselineCPU(
                [cpu], libvirt.VIR_CONNECT_BASELINE_CPU_EXPAND_FEATURES)
        except libvirt.libvirtError:
            return None
        import xml.etree.ElementTree as ET  # our own libvirt's output
        return {f.get('name') for f in ET.fromstring(out).findall('feature')
                if f.get('policy', 'require') == 'require'}
    expand.close = conn.close
    return expand
