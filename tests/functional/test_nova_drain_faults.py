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

"""``drain --execute`` stopped at each step never wedges,
inside nova 34's functional harness (see test_nova_drain).

The command runs in this process, so "the process is killed at step X"
is an exception that no ``except Exception`` catches (:class:`Killed`)
raised at that step: the state file is left as the kill leaves it (it is
written atomically after each change, never at exit). The lock is taken
by a real second process, and SIGTERM is a real signal to this process.
"""

import json
import os
import signal

import fixtures

from migcompat_filter.fleet import nova_api
from tests import drain_lock
from tests.functional import drain_base

_MILAN = drain_base._MILAN


class Killed(BaseException):
    """Stands for SIGKILL at one step: nothing of ours handles it."""


class DrainStepsTest(drain_base._DrainBase):

    def setUp(self):
        super().setUp()
        self._start('src', _MILAN)
        self._start('twin', _MILAN)
        self.servers = [self._boot('s-%d' % i) for i in (1, 2, 3)]
        self.path = os.path.join(self.state_dir, 'state.json')
        self.sigterm_in_migration = False
        self.service_seen = []

    def _migrate_stub(self, domain, destination, params, flags):
        self.service_seen.append(self._service('src')['status'])
        if self.sigterm_in_migration:
            self.sigterm_in_migration = False
            os.kill(os.getpid(), signal.SIGTERM)
        super()._migrate_stub(domain, destination, params, flags)

    def _service(self, host):
        return self.api.api_get('/os-services?binary=nova-compute&host=%s'
                                % host).body['services'][0]

    def state(self):
        with open(self.path) as f:
            return json.load(f)

    def kill_at(self, method, when):
        """Patch NovaClient.method to raise Killed before or after the
        real call (its first call only).
        """
        real = getattr(nova_api.NovaClient, method)
        calls = []

        def patched(client, *args, **kwargs):
            calls.append(args)
            if len(calls) == 1 and when == 'before':
                raise Killed(method)
            result = real(client, *args, **kwargs)
            if len(calls) == 1 and when == 'after':
                raise Killed(method)
            return result
        return fixtures.MonkeyPatch(
            'migcompat_filter.fleet.nova_api.NovaClient.' + method, patched)

    def resumes_cleanly(self):
        """The next run empties the host, one migration per server."""
        status, rows, err = self.drain('--execute')
        self.assertEqual(0, status, err)
        self.assertNotIn('Traceback', err)
        self.assertEqual(['twin'] * 3,
                         [self._host_of(s) for s in self.servers])
        for server in self.servers:
            self.assertEqual(1, len(self._live_migrations(server)),
                             server['name'])
        self.assertEqual({}, self.state()['in_flight'])
        return err

    def test_killed_before_the_request(self):
        with self.kill_at('live_migrate', 'before'):
            self.assertRaises(Killed, self.drain, '--execute')
        # Nothing was asked, so nothing is recorded as asked.
        self.assertFalse(os.path.exists(self.path) and
                         self.state()['in_flight'])
        self.resumes_cleanly()

    def test_killed_after_nova_accepted_before_the_record(self):
        with self.kill_at('live_migrate', 'after'):
            self.assertRaises(Killed, self.drain, '--execute')
        self.assertEqual(1, len(self._live_migrations(self.servers[0])))
        self.resumes_cleanly()

    def test_killed_while_polling(self):
        real = nova_api.NovaClient.live_migrations
        asked = []

        def live_migrate(client, sid, host=None):
            asked.append(sid)
            return real_migrate(client, sid, host)

        def live_migrations(client, sid):
            if asked:
                raise Killed('poll')
            return real(client, sid)
        real_migrate = nova_api.NovaClient.live_migrate
        self.useFixture(fixtures.MonkeyPatch(
            'migcompat_filter.fleet.nova_api.NovaClient.live_migrate',
            live_migrate))
        with fixtures.MonkeyPatch(
                'migcompat_filter.fleet.nova_api.NovaClient.live_migrations',
                live_migrations):
            self.assertRaises(Killed, self.drain, '--execute')
        self.assertEqual([self.servers[0]['id']],
                         list(self.state()['in_flight']))
        err = self.resumes_cleanly()
        self.assertIn('started by an earlier run', err)

    def test_recorded_request_nova_never_started_is_asked_again(self):
        # A request recorded in flight that nova lost (or, with the
        # old order, one never sent): no migration, the server idle on
        # the source. The old code polled it for --timeout and failed.
        s1 = self.servers[0]
        with open(self.path, 'w') as f:
            json.dump({'version': 1, 'host': 'src', 'migrated': {},
                       'failed': {}, 'in_flight': {s1['id']: {
                           'target': 'twin', 'after': 0}}}, f)
        err = self.resumes_cleanly()
        self.assertIn('never started by nova; asking again', err)

    def test_sigterm_finishes_the_request_and_stops(self):
        # A test handler first: the old code, which installs none, must
        # fail the assertions below, not end this test process.
        got = []
        previous = signal.signal(signal.SIGTERM,
                                 lambda *a: got.append('test'))
        self.addCleanup(signal.signal, signal.SIGTERM, previous)
        self.sigterm_in_migration = True
        status, rows, err = self.drain('--execute')
        self.assertEqual(1, status, err)
        self.assertNotIn('Traceback', err)
        self.assertIn('stopping on SIGTERM', err)
        self.assertIn('stopped on SIGTERM', err)
        by = {r['name']: r['status'] for r in rows}
        self.assertEqual('not started', by['s-3'])
        self.assertEqual([], got)
        # Every request nova got is in the state file or finished.
        state = self.state()
        for server in self.servers:
            if self._live_migrations(server):
                self.assertTrue(server['id'] in state['migrated'] or
                                server['id'] in state['in_flight'],
                                server['name'])
        self.resumes_cleanly()

    def test_second_drain_of_the_host_is_refused(self):
        holder = drain_lock.hold(self, self.path)
        status, rows, err = self.drain('--execute')
        self.assertEqual(2, status, err)
        self.assertIn('another drain of src is running (pid %d)'
                      % holder.pid, err)
        for server in self.servers:
            self.assertEqual([], self._live_migrations(server))
        holder.kill()
        holder.wait()
        self.resumes_cleanly()

    def test_disable_service_during_the_drain(self):
        status, rows, err = self.drain('--execute', '--disable-service',
                                       '--reenable-service')
        self.assertEqual(0, status, err)
        self.assertEqual({'disabled'}, set(self.service_seen))
        self.assertEqual('enabled', self._service('src')['status'])
        self.assertIn('enabled again', err)

    def test_disable_service_stays_disabled_for_the_maintenance(self):
        status, rows, err = self.drain('--execute', '--disable-service')
        self.assertEqual(0, status, err)
        service = self._service('src')
        self.assertEqual('disabled', service['status'])
        self.assertEqual('migcompat host drain', service['disabled_reason'])
        self.assertIn('openstack compute service set --enable src '
                      'nova-compute', err)
