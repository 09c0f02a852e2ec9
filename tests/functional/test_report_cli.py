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

"""``migcompat report`` on a fresh node: --dry-run without Placement, the
environment variables of the other commands, and -f output, against a
real placement server (gunicorn, sqlite, noauth2) and with none.
"""

import json
import os
import subprocess

import fixtures
import testtools
import yaml

from migcompat_filter.host import reader
from migcompat_filter.host import source as hostsource
from migcompat_filter.placement import client as placement
from migcompat_filter.traits import codec as traits
from tests import cli
from tests.functional import placement_server

HOST_A = os.path.join(os.path.dirname(__file__), '..', 'fixtures', 'hosts',
                      'epyc-milan-nested-l1')
FOREIGN = ['HW_CPU_X86_AVX2', 'CUSTOM_GOLD', 'CUSTOM_MIGCOMPATIBLE']
STALE = 'CUSTOM_MIGCOMPAT_UCODE_0X1000001'
#: What could point report at a Placement: none of it is inherited.
CONNECTION_VARIABLES = ('OS_CLOUD', 'OS_AUTH_URL', 'OS_CLIENT_CONFIG_FILE',
                        'MIGCOMPAT_PLACEMENT_URL', 'MIGCOMPAT_NOVA_URL')


def wanted(schema=traits.SCHEMA):
    """What "migcompat report" writes: schema 3 (a provider config file:
    schema 2, its records could not be stored).
    """
    return traits.encode(reader.read_profile(
        hostsource.SnapshotSource(HOST_A)), schema)


