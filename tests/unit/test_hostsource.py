"""Host sources: safe file reading and libvirt documents."""

import os
import shutil
import tempfile

import testtools

from migcompat_filter import hostsource


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
