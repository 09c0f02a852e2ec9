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

"""Host sources: safe file reading and libvirt documents."""

import os
import shutil
import tempfile

import testtools

from migcompat_filter.host import source as hostsource


class TestFiles(testtools.TestCase):

    def setUp(self):
        super(TestFiles, self).setUp()
        self.root = tempfile.mkdtemp(prefix='migcompat-test-')
        self.addCleanup(shutil.rmtree, self.root, True)
        self.src = hostsource.SnapshotSource(self.root)

    def put(self, relpath, data):
        full = os.path.join(self.root, relpath)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, 'wb') as f:
            f.write(data)
        return full

    def test_not_a_directory(self):
        path = self.put('file', b'x')
        e = self.assertRaises(hostsource.SourceError,
                              hostsource.SnapshotSource, path)
        self.assertIn('is not a directory', str(e))

    def test_missing_and_not_utf8(self):
        e = self.assertRaises(hostsource.SourceError, self.src.read_text,
                              'proc/cmdline')
        self.assertEqual('proc/cmdline: does not exist', str(e))
        self.put('proc/cmdline', b'a=\xff\n')
        e = self.assertRaises(hostsource.SourceError, self.src.read_text,
                              'proc/cmdline')
        self.assertIn('not UTF-8 text (byte 0xff at offset 2)', str(e))
        self.assertEqual('a=\\xff\n', self.src.read_text(
            'proc/cmdline', errors='backslashreplace'))

    def test_link_inside_snapshot_is_followed(self):
        self.put('real/osrelease', b'6.1.0\n')
        os.makedirs(os.path.join(self.root, 'proc/sys/kernel'))
        os.symlink('../../../real/osrelease',
                   os.path.join(self.root, 'proc/sys/kernel/osrelease'))
        self.assertEqual('6.1.0',
                         self.src.read_value('proc/sys/kernel/osrelease'))

    def test_link_leading_out_is_refused_even_via_a_directory(self):
        os.symlink('/proc', os.path.join(self.root, 'proc'))
        self.assertTrue(self.src.exists('proc/cpuinfo'))
        e = self.assertRaises(hostsource.SourceError, self.src.read_bytes,
                              'proc/cpuinfo')
        self.assertIn('link leading outside the snapshot', str(e))

    def test_live_procfs_sysctl_reads(self):
        # procfs sysctl files refuse one huge read() (ENOMEM); the reader
        # must read them in chunks.
        live = hostsource.LiveSource('/', 'test:///default')
        with open('/proc/sys/kernel/osrelease') as f:
            expected = f.read().strip()
        self.assertEqual(expected,
                         live.read_value('proc/sys/kernel/osrelease'))


class TestRunningDomains(TestFiles):
    """A snapshot's running guests: libvirt/domains/*.xml."""

    def test_each_xml_file_by_name_with_its_path_as_origin(self):
        self.put('libvirt/domains/b.xml', b'<domain>b</domain>')
        self.put('libvirt/domains/a.xml', b'<domain>a</domain>')
        self.put('libvirt/domains/README', b'not a guest')
        self.assertEqual(
            [('libvirt/domains/a.xml', '<domain>a</domain>'),
             ('libvirt/domains/b.xml', '<domain>b</domain>')],
            self.src.running_domains())

    def test_empty_directory_means_no_guest(self):
        os.makedirs(os.path.join(self.root, 'libvirt', 'domains'))
        self.assertEqual([], self.src.running_domains())

    def test_missing_directory_means_not_captured(self):
        e = self.assertRaises(hostsource.FactorUnknown,
                              self.src.running_domains)
        self.assertIn('libvirt/domains/: not in the snapshot', str(e))

    def test_link_out_of_the_snapshot_is_refused(self):
        outside = tempfile.mkdtemp(prefix='migcompat-outside-')
        self.addCleanup(shutil.rmtree, outside, True)
        with open(os.path.join(outside, 'x.xml'), 'w') as f:
            f.write('<domain/>')
        os.makedirs(os.path.join(self.root, 'libvirt', 'domains'))
        os.symlink(os.path.join(outside, 'x.xml'),
                   os.path.join(self.root, 'libvirt', 'domains', 'x.xml'))
        e = self.assertRaises(hostsource.SourceError,
                              self.src.running_domains)
        self.assertIn('leading outside the snapshot', str(e))