class ReportCLITestBase(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.tmp = self.useFixture(fixtures.TempDir()).path
        # An empty config file: no nova.conf [placement] either, whatever
        # the machine running the tests has in /etc/nova.
        self.conf = os.path.join(self.tmp, 'empty.conf')
        open(self.conf, 'w').close()

    def report(self, *args, **env):
        clean = {k: v for k, v in os.environ.items()
                 if k not in CONNECTION_VARIABLES}
        clean.update(env)
        proc = subprocess.run(
            cli.command() + ['--config-file', self.conf, 'report', '--root',
                             HOST_A] + list(args),
            capture_output=True, text=True, timeout=120, env=clean)
        return proc.returncode, proc.stdout, proc.stderr


class TestWithoutPlacement(ReportCLITestBase):

    def test_dry_run_prints_what_it_would_set(self):
        rc, out, err = self.report('--dry-run', '-f', 'json')
        self.assertEqual(0, rc, err)
        rows = json.loads(out)
        self.assertEqual(wanted(), [r['trait'] for r in rows])
        self.assertEqual({'would set'}, {r['change'] for r in rows})
        self.assertIn('no diff, Placement was not used: no connection is '
                      'configured', err)

    def test_dry_run_text_and_value(self):
        rc, out, err = self.report('--dry-run')
        self.assertEqual(0, rc, err)
        self.assertEqual(['+ %s' % t for t in wanted()],
                         out.splitlines()[:-1])
        self.assertIn('nothing written', out.splitlines()[-1])
        rc, out, err = self.report('--dry-run', '-f', 'value', '-c', 'trait')
        self.assertEqual(wanted(), out.split())

    def test_without_dry_run_it_still_needs_placement(self):
        rc, out, err = self.report()
        self.assertEqual(2, rc)
        self.assertIn('[placement] auth_type is not set', err)
        self.assertNotIn('Traceback', err)

    def test_provider_config_rows_and_restart_hint(self):
        rc, out, err = self.report('--provider-config', self.tmp, '-f',
                                   'json')
        self.assertEqual(0, rc, err)
        path = os.path.join(self.tmp, 'migcompat.yaml')
        self.assertEqual([(t, 'written', path) for t in wanted(2)],
                         [(r['trait'], r['change'], r['provider'])
                          for r in json.loads(out)])
        self.assertIn('restart nova-compute', err)
        rc, out, err = self.report('--provider-config', self.tmp, '-f',
                                   'value', '-c', 'change')
        self.assertEqual({'unchanged'}, set(out.split('\n')) - {''})

    def test_unreachable_placement_dry_run_shows_traits_and_why(self):
        url = 'http://127.0.0.1:%d' % placement_server.free_port()
        rc, out, err = self.report('--dry-run', '-f', 'yaml',
                                   MIGCOMPAT_PLACEMENT_URL=url)
        self.assertEqual(0, rc, err)
        self.assertEqual(len(wanted()), len(yaml.safe_load(out)))
        self.assertIn('cannot connect to placement', err)
        # A real report does fail (exit 1), from the same variable.
        rc, out, err = self.report(MIGCOMPAT_PLACEMENT_URL=url)
        self.assertEqual(1, rc)
        self.assertIn('cannot connect to placement', err)

    def test_bad_url_is_still_bad_input_in_a_dry_run(self):
        rc, out, err = self.report('--dry-run',
                                   MIGCOMPAT_PLACEMENT_URL='not a url')
        self.assertEqual(2, rc)
        self.assertIn('not a url', err)


class TestWithPlacement(placement_server.ServerPerClass, ReportCLITestBase):

    def setUp(self):
        super().setUp()
        self.rp = self.server.create_provider()
        client = placement.PlacementClient(
            placement.adapter_noauth(self.server.url))
        for name in FOREIGN + [STALE]:
            if name.startswith('CUSTOM_'):
                client.create_trait(name)
        client.put_traits(self.rp['uuid'], FOREIGN + [STALE],
                          self.rp['generation'])

    def provider_traits(self):
        return self.server.traits(self.rp['uuid'])[0]

    def rows(self, *args):
        rc, out, err = self.report(
            '--provider', self.rp['name'], '-f', 'json', *args,
            MIGCOMPAT_PLACEMENT_URL=self.server.url)
        self.assertEqual(0, rc, err)
        return {r['trait']: r['change'] for r in json.loads(out)}

    def test_dry_run_diff_then_report_from_the_environment(self):
        want = wanted()
        before = self.provider_traits()
        expected = dict({t: 'would add' for t in want},
                        **{STALE: 'would remove'})
        self.assertEqual(expected, self.rows('--dry-run'))
        self.assertEqual(before, self.provider_traits())

        expected = dict({t: 'added' for t in want}, **{STALE: 'removed'})
        self.assertEqual(expected, self.rows())
        self.assertEqual(set(want) | set(FOREIGN), self.provider_traits())

        self.assertEqual({t: 'kept' for t in want}, self.rows())

    def test_rows_name_the_provider(self):
        rc, out, err = self.report(
            '--provider', self.rp['name'], '--dry-run', '-f', 'value',
            '-c', 'provider', MIGCOMPAT_PLACEMENT_URL=self.server.url)
        self.assertEqual(0, rc, err)
        self.assertEqual({self.rp['uuid']}, set(out.split()))

    def test_os_cloud_from_the_environment(self):
        clouds = os.path.join(self.tmp, 'clouds.yaml')
        with open(clouds, 'w') as f:
            yaml.safe_dump({'clouds': {'lab': {
                'auth_type': 'admin_token',
                'auth': {'endpoint': self.server.url, 'token': 'admin'}}}},
                f)
        rc, out, err = self.report('--provider', self.rp['name'], '-f',
                                   'json', OS_CLOUD='lab',
                                   OS_CLIENT_CONFIG_FILE=clouds)
        self.assertEqual(0, rc, err)
        self.assertEqual(set(wanted()) | set(FOREIGN), self.provider_traits())

    def test_dry_run_before_nova_registered_the_node(self):
        # A fresh node: Placement is there, its provider not yet.
        rc, out, err = self.report('--provider', 'not-registered-yet',
                                   '--dry-run', '-f', 'json',
                                   MIGCOMPAT_PLACEMENT_URL=self.server.url)
        self.assertEqual(0, rc, err)
        self.assertEqual({'would set'},
                         {r['change'] for r in json.loads(out)})
        self.assertIn("no resource provider named 'not-registered-yet'", err)
        rc, out, err = self.report('--provider', 'not-registered-yet',
                                   MIGCOMPAT_PLACEMENT_URL=self.server.url)
        self.assertEqual(2, rc)
