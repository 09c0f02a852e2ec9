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

"""``migcompat drain HOST`` and ``drain --execute`` inside a real nova
(nova 34's functional harness).

The real nova API, conductor and scheduler (our filter enabled), nova's
database and a real placement; fake-libvirt computes whose traits are
published from real host snapshots (tests/fixtures/hosts), as ``migcompat
report`` does. The command runs in this process through its cliff app,
against nova's API (wsgi-intercept) and placement.

Two things stand in for parts that cannot run here:

* nova's harness stubs keystone: its API reads the caller from
  X-Auth-User/X-Roles headers, so the test's compute adapter sends them
  (``migcompat`` itself sends a token).
* the fake libvirt driver cannot copy a guest; the migration stub
  (as in nova's own tests) creates the domain on the compute nova's
  migration record names, or fails the job for a chosen server.
"""

import io
import json
import os

import fixtures
from keystoneauth1 import adapter as ks_adapter
from keystoneauth1 import session as ks_session
from keystoneauth1 import token_endpoint

from migcompat_filter.cmd import shell
from migcompat_filter.fleet import capacity
from migcompat_filter.fleet import nova_api
from tests.functional import nova_base
from tests.functional import nova_fixtures as mc

MILAN = 'epyc-milan-nested-l1'
INTEL = 'libvirt-cpuid-xeon-gold-6148-host'
_MILAN = mc.real_profile(MILAN)
#: A feature the Milan host's CPU has outside its host-model CPU: a host
#: without it can take host-model guests, not host-passthrough ones.
HIDDEN = 'sha-ni'


def _near_milan():
    """The Milan host after an update hid one CPU feature."""
    cf = dict(_MILAN['cpu_features'])
    cf['features'] = [f for f in cf['features'] if f != HIDDEN]
    return mc.real_profile(MILAN, cpu_features=cf)


class _DrainBase(nova_base.GuestTestBase):

    def setUp(self):
        super().setUp()
        self.flags(skip_cpu_compare_on_dest=True, group='workarounds')
        self.flags(cores=-1, ram=-1, group='quota')
        # Every fake compute reports 16 VCPUs; at 1.0 a filler server
        # can leave exactly one free (see _start_small).
        self.flags(cpu_allocation_ratio=1.0)
        self.fail_servers = set()
        self.state_dir = self.useFixture(fixtures.TempDir()).path
        self.useFixture(fixtures.MonkeyPatch(
            'migcompat_filter.fleet.nova_api.adapter_noauth',
            self._harness_adapter))

    def _start_small(self, hostname, prof):
        """A compute with room for one more 1-VCPU server: a server
        already there takes the rest of its VCPUs.
        """
        self._start(hostname, prof)
        rp = self._get_provider_uuid_by_host(hostname)
        room = capacity.read(mc.reporter_client(self), rp).free['VCPU'] - 1
        flavor = self._create_flavor(memory_mb=512, vcpu=room, disk=1)
        self._create_server(name='filler-' + hostname, host=hostname,
                            flavor_id=flavor, networks='none')

    def _harness_adapter(self, url, token='admin', timeout=30.0):
        sess = ks_session.Session(auth=token_endpoint.Token(url, token),
                                  timeout=timeout)
        return ks_adapter.Adapter(
            sess, service_type=nova_api.SERVICE_TYPE, endpoint_override=url,
            default_microversion=nova_api.COMPUTE_MICROVERSION,
            additional_headers={'X-Auth-User': 'admin',
                                'X-User-Id': 'admin',
                                'X-Auth-Project-Id': self.api.project_id,
                                'X-Roles': 'reader,member,admin'})

    def _migrate_stub(self, domain, destination, params, flags):
        uuid = domain.UUIDString()
        if uuid in self.fail_servers:
            domain.fail_job()
            return
        migs = self.api.api_get('/os-migrations?instance_uuid=%s'
                                % uuid).body['migrations']
        dest = sorted(migs, key=lambda m: m['id'])[-1]['dest_compute']
        self.computes[dest].driver._host.get_connection().createXML(
            params['destination_xml'], 'fake-createXML')
        domain.complete_job()

    def _boot(self, name, mode='host-model'):
        # An explicit 1-VCPU flavor: without one, nova's helper takes the
        # first flavor by id, which is the filler's (15 VCPUs) whenever
        # its random id sorts before '1'.
        if not hasattr(self, '_one_vcpu'):
            self._one_vcpu = self._create_flavor(memory_mb=512, vcpu=1,
                                                 disk=1)
        server = self._create_server(name=name, host='src',
                                     flavor_id=self._one_vcpu,
                                     networks='none')
        if mode != 'host-model':
            self._set_vcpu_model(server, mode)
        return server

    def run_cli(self, *argv):
        """(exit status, rows, stderr) of migcompat ARGV -f json."""
        app = shell.MigcompatApp()
        app.stdout, app.stderr = io.StringIO(), io.StringIO()
        status = app.run(list(argv) + [
            '-f', 'json', '--placement-url', self.placement.fixture.endpoint,
            '--nova-url', self.api.base_url])
        out = app.stdout.getvalue()
        rows = json.loads(out) if out.strip() else []
        return status, rows, app.stderr.getvalue()

    def drain(self, *argv, host='src'):
        return self.run_cli('drain', host, '--state-file', os.path.join(
            self.state_dir, 'state.json'), '--poll', '0.05', '--timeout',
            '30', *argv)

    def _live_migrations(self, server):
        return [m for m in self.api.api_get(
            '/os-migrations?instance_uuid=%s' % server['id']
        ).body['migrations'] if m['migration_type'] == 'live-migration']


