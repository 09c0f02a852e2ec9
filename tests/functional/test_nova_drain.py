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

import json
import os

from tests.functional import drain_base
from tests.functional import nova_fixtures as mc

# The shared set-up lives in drain_base (also used by
# test_nova_drain_faults and test_nova_explain).
MILAN, INTEL, HIDDEN = drain_base.MILAN, drain_base.INTEL, drain_base.HIDDEN
_MILAN = drain_base._MILAN
_near_milan = drain_base._near_milan
_DrainBase = drain_base._DrainBase


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
        self.assertEqual(['twin'], by['pt-1']['valid_targets'])
        self.assertEqual('twin', by['pt-1']['target'])
        self.assertIn('near: cpu_features', by['pt-1']['blocked'])
        for name in ('hm-1', 'hm-2'):
            # The twin is preferred (identical), but it is full.
            self.assertEqual(['twin', 'near'], by[name]['valid_targets'])
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
        self.assertEqual([], rows[0]['valid_targets'])
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
