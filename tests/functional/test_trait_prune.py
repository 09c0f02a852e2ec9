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

"""``migcompat trait prune`` against a real placement server.

Only unused CUSTOM_MIGCOMPAT_* names go: ours that a provider has, other
writers' CUSTOM_ traits (a nova-compute-like writer racing in its own
process) and unused CUSTOM_ names that are not ours all stay. A name a
provider gets between the listing and the delete is refused by Placement
(409) and reported, not fatal.
"""

import io
import json
import os
import subprocess
import sys
import uuid

import fixtures
import testtools

from migcompat_filter.cmd import shell
from migcompat_filter.placement import client as placement
from tests import cli
from tests.functional import placement_server

IN_USE_OURS = ['CUSTOM_MIGCOMPAT_SCHEMA_1', 'CUSTOM_MIGCOMPAT_ARCH_X86_264']
UNUSED_OURS = ['CUSTOM_MIGCOMPAT_UCODE_0X1000001',
               'CUSTOM_MIGCOMPAT_KVER_6_001_000_1FC_1V595']
#: Not ours, though unused (and one looks like ours).
UNUSED_FOREIGN = ['CUSTOM_GOLD', 'CUSTOM_MIGCOMPATIBLE',
                  'CUSTOM_MIGCOMPAT']
NOVA_OWN = ['CUSTOM_NOVA_WRITER_A', 'CUSTOM_NOVA_WRITER_B']


class TraitPruneTest(placement_server.ServerPerClass, testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.client = placement.PlacementClient(
            placement.adapter_noauth(self.server.url))
        for name in IN_USE_OURS + UNUSED_OURS + UNUSED_FOREIGN + NOVA_OWN:
            self.client.create_trait(name)
        self.rp = self.server.create_provider()
        self.client.put_traits(self.rp['uuid'],
                               IN_USE_OURS + ['HW_CPU_X86_AVX2'],
                               self.rp['generation'])

    def existing(self, names):
        resp = self.server.request('GET',
                                   '/traits?name=in:' + ','.join(names))
        return set(resp.json()['traits'])

    def prune(self, *args):
        rc, out, err = cli.run('trait', 'prune', '--placement-url',
                               self.server.url, '-f', 'json', *args)
        self.assertEqual(0, rc, err)
        return {r['name']: r['result'] for r in json.loads(out)}, err

    def test_dry_run_then_prune_only_unused_names_of_ours(self):
        rows, err = self.prune('--dry-run')
        self.assertEqual({n: 'would delete' for n in UNUSED_OURS}, rows)
        self.assertIn('would be deleted', err)
        self.assertEqual(set(UNUSED_OURS), self.existing(UNUSED_OURS))

        rows, err = self.prune()
        self.assertEqual({n: 'deleted' for n in UNUSED_OURS}, rows)
        self.assertEqual('2 deleted\n', err)
        self.assertEqual(set(), self.existing(UNUSED_OURS))
        keep = IN_USE_OURS + UNUSED_FOREIGN + NOVA_OWN
        self.assertEqual(set(keep), self.existing(keep))
        self.assertEqual(set(IN_USE_OURS) | {'HW_CPU_X86_AVX2'},
                         self.server.traits(self.rp['uuid'])[0])

        rows, err = self.prune()
        self.assertEqual({}, rows)
        self.assertIn('no unused CUSTOM_MIGCOMPAT_* trait names', err)

    def test_nova_compute_writer_keeps_its_traits(self):
        # nova-compute toggles its own CUSTOM_ traits on the provider: at
        # any moment some are unused, and they must survive all the same.
        writer = subprocess.Popen(
            [sys.executable, '-m', 'tests.functional.nova_compute_writer',
             self.server.url, self.rp['uuid']] + NOVA_OWN,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            cwd=os.path.join(os.path.dirname(__file__), '..', '..'))
        self.addCleanup(writer.kill)
        for _ in range(3):
            rows, _err = self.prune()
            self.assertLessEqual(set(rows), set(UNUSED_OURS))
        out, _ = writer.communicate('', timeout=60)
        self.assertEqual(0, writer.returncode)  # none of its PUTs failed
        self.assertGreater(json.loads(out)['rounds'], 0)
        self.assertEqual(set(NOVA_OWN), self.existing(NOVA_OWN))
        self.assertEqual(set(UNUSED_FOREIGN), self.existing(UNUSED_FOREIGN))

    def test_name_taken_before_its_delete_is_reported(self):
        # Another reporter gives a listed name to a provider between the
        # listing and the delete: Placement's 409 is a row, not a failure.
        other = self.server.create_provider()
        taken = UNUSED_OURS[0]
        self.addCleanup(lambda: self.client.put_traits(
            other['uuid'], [], self.server.traits(other['uuid'])[1]))
        real_delete = placement.PlacementClient.delete_trait

        def racing_delete(client, name):
            if name == taken:
                cur, gen = self.server.traits(other['uuid'])
                self.client.put_traits(other['uuid'], cur | {name}, gen)
            return real_delete(client, name)

        self.useFixture(fixtures.MonkeyPatch(
            'migcompat_filter.placement.client.PlacementClient.delete_trait',
            racing_delete))
        stdout, stderr = io.StringIO(), io.StringIO()
        self.useFixture(fixtures.MonkeyPatch('sys.stdout', stdout))
        self.useFixture(fixtures.MonkeyPatch('sys.stderr', stderr))
        rc = shell.MigcompatApp().run(
            ['trait', 'prune', '--placement-url', self.server.url,
             '-f', 'json'])
        self.assertEqual(0, rc, stderr.getvalue())
        rows = {r['name']: r['result'] for r in json.loads(stdout.getvalue())}
        self.assertEqual({taken: 'in use, kept', UNUSED_OURS[1]: 'deleted'},
                         rows)
        self.assertIn('1 deleted, 1 in use, kept', stderr.getvalue())
        self.assertEqual({taken}, self.existing([taken]))

    def test_openstack_migcompat_trait_prune(self):
        # The OSC plugin: OpenStackClient's own auth and session.
        openstack = os.path.join(os.path.dirname(sys.executable), 'openstack')
        if not os.path.exists(openstack):
            self.skipTest('python-openstackclient is not installed')
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(('OS_', 'MIGCOMPAT_'))}
        env['HOME'] = self.useFixture(fixtures.TempDir()).path
        proc = subprocess.run(
            [openstack, '--os-auth-type', 'admin_token', '--os-endpoint',
             self.server.url, '--os-token', 'admin', 'migcompat', 'trait',
             'prune', '--dry-run', '-f', 'json'],
            capture_output=True, text=True, env=env, timeout=120)
        self.assertEqual(0, proc.returncode, proc.stderr)
        self.assertEqual({n: 'would delete' for n in UNUSED_OURS},
                         {r['name']: r['result']
                          for r in json.loads(proc.stdout)})
        self.assertEqual(set(UNUSED_OURS), self.existing(UNUSED_OURS))