class DrainModesTest(_DrainBase):
    """A host with host-model and host-passthrough servers: the plan
    sends each only where the filter lets it go, and --execute empties
    the host that way.
    """

    def setUp(self):
        super().setUp()
        self._start('src', _MILAN)
        self._start_small('twin', _MILAN)     # room for one server
        self._start('near', _near_milan())
        self._start('intel', mc.real_profile(INTEL))
        self.pt = self._boot('pt-1', 'host-passthrough')
        self.hm1 = self._boot('hm-1')
        self.hm2 = self._boot('hm-2')

    def test_plan_then_execute_moves_each_to_a_valid_target(self):
        status, rows, err = self.drain('--server-mode',
                                       'pt-1=host-passthrough')
        self.assertEqual(0, status, err)
        by = {r['name']: r for r in rows}
        # Only the twin takes the passthrough guest; it has room for one.
        self.assertEqual(['twin'], by['pt-1']['valid targets'])
        self.assertEqual('twin', by['pt-1']['target'])
        self.assertIn('near: cpu_features', by['pt-1']['blocked'])
        for name in ('hm-1', 'hm-2'):
            # The twin is preferred (identical), but it is full.
            self.assertEqual(['twin', 'near'], by[name]['valid targets'])
            self.assertEqual('near', by[name]['target'], err)
            self.assertTrue(any(b.startswith('intel: ')
                                for b in by[name]['blocked']))
        self.assertEqual({'planned'}, {r['status'] for r in rows})

        status, rows, err = self.drain('--server-mode',
                                       'pt-1=host-passthrough', '--execute')
        self.assertEqual(0, status, err)
        self.assertEqual('twin', self._host_of(self.pt))
        self.assertEqual('near', self._host_of(self.hm1))
        self.assertEqual('near', self._host_of(self.hm2))
        self.assertIn('3 moved, 0 failed, 0 not started', err)
        # The scheduler (our filter) passed each requested host.
        for line in self._filter_lines():
            self.assertIn('1 candidates, 1 passed, 0 refused', line)
        # Never forced: each request went through the scheduler.
        self.assertEqual(3, len(self._filter_lines()))
        status, rows, err = self.drain()
        self.assertEqual(0, status, err)
        self.assertEqual([], rows)


