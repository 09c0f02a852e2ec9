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

"""The migcompat profile / snapshot / factors commands, run for real."""

import json
import os
import shutil
import tempfile

import testtools

from tests import cli

from migcompat_filter.host import reader
from migcompat_filter.host import source as hostsource
from migcompat_filter import profile as profile_mod

HOSTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..',
                     'fixtures', 'hosts')
MILAN = os.path.join(HOSTS, 'epyc-milan-nested-l1')


run = cli.run


class CliTestCase(testtools.TestCase):

    def setUp(self):
        super(CliTestCase, self).setUp()
        self.tmp = tempfile.mkdtemp(prefix='migcompat-cli-')
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def assertUserError(self, result, *needles):
        rc, out, err = result
        self.assertEqual(2, rc, err)
        self.assertNotIn('Traceback', err)
        for needle in needles:
            self.assertIn(needle, err)


class TestProfileCommand(CliTestCase):

    def test_json_is_the_profile(self):
        rc, out, err = run('profile', '--root', MILAN, '-f', 'json')
        self.assertEqual(0, rc, err)
        expected = reader.read_profile(
            hostsource.SnapshotSource(MILAN)).to_dict()
        self.assertEqual(expected, json.loads(out))
        for key in ('cpu_model', 'firmware_version', 'firmware_settings',
                    'kernel_version', 'kernel_settings',
                    'microcode_version', 'qemu_version', 'libvirt_version',
                    'nested_virt', 'cpu_mode', 'cpu_features'):
            self.assertIn(key, expected)
        self.assertEqual('0x1000065', expected['microcode_version'])

    def test_table_shows_unknown_with_reason(self):
        rc, out, err = run('profile', '--root', MILAN)
        self.assertEqual(0, rc, err)
        line = [ln for ln in out.splitlines() if 'firmware_version' in ln]
        self.assertIn('unknown: no DMI data', line[0])
        self.assertIn('7.2.22', out)

    def test_root_missing_or_not_a_directory(self):
        self.assertUserError(
            run('profile', '--root', os.path.join(self.tmp, 'nope')),
            'does not exist')
        path = os.path.join(self.tmp, 'file')
        open(path, 'w').close()
        self.assertUserError(run('profile', '--root', path),
                             'is not a directory')

    def test_connect_with_root_refused(self):
        self.assertUserError(
            run('profile', '--root', MILAN, '--connect', 'test:///default'),
            '--connect applies to the live host')

    def test_bad_snapshot_files_are_unknown_not_tracebacks(self):
        os.makedirs(os.path.join(self.tmp, 'snap/libvirt'))
        with open(os.path.join(self.tmp, 'snap/libvirt/capabilities.xml'),
                  'w') as f:
            f.write('<!DOCTYPE x [<!ENTITY a "aaaa">]><capabilities>&a;'
                    '</capabilities>')
        rc, out, err = run('profile', '--root',
                           os.path.join(self.tmp, 'snap'), '-f', 'json')
        self.assertEqual(0, rc, err)
        self.assertNotIn('Traceback', err)
        data = json.loads(out)
        self.assertIn('refused unsafe XML', data['tsc']['reason'])

    def test_unreachable_libvirt_rest_still_read(self):
        rc, out, err = run(
            'profile', '-f', 'json', '--connect',
            'qemu+unix:///system?socket=/nonexistent/sock')
        # A failure (doc/source/cli.rst: libvirt down exits 1), said on
        # stderr; the profile is still printed.
        self.assertEqual(1, rc, err)
        self.assertIn('cannot connect to libvirt', err)
        data = json.loads(out)
        for name in ('qemu_version', 'libvirt_version', 'host_model',
                     'usable_models', 'machine_types'):
            self.assertTrue(data[name].get('unknown'), name)
            self.assertIn('cannot connect to libvirt', data[name]['reason'])
        with open('/proc/sys/kernel/osrelease') as f:
            self.assertEqual(f.read().strip(), data['kernel_version'])

    def test_missing_nova_config(self):
        self.assertUserError(
            run('profile', '--connect', 'test:///default', '--nova-config',
                os.path.join(self.tmp, 'nova.conf')),
            'nova.conf: no such file')