class PruneDuringFirstReportTest(placement_server.ServerPerClass,
                                 testtools.TestCase):
    """A prune between a first report's creation of its names and its
    provider write: the report creates the names again and
    writes once more; it fails only when a second prune hits that second
    window, and then cleanly.
    """

    def setUp(self):
        super().setUp()
        # New names for each test: the server lives for the class.
        tag = uuid.uuid4().hex[:8].upper()
        self.NAMES = ['CUSTOM_MIGCOMPAT_QEMU_8_2_%s' % tag,
                      'CUSTOM_MIGCOMPAT_LIBVIRT_10_0_%s' % tag,
                      'CUSTOM_MIGCOMPAT_SCHEMA_2']
        self.client = placement.PlacementClient(
            placement.adapter_noauth(self.server.url))
        self.rp = self.server.create_provider()
        self.prunes = 0

    def prune_after_creation(self, times):
        """A real trait prune just before each provider write (up to
        times): after the report created its new names.
        """
        real = placement.PlacementClient.put_traits

        def put(client, rp_uuid, traits, generation):
            if self.prunes < times:
                self.prunes += 1
                rc, out, err = cli.run('trait', 'prune', '--placement-url',
                                       self.server.url)
                self.assertEqual(0, rc, err)
                self.assertIn('deleted', err)
            return real(client, rp_uuid, traits, generation)
        self.useFixture(fixtures.MonkeyPatch(
            'migcompat_filter.placement.client.PlacementClient.put_traits',
            put))

    def test_report_recreates_names_pruned_under_it(self):
        from migcompat_filter.placement import reporter
        self.prune_after_creation(times=1)
        result = reporter.sync(self.client, self.rp['uuid'], self.NAMES)
        self.assertTrue(result.changed)
        self.assertEqual(1, self.prunes)
        self.assertEqual(set(self.NAMES),
                         self.server.traits(self.rp['uuid'])[0])

    def test_second_prune_fails_the_report_cleanly(self):
        from migcompat_filter.placement import reporter
        self.prune_after_creation(times=2)
        e = self.assertRaises(placement.NoSuchTrait, reporter.sync,
                              self.client, self.rp['uuid'], self.NAMES)
        self.assertIn('No such trait', str(e))
        self.assertEqual(set(), self.server.traits(self.rp['uuid'])[0])