class TestLibvirt(testtools.TestCase):

    def test_version_text(self):
        self.assertEqual(
            {'libvirt': '9.0.0', 'hypervisor': 'QEMU', 'qemu': '7.2.22'},
            hostsource.parse_version_text(
                'Compiled against library: libvirt 9.0.0\n'
                'Using library: libvirt 9.0.0\nUsing API: QEMU 9.0.0\n'
                'Running hypervisor: QEMU 7.2.22\n'))
        e = self.assertRaises(hostsource.SourceError,
                              hostsource.parse_version_text, 'hello\n')
        self.assertIn('libvirt/version.txt', str(e))

    def test_version_int(self):
        self.assertEqual('7.2.22', hostsource.version_int_to_str(7002022))

    def test_test_driver_without_daemon(self):
        live = hostsource.LiveSource('/', 'test:///default')
        self.addCleanup(live.close)
        caps = live.libvirt_xml('capabilities')
        self.assertIsNotNone(caps.find('host/cpu'))
        self.assertIn('libvirt', live.versions())

    def test_unreachable_libvirt(self):
        live = hostsource.LiveSource(
            '/', 'qemu+unix:///system?socket=/nonexistent/libvirt-sock')
        e = self.assertRaises(hostsource.SourceError, live.libvirt_xml,
                              'capabilities')
        self.assertIn('cannot connect to libvirt at qemu+unix', str(e))

    def test_expand_unknown_model_names_it(self):
        src = hostsource.LiveSource('/', 'test:///default')
        e = self.assertRaises(
            hostsource.SourceError, src.expand_cpu,
            '<cpu><arch>x86_64</arch><model>No-Such-Model-v9</model></cpu>')
        self.assertIn('No-Such-Model-v9', str(e))


class TestWhatSeveralFactorsRead(testtools.TestCase):
    """The readings factors share are HostSource methods, for both kinds
    of source alike.
    """

    def setUp(self):
        super(TestWhatSeveralFactorsRead, self).setUp()
        self.root = tempfile.mkdtemp(prefix='migcompat-test-')
        self.addCleanup(shutil.rmtree, self.root, True)
        self.src = hostsource.SnapshotSource(self.root)

    def put(self, relpath, text):
        full = os.path.join(self.root, relpath)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, 'w') as f:
            f.write(text)

    def test_cpuinfo_first_processor_and_flags(self):
        self.put('proc/cpuinfo', 'processor : 0\nflags : fpu vme\n\n'
                                 'processor : 1\nflags : other\n')
        self.assertEqual({'processor': '0', 'flags': 'fpu vme'},
                         self.src.cpuinfo())
        self.assertEqual(['fpu', 'vme'], self.src.cpuinfo_flags())

    def test_cpuinfo_without_flags(self):
        self.put('proc/cpuinfo', 'processor : 0\n')
        e = self.assertRaises(hostsource.FactorUnknown,
                              self.src.cpuinfo_flags)
        self.assertEqual('proc/cpuinfo: has no "flags" line', str(e))

    def test_host_cpu_and_dmi(self):
        self.put('libvirt/capabilities.xml',
                 '<capabilities><host><cpu><arch>x86_64</arch></cpu>'
                 '</host></capabilities>')
        self.put('sys/class/dmi/id/bios_vendor', 'Dell Inc.\n')
        self.assertEqual('x86_64', self.src.host_cpu().findtext('arch'))
        self.assertEqual('Dell Inc.', self.src.dmi('bios_vendor'))

    def test_snapshot_nova_cpu_options(self):
        e = self.assertRaises(hostsource.FactorUnknown,
                              self.src.nova_cpu_options)
        self.assertIn('nova/cpu_mode: not in the snapshot', str(e))
        self.put('nova/cpu_mode', 'custom\n')
        self.assertEqual(('custom', []), self.src.nova_cpu_options())
        self.put('nova/cpu_models', 'IvyBridge,Haswell\n')
        self.assertEqual(('custom', ['IvyBridge', 'Haswell']),
                         self.src.nova_cpu_options())

    def test_live_nova_cpu_options_from_nova_conf(self):
        self.put('nova.conf', '[libvirt]\ncpu_mode = custom\n'
                              'cpu_models = IvyBridge\n')
        live = hostsource.LiveSource('/', 'test:///default')
        live.nova_config = os.path.join(self.root, 'nova.conf')
        self.assertEqual(('custom', ['IvyBridge']), live.nova_cpu_options())

    def test_a_missing_directory(self):
        self.assertFalse(self.src.missing_is_empty('etc/modprobe.d'))
        live = hostsource.LiveSource('/', 'test:///default')
        self.assertTrue(live.missing_is_empty('etc/modprobe.d'))
