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

"""Small exits and messages, each as a user meets it."""

import os
import signal
import subprocess
import sys

import fixtures
import testtools

from migcompat_filter.exception import InputError
from migcompat_filter.fleet import whatif
from migcompat_filter import profile as profile_mod
from tests import cli

ROOT = os.path.join(os.path.dirname(__file__), '..', '..')
HOST = os.path.join(ROOT, 'tests', 'fixtures', 'hosts',
                    'epyc-milan-nested-l1')


class TestExits(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.tmp = self.useFixture(fixtures.TempDir()).path

    def test_lone_surrogate_in_a_profile_is_bad_input(self):
        path = os.path.join(self.tmp, 'p.json')
        with open(path, 'w') as f:
            f.write('{"schema_version": %d, "kernel_version": "\\ud800"}'
                    % profile_mod.SCHEMA_VERSION)
        rc, out, err = cli.run('trait', 'list', '--profile', path)
        self.assertEqual(2, rc, err)
        self.assertIn(path, err)
        self.assertIn('lone surrogate', err)
        self.assertNotIn('Traceback', err)

    def test_workers_must_be_positive(self):
        for value in ('0', '-3'):
            rc, out, err = cli.run('host', 'list', '--workers', value,
                                   '--placement-url', 'http://127.0.0.1:9')
            self.assertEqual(2, rc, err)
            self.assertIn('--workers', err)
            self.assertIn('must be 1 or more', err)

    def test_config_file_fifo_is_named_as_such(self):
        fifo = os.path.join(self.tmp, 'fifo.conf')
        os.mkfifo(fifo)
        for args in (('host', 'list', '--placement-url',
                      'http://127.0.0.1:9'),
                     ('profile', 'compare', HOST, HOST)):
            rc, out, err = cli.run('--config-file', fifo, *args)
            self.assertEqual(2, rc, (args, err))
            self.assertIn('--config-file %s: is not a regular file (a FIFO)'
                          % fifo, err)


class TestWhatIfSettings(testtools.TestCase):

    def test_a_factor_set_twice_is_refused(self):
        e = self.assertRaises(InputError, whatif.parse_changes,
                              ['qemu_version=8.2.2', 'qemu_version=1.0'])
        self.assertIn('--set qemu_version=1.0: qemu_version is already set '
                      'by --set qemu_version=8.2.2', str(e))
        e = self.assertRaises(InputError, whatif.parse_changes,
                              ['kernel_cmdline=tsx=off',
                               'kernel_cmdline=tsx=on'])
        self.assertIn('kernel_cmdline tsx is already set', str(e))
        # Two different kernel_cmdline keys are two settings.
        self.assertEqual(2, len(whatif.parse_changes(
            ['kernel_cmdline=tsx=off', 'kernel_cmdline=nosmt'])))

    def test_only_ascii_digits_and_no_trailing_newline(self):
        for value in ('\u0668.\u0662.\u0662', '\uff18.2.2', '8.2.2\n'):
            self.assertRaises(InputError, whatif.parse_changes,
                              ['qemu_version=' + value])


class TestPlacementServerDiesWithItsTestRun(testtools.TestCase):

    def test_killed_test_process_leaves_no_server(self):
        proc = subprocess.Popen(
            [sys.executable, '-c',
             'import sys, time\n'
             'from tests.functional import placement_server\n'
             's = placement_server.PlacementServer()\n'
             's.setUp()\n'
             'print(s.process.pid, flush=True)\n'
             'time.sleep(600)\n'],
            cwd=ROOT, stdout=subprocess.PIPE, text=True)
        self.addCleanup(proc.wait)
        self.addCleanup(proc.kill)
        pid = int(proc.stdout.readline())
        os.kill(pid, 0)  # the server runs
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        # The kernel signals the server; it exits (gunicorn's graceful
        # stop). The bound only keeps a broken fix from hanging the run.
        for _ in range(3000):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass
            subprocess.run(['sleep', '0.2'])
        else:
            os.kill(pid, signal.SIGKILL)
            self.fail('the placement server outlived its test process')


class TestSnapshotDomains(testtools.TestCase):
    """A snapshot's libvirt/domains/: one file per guest, named after its
    <uuid>, of the host's architecture.
    """

    UUID = '3f0a7c1e-2b4d-4e8a-9c61-5d2f8e7a1b90'

    def setUp(self):
        super().setUp()
        import shutil
        self.snap = os.path.join(self.useFixture(fixtures.TempDir()).path,
                                 's')
        shutil.copytree(os.path.join(ROOT, 'tests', 'fixtures', 'hosts',
                                     'this-host-epyc-nested-l1-20261125'),
                        self.snap, symlinks=True)
        os.makedirs(os.path.join(self.snap, 'libvirt', 'domains'))
        with open(os.path.join(ROOT, 'tests', 'fixtures', 'guests',
                               'host-model-guest.live.xml')) as f:
            self.xml = f.read()

    def write(self, name, text):
        with open(os.path.join(self.snap, 'libvirt', 'domains', name),
                  'w') as f:
            f.write(text)

    def guests(self):
        from migcompat_filter.host import reader
        from migcompat_filter.host import source as hostsource
        return reader.read_profile(hostsource.SnapshotSource(self.snap),
                                   names=['running_guests'])[
                                       'running_guests']

    def unjudged(self):
        """The reasons of the guests that are not judged (the others
        still count: issue 22, item 2).
        """
        return ' | '.join(self.guests()['unjudged']['reasons'])

    def test_one_guest_is_read(self):
        self.write(self.UUID + '.xml', self.xml)
        self.assertEqual(1, self.guests()['count'])

    def test_file_not_named_after_its_uuid(self):
        self.write('..evil.xml', self.xml)
        reason = self.unjudged()
        self.assertIn('libvirt/domains/..evil.xml: holds guest %s'
                      % self.UUID, reason)

    def test_same_uuid_twice(self):
        self.write(self.UUID + '.xml', self.xml)
        other = 'aaaaaaaa-2b4d-4e8a-9c61-5d2f8e7a1b90'
        self.write(other + '.xml', self.xml.replace(self.UUID, other, 1)
                   .replace('<uuid>%s' % other, '<uuid>%s' % self.UUID))
        # Counted once, never twice: the second file is refused by name.
        self.assertEqual(1, self.guests()['count'])
        self.assertIn('%s.xml: holds guest %s' % (other, self.UUID),
                      self.unjudged())

    def test_guest_of_another_architecture(self):
        self.write(self.UUID + '.xml', self.xml.replace(
            "arch='x86_64'", "arch='aarch64'", 1))
        self.assertIn('a aarch64 guest on a x86_64 host', self.unjudged())


class TestSigtermDuringStartUp(testtools.TestCase):
    """``profile publish --interval``: a SIGTERM while the command starts
    stops it cleanly (exit 0), as cli.rst says; a one-shot publish still
    dies of it.
    """

    SCRIPT = (
        'import os, signal, sys\n'
        'from migcompat_filter.cmd import entry_points, shell\n'
        'real = entry_points.prime_stevedore\n'
        'def during_start_up():\n'
        '    os.kill(os.getpid(), signal.SIGTERM)\n'
        '    real()\n'
        'entry_points.prime_stevedore = during_start_up\n'
        'sys.exit(shell.main(sys.argv[1:]))\n')

    def publish(self, *args):
        conf = os.path.join(self.useFixture(fixtures.TempDir()).path,
                            'empty.conf')
        open(conf, 'w').close()
        return subprocess.run(
            [sys.executable, '-c', self.SCRIPT, '--config-file', conf,
             'profile', 'publish', '--root', HOST, '--dry-run'] + list(args),
            capture_output=True, text=True, timeout=300, cwd=ROOT)

    def test_interval_stops_cleanly(self):
        proc = self.publish('--interval', '60')
        self.assertEqual(0, proc.returncode, proc.stderr)
        self.assertIn('stopping on SIGTERM', proc.stderr)

    def test_one_shot_dies_of_it(self):
        self.assertEqual(-signal.SIGTERM, self.publish().returncode)


class TestCorruptedPayloadNamesItsTrait(testtools.TestCase):

    def test_the_payloads_traits_are_named_not_the_factors_first(self):
        from migcompat_filter.host import reader
        from migcompat_filter.host import source as hostsource
        from migcompat_filter.traits import codec
        prof = reader.read_profile(hostsource.SnapshotSource(os.path.join(
            ROOT, 'tests', 'fixtures', 'hosts',
            'this-host-epyc-nested-l1-20261125')))
        names = codec.encode(prof)
        [first] = [n for n in names if 'PACKED_VULN_1OF' in n]
        self.assertTrue(any('EMPTY_MODPROBE' in n for n in names))
        bad = first[:-3] + '189'  # 1, 8 and 9 are not base32
        parsed = codec.parse([bad if n == first else n for n in names])
        named = {p.trait for p in parsed.problems}
        self.assertIn(bad, named)
        self.assertTrue(all('PACKED_VULN_' in n for n in named), named)
        reason = parsed.profile['kernel_settings'].reason
        self.assertIn(bad, reason)
        self.assertNotIn('EMPTY_MODPROBE', reason)