class DrainUnplaceableTest(_DrainBase):
    """A passthrough server with no identical host: reported first, with
    what blocks it on each candidate, and left where it is.
    """

    def setUp(self):
        super().setUp()
        self._start('src', _MILAN)
        self._start('near', _near_milan())
        self._start('intel', mc.real_profile(INTEL))
        self.hm = self._boot('hm-1')
        self.pt = self._boot('pt-1', 'host-passthrough')

    def test_unplaceable_server_is_listed_first_and_stays(self):
        status, rows, err = self.drain('--server-mode',
                                       'pt-1=host-passthrough', '--execute')
        self.assertEqual(1, status, err)
        self.assertEqual(['pt-1', 'hm-1'], [r['name'] for r in rows])
        self.assertEqual('unplaced', rows[0]['status'])
        self.assertEqual('no valid target', rows[0]['target'])
        self.assertEqual([], rows[0]['valid targets'])
        blocked = dict(b.split(': ', 1) for b in rows[0]['blocked'])
        self.assertEqual({'near', 'intel'}, set(blocked))
        self.assertIn('cpu_features', blocked['near'])
        self.assertIn('cpu_model', blocked['intel'])
        self.assertEqual('moved to near', rows[1]['status'])
        self.assertEqual('src', self._host_of(self.pt))
        self.assertEqual([], self._live_migrations(self.pt))
        self.assertEqual('near', self._host_of(self.hm))


class DrainResumeTest(_DrainBase):
    """A failure mid-way stops the run; the next run resumes."""

    def setUp(self):
        super().setUp()
        self._start('src', _MILAN)
        self._start('twin', _MILAN)
        self.servers = [self._boot('s-%d' % i) for i in (1, 2, 3)]

    def test_failure_stops_and_next_run_resumes(self):
        s1, s2, s3 = self.servers
        self.fail_servers.add(s2['id'])
        status, rows, err = self.drain('--execute')
        self.assertEqual(1, status, err)
        by = {r['name']: r['status'] for r in rows}
        self.assertEqual('moved to twin', by['s-1'])
        self.assertTrue(by['s-2'].startswith('failed: '), by)
        self.assertIn('ended failed', by['s-2'])
        self.assertEqual('not started', by['s-3'])
        self.assertIn('stopped at the first failure', err)
        self.assertEqual(['twin', 'src', 'src'],
                         [self._host_of(s) for s in self.servers])
        with open(os.path.join(self.state_dir, 'state.json')) as f:
            state = json.load(f)
        self.assertEqual({s1['id']: 'twin'}, state['migrated'])
        self.assertEqual([s2['id']], list(state['failed']))

        self.fail_servers.clear()
        # The fake domain keeps its last job state (failed); the operator
        # fixed the cause, so the next job starts afresh.
        from nova.tests.fixtures import libvirt as fakelibvirt
        conn = self.computes['src'].driver._host.get_connection()
        conn.lookupByUUIDString(s2['id'])._job_type = (
            fakelibvirt.VIR_DOMAIN_JOB_NONE)
        status, rows, err = self.drain('--execute')
        self.assertEqual(0, status, err)
        # The failed server goes first; the moved one is not asked again.
        self.assertLess(err.index('s-2'), err.index('s-3'))
        self.assertEqual(['twin'] * 3,
                         [self._host_of(s) for s in self.servers])
        self.assertEqual(1, len(self._live_migrations(s1)))
        self.assertEqual(2, len(self._live_migrations(s2)))
        with open(os.path.join(self.state_dir, 'state.json')) as f:
            state = json.load(f)
        self.assertEqual({}, state['failed'])
        self.assertEqual(3, len(state['migrated']))

    def test_migration_of_an_interrupted_run_is_polled_not_repeated(self):
        # A run asked nova to move s-1 and was killed before it saw the
        # migration end: its state file still has s-1 in flight.
        s1 = self.servers[0]
        self.api.post_server_action(s1['id'], {'os-migrateLive': {
            'host': 'twin', 'block_migration': 'auto'}})
        self._wait_for_migration_status(s1, ['completed'])
        path = os.path.join(self.state_dir, 'state.json')
        with open(path, 'w') as f:
            json.dump({'version': 1, 'host': 'src', 'migrated': {},
                       'failed': {}, 'in_flight': {s1['id']: {
                           'target': 'twin', 'after': 0}}}, f)
        status, rows, err = self.drain('--execute')
        self.assertEqual(0, status, err)
        self.assertIn('polling the migration to twin started by an earlier '
                      'run', err)
        self.assertEqual(1, len(self._live_migrations(s1)))
        with open(path) as f:
            state = json.load(f)
        self.assertEqual({}, state['in_flight'])
        self.assertEqual({s['id']: 'twin' for s in self.servers},
                         state['migrated'])

    def test_parallel_two_empties_the_host(self):
        status, rows, err = self.drain('--execute', '--parallel', '2')
        self.assertEqual(0, status, err)
        self.assertEqual(['twin'] * 3,
                         [self._host_of(s) for s in self.servers])