class TestSnapshotCommand(CliTestCase):

    def nova_conf(self):
        path = os.path.join(self.tmp, 'nova.conf')
        with open(path, 'w') as f:
            f.write('[DEFAULT]\ntransport_url = rabbit://nova:S3CRET@mq\n'
                    '[libvirt]\ncpu_mode = custom\n'
                    'cpu_models = Cascadelake-Server, Skylake-Server\n'
                    '[database]\nconnection = mysql://nova:S3CRET@db/nova\n')
        return path

    def test_round_trip_through_test_driver(self):
        nova = self.nova_conf()
        snap = os.path.join(self.tmp, 'snap')
        rc, out, err = run('snapshot', snap, '--connect', 'test:///default',
                           '--nova-config', nova)
        self.assertEqual(0, rc, err)
        rc, live, err = run('profile', '-f', 'json', '--connect',
                            'test:///default', '--nova-config', nova)
        self.assertEqual(0, rc, err)
        rc, offline, err = run('profile', '-f', 'json', '--root', snap)
        self.assertEqual(0, rc, err)
        live, data = json.loads(live), json.loads(offline)
        # The test driver has no domain capabilities: those factors are
        # unknown on both sides (the reason names the live URI or the
        # snapshot file); every other value is equal.
        self.assertEqual(sorted(live), sorted(data))
        for name in live:
            if isinstance(live[name], dict) and live[name].get('unknown'):
                self.assertTrue(data[name].get('unknown'), name)
            else:
                self.assertEqual(live[name], data[name], name)
        self.assertIn('not QEMU', data['qemu_version']['reason'])
        self.assertEqual('custom', data['cpu_mode'])
        self.assertEqual(['Cascadelake-Server', 'Skylake-Server'],
                         data['cpu_models'])
        for dirpath, _, files in os.walk(snap):
            for name in files:
                with open(os.path.join(dirpath, name), 'rb') as f:
                    self.assertNotIn(b'S3CRET', f.read(), name)
        self.assertFalse(os.path.exists(os.path.join(snap, 'nova',
                                                     'nova.conf')))

    def test_reads_files_and_config_dir_as_nova_does(self):
        # nova-compute is often started with two files and nova.conf.d/:
        # later files win, the directory's *.conf last (oslo.config).
        nova = self.nova_conf()
        extra = os.path.join(self.tmp, 'nova-compute.conf')
        with open(extra, 'w') as f:
            f.write('[libvirt]\ncpu_models = Icelake-Server\n')
        conf_d = os.path.join(self.tmp, 'nova.conf.d')
        os.mkdir(conf_d)
        with open(os.path.join(conf_d, '50-mode.conf'), 'w') as f:
            f.write('[libvirt]\ncpu_mode = host-passthrough\n')
        rc, out, err = run('profile', '-f', 'json', '--connect',
                           'test:///default', '--nova-config', nova,
                           '--nova-config', extra)
        self.assertEqual(0, rc, err)
        data = json.loads(out)
        self.assertEqual(('custom', ['Icelake-Server']),
                         (data['cpu_mode'], data['cpu_models']))
        rc, out, err = run('profile', '-f', 'json', '--connect',
                           'test:///default', '--nova-config', nova,
                           '--nova-config-dir', conf_d)
        self.assertEqual(0, rc, err)
        self.assertEqual('host-passthrough', json.loads(out)['cpu_mode'])

    def test_missing_nova_config_dir(self):
        self.assertUserError(
            run('profile', '--connect', 'test:///default',
                '--nova-config-dir', os.path.join(self.tmp, 'nova.conf.d')),
            'nova.conf.d: no such directory')

    def test_refuses_non_empty_non_snapshot_dir(self):
        with open(os.path.join(self.tmp, 'precious.txt'), 'w') as f:
            f.write('keep me')
        self.assertUserError(
            run('snapshot', self.tmp, '--connect', 'test:///default'),
            'is not a migcompat snapshot')
        self.assertEqual(['precious.txt'], os.listdir(self.tmp))

    def test_failed_snapshot_leaves_nothing(self):
        snap = os.path.join(self.tmp, 'snap')
        broken = os.path.join(self.tmp, 'broken.conf')
        with open(broken, 'wb') as f:
            f.write(b'[libvirt\ncpu_mode = \xff\n')
        self.assertUserError(
            run('snapshot', snap, '--connect', 'test:///default',
                '--nova-config', broken), 'broken.conf')
        self.assertEqual(['broken.conf'], os.listdir(self.tmp))


class TestFactorsCommand(CliTestCase):

    def test_lists_every_factor(self):
        rc, out, err = run('factor', 'list', '-f', 'json')
        self.assertEqual(0, rc, err)
        names = {row['name'] for row in json.loads(out)}
        self.assertTrue(set(profile_mod.FACTOR_SCHEMA) <= names)
        # The old name, for one release.
        rc, old, err = run('factors', '-f', 'json')
        self.assertEqual((0, json.loads(out)), (rc, json.loads(old)), err)

    def test_table_stays_narrow_when_piped(self):
        rc, out, err = run('factor', 'list')
        self.assertEqual(0, rc, err)
        self.assertLessEqual(max(len(line) for line in out.splitlines()),
                             100)
        rc, out, err = run('factor', 'list', '--long', '-f', 'json')
        rows = {row['name']: row for row in json.loads(out)}
        self.assertEqual('dict', rows['cpu_features']['type'])
        self.assertTrue(rows['cpu_features']['schema'].startswith('dict: '))