class FleetCommandsTest(_DrainBase):
    """what-if and upgrade-plan against the same real nova and placement,
    and their bad input.
    """

    def setUp(self):
        super().setUp()
        self._start('src', _MILAN)
        self._start('near', _near_milan())
        self._boot('hm-1')
        self.api.api_post('/os-aggregates', {'aggregate': {'name': 'rack1'}})
        agg = self.api.api_get('/os-aggregates').body['aggregates'][0]
        for host in ('src', 'near'):
            self.api.api_post('/os-aggregates/%s/action' % agg['id'],
                              {'add_host': {'host': host}})

    def test_what_if_qemu_upgrade_of_one_host(self):
        status, rows, err = self.run_cli('what-if', '--set',
                                         'qemu_version=8.2.2', '--host',
                                         'near')
        self.assertEqual(0, status, err)
        self.assertEqual([['now impossible', 'near', 'src',
                           ['qemu_version']]],
                         [[r['change'], r['source'], r['destination'],
                           r['factors']] for r in rows])

    def test_upgrade_plan_of_an_aggregate(self):
        status, rows, err = self.run_cli('upgrade-plan', '--set',
                                         'qemu_version=8.2.2',
                                         '--aggregate', 'rack1')
        self.assertEqual(0, status, err)
        # The empty host first; then src's server goes to it (an old
        # QEMU to a newer one, never the other way).
        self.assertEqual([(1, 'near', []), (2, 'src', ['hm-1 -> near'])],
                         [(r['turn'], r['host'], r['moves'])
                          for r in rows])

    def test_bad_input_exits_2_naming_it(self):
        for argv, words in (
                (('drain', 'nosuch'), ["no compute node named 'nosuch'"]),
                (('drain', 'src', '--server-mode', 'ghost=custom'),
                 ['--server-mode ghost: no such server']),
                (('what-if', '--set', 'qemu_version=8.2', '--host',
                  'nosuch'), ['--host nosuch: no compute node']),
                (('what-if', '--set', 'qemu_version=8.2', '--aggregate',
                  'nosuch'), ["no nova host aggregate named 'nosuch'"]),
                (('what-if', '--set', 'gpu=1', '--host', 'src'),
                 ["unknown factor 'gpu'"]),
                (('what-if', '--set', 'qemu_version=new', '--host', 'src'),
                 ['qemu_version=new', 'version number']),
                (('upgrade-plan', '--set', 'qemu_version=8.2',
                  '--aggregate', 'nosuch'),
                 ["no nova host aggregate named 'nosuch'"])):
            status, rows, err = self.run_cli(*argv)
            self.assertEqual(2, status, (argv, err))
            for word in words:
                self.assertIn(word, err, argv)
            self.assertNotIn('Traceback', err)
