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

"""Placement faults: the filter in nova's HostManager path, and the
reporter's client, against a real placement behind a misbehaving proxy.

The three published hosts of tests/functional/three_hosts.py (``src``,
its ``twin`` and ``intel``) in a real placement; nova's real
SchedulerReportClient reaches it through tests/functional/fault_proxy.py
with nova's default ``[placement] timeout`` (unset: no
socket timeout at all), and nova's real HostManager runs the filter.

Under every fault: no exception into nova, the documented action for the
hosts the filter cannot judge (placement_error_action), or the previous
mapping when one was read, and a log line or failure that says which read
failed. When placement never answers, the read gives up at its bound and
says so ("did not answer within the time budget"), and the proxy still
holds the request the filter abandoned. No test here measures how long
anything took (tests/unit/test_scheduler_profiles.py bounds the waits with
a fake clock; the request time is the benchmarks' business): the only
clock is the hang guard, far longer than any bound.
"""

import logging
import threading
import time
import uuid

import fixtures

from migcompat_filter.placement import client as placement
from tests.functional import fault_proxy
from tests.functional import placement_server
from tests.functional import three_hosts

BUDGET = 1.0
#: The give-up messages of a read that hit its time bound (before it was
#: sent, or waiting for the answer: scheduler/reads.py).
BOUND_HIT = ('did not answer within the time budget',
             'time budget exhausted before the request')
#: Faults that placement never answers within any budget.
SILENT = (('hang',), ('delay', 3.0))
#: Not a speed limit: a thread that has not answered by then hangs.
HANG_GUARD = 120

#: 200 answers of the wrong shape.
BAD_BODIES = [b'{}', b'[]', b'not json', b'{"traits": "CUSTOM_X"}',
              b'{"traits": [1, 2]}', b'{"resource_providers": [{}]}',
              b'{"resource_providers": {"uuid": "x"}}']
#: Faults without an HTTP answer, and error storms.
NO_ANSWER = [('hang',), ('delay', 3.0), ('drop',), ('status', 500),
             ('status', 503), ('status', 409), ('truncated',)]


class FilterUnderFaultsTest(three_hosts.ThreeHostsTestCase):

    def setUp(self):
        super().setUp()
        from migcompat_filter.demo import offline
        from migcompat_filter.scheduler import instances
        from migcompat_filter.scheduler import migration_filter
        from migcompat_filter.scheduler import state
        import nova.conf
        from nova import objects
        from nova.scheduler.client import report
        from nova.tests.fixtures import conf as nova_conf_fixture

        objects.register_all()
        self.conf = self.useFixture(
            nova_conf_fixture.ConfFixture(nova.conf.CONF))
        self.conf.config(group='filter_scheduler', available_filters=[
            'nova.scheduler.filters.all_filters',
            'migcompat_filter.scheduler.all_filters'],
            enabled_filters=['MigrationCompatibilityFilter'])
        # A cold request waits for the first read (at most a part of the
        # budget).
        self.conf.config(group='migcompat', request_time_budget=BUDGET,
                         initial_profile_wait=BUDGET)
        # nova's report client on the proxy; [placement] timeout unset.
        adapter = placement.adapter_noauth(self.proxy.url, timeout=None)
        self.assertIsNone(adapter.session.timeout)
        client = report.SchedulerReportClient(adapter=adapter)
        self.client = client
        self.shared = state.reset_shared(lambda: client)
        self.addCleanup(state.reset_shared)
        self.hm = offline.make_host_manager(nova.conf.CONF)
        cell = str(uuid.uuid4())
        self.hosts = [offline.make_host_state(n, n, cell, self.uuids[n],
                                              7002000)
                      for n in ('twin', 'intel')]
        src = self.uuids['src']

        def live(spec_obj):
            return instances.LiveMigration(
                spec_obj.instance_uuid, 'src', 'src', src)
        self.patch(migration_filter, 'live_migration', live)
        self.source = type('Src', (), {'name': 'src'})()
        self.logs = self.useFixture(fixtures.FakeLogger(
            name='migcompat_filter', level=logging.INFO))

    def request(self):
        """(passed host names, the log lines of this request) of one
        live-migration request.
        """
        from migcompat_filter.demo import offline
        spec = offline.request_spec(self.source)
        before = len(self.logs.output)
        passed = self.hm.get_filtered_hosts(list(self.hosts), spec)
        return sorted(h.host for h in passed), self.logs.output[before:]

    def warm(self):
        # The first read, done now (a request would wait for it only a
        # part of its budget): the requests below find the hosts read.
        self.assertTrue(self.refresh())
        self.assertEqual(['twin'], self.request()[0])

    def assertBoundHit(self, text, fault):
        self.assertTrue(any(m in text for m in BOUND_HIT),
                        '%s: no give-up message in %r' % (fault, text))

    def assertAbandoned(self, hanging_before, fault):
        # The filter answered while placement still holds the request it
        # sent: it did not wait for the answer.
        self.assertGreater(self.proxy.status()['hanging'], hanging_before,
                           fault)

    def test_healthy(self):
        self.warm()
        passed, log = self.request()
        self.assertEqual(['twin'], passed)
        self.assertIn('1 passed, 1 refused', log)
        self.assertNotIn('cached host profile', log)

    def refresh(self):
        """The refresher's next read, forced in this thread (it runs in
        the background in nova-scheduler); True when it succeeded.
        """
        return self.shared.profiles.refresh_now()

    def test_wrong_shape_after_a_good_refresh_keeps_the_mapping(self):
        # Each wrong-shaped 200 is a failed read, so intel stays
        # refused (it used to be "untraited" and passed).
        self.warm()
        cache = self.shared.profiles
        for body in BAD_BODIES:
            self.proxy.set(('body', body))
            self.assertFalse(self.refresh(), body)
            self.assertEqual(['twin'], self.request()[0], body)
            self.assertIn('not the expected JSON',
                          str(cache.snapshot().failure))
        # Recovery: the next read succeeds and is installed.
        self.proxy.set(None)
        loaded = cache.snapshot().read_at
        self.assertTrue(self.refresh())
        self.assertEqual(['twin'], self.request()[0])
        self.assertIsNone(cache.snapshot().failure)
        self.assertGreater(cache.snapshot().read_at, loaded)

    def test_wrong_shape_on_a_single_request(self):
        # Only the membership lists break: the traits reads work.
        self.warm()
        self.proxy.set(('body', b'{}'), only='/resource_providers?')
        self.assertFalse(self.refresh())
        self.assertEqual(['twin'], self.request()[0])
        self.proxy.set(None)
        self.assertTrue(self.refresh())
        self.assertEqual(['twin'], self.request()[0])

    def test_faults_warm_keep_the_previous_mapping(self):
        self.warm()
        cache = self.shared.profiles
        for fault in NO_ANSWER + [('body', b)
                                  for b in BAD_BODIES[:3]]:
            self.proxy.set(fault)
            self.assertFalse(self.refresh(), fault)
            failure = str(cache.snapshot().failure)
            if fault in SILENT:
                # Each call of the read is bounded too (nobody waits for
                # it): the read gave up and says so.
                self.assertBoundHit(failure, fault)
            hanging = self.proxy.status()['hanging']
            passed, log = self.request()
            self.assertEqual(['twin'], passed, fault)
            # The source read failed: judged by its cached profile.
            self.assertIn('judging by its cached host profile', log, fault)
            if fault in SILENT:
                self.assertBoundHit(log, fault)
            if fault == ('hang',):
                self.assertAbandoned(hanging, fault)
        self.proxy.set(None)
        self.assertEqual(['twin'], self.request()[0])

    def _cold(self, action, expected):
        # A scheduler that just started while Placement misbehaves: the
        # first request waits for the first read at most part of its
        # budget, then reads the source, which fails.
        self.conf.config(group='migcompat', placement_error_action=action)
        verb = 'passing' if expected else 'refusing'
        for fault in NO_ANSWER + [('body', b'{}')]:
            self.shared = migration_filter_reset(self.client)
            self.proxy.set(fault)
            hanging = self.proxy.status()['hanging']
            passed, log = self.request()
            self.assertEqual(expected, passed, fault)
            self.assertIn('the source cannot be judged', log, fault)
            self.assertIn('%s all 2 candidate hosts (placement_error_action)'
                          % verb, log, fault)
            if fault in SILENT:
                self.assertBoundHit(log, fault)
            if fault == ('hang',):
                self.assertAbandoned(hanging, fault)

    def test_faults_cold_pass_by_default(self):
        self._cold('pass', ['intel', 'twin'])

    def test_faults_cold_refuse_when_configured(self):
        self._cold('refuse', [])

    def test_concurrent_requests_do_not_wait_for_a_hung_refresh(self):
        # The refresher hangs in Placement; four concurrent requests use
        # the last snapshot (their source reads hang too, and each gives
        # up at its own bound: judged by the cached profile).
        self.warm()
        self.proxy.set(('hang',))
        self.shared.profiles.wake()
        results, errors = [], []

        def one():
            try:
                results.append(self.request())
            except Exception as e:  # reported below, in the main thread
                errors.append(e)
        threads = [threading.Thread(target=one) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(HANG_GUARD)
        self.assertEqual([], errors)
        self.assertEqual(4, len(results))
        for passed, _log in results:
            self.assertEqual(['twin'], passed)
        cached = [line for line in self.logs.output.splitlines()
                  if 'judging by its cached host profile' in line]
        self.assertEqual(4, len(cached), self.logs.output)
        for line in cached:
            self.assertBoundHit(line, 'hang')
        # Every source read the requests sent is still held by placement.
        self.assertGreaterEqual(self.proxy.status()['hanging'], 4)


def migration_filter_reset(client):
    from migcompat_filter.scheduler import state
    return state.reset_shared(lambda: client)


class ReporterClientUnderFaultsTest(three_hosts.ThreeHostsTestCase):
    """placement.PlacementClient (the reporter's and the fleet's)."""

    def client(self, url=None, **kwargs):
        return placement.PlacementClient(
            placement.adapter_noauth(url or self.proxy.url), **kwargs)

    def test_wrong_shapes_name_the_request(self):
        # Never a bare parser message.
        client = self.client()
        rp = self.uuids['src']
        for body in BAD_BODIES + [b'{"resource_providers": [{"uuid": 1}]}']:
            self.proxy.set(('body', body))
            for call in (client.list_providers,
                         lambda: client.get_traits(rp)):
                e = self.assertRaises(placement.PlacementError, call)
                self.assertIn('placement answered HTTP 200 with a body '
                              'that is not the expected JSON', str(e))
        self.proxy.set(('body', b'{}'))
        e = self.assertRaises(placement.PlacementError,
                              client.list_providers)
        self.assertTrue(str(e).startswith(
            'list resource providers: placement answered HTTP 200 with a '
            'body that is not the expected JSON'), e)
        self.proxy.set(('truncated',))
        self.assertRaises(placement.PlacementError, client.get_traits, rp)

    def test_userinfo_is_stripped(self):
        # No credential of a URL in a message or a log line.
        import fixtures
        logs = self.useFixture(fixtures.FakeLogger(level=10))
        port = placement_server.free_port()  # nobody listens there
        client = self.client('http://admin:S3cr3tUrlUserinfo@127.0.0.1:%d'
                             % port)
        e = self.assertRaises(placement.PlacementError,
                              client.list_providers)
        self.assertNotIn('S3cr3t', str(e))
        self.assertIn('127.0.0.1:%d' % port, str(e))
        self.assertIsNone(e.__cause__)
        self.assertTrue(e.__suppress_context__)
        self.assertNotIn('S3cr3t', logs.output)
        # ... also when placement answers (an error detail quoting it).
        client = self.client(self.proxy.url.replace(
            'http://', 'http://admin:S3cr3tUrlUserinfo@'))
        self.proxy.set(('status', 500))
        e = self.assertRaises(placement.PlacementError,
                              client.list_providers)
        self.assertNotIn('S3cr3t', str(e) + logs.output)

    def test_deadline_bounds_a_report(self):
        # Every request's timeout is capped at what is left: with no
        # session timeout, a request placement answers after 3 s fails
        # when 1 s is left (uncapped, it would succeed). The client's
        # clock is a fake one: time passes only when the test says so.
        now = [100.0]
        client = self.client(deadline=now[0] + BUDGET,
                             clock=lambda: now[0])
        self.proxy.set(('delay', 3.0))
        e = self.assertRaises(placement.PlacementError,
                              client.list_providers)
        self.assertNotIsInstance(e, placement.DeadlineExceeded)
        self.assertIn('list resource providers: placement did not answer '
                      'in time', str(e))
        # Once the deadline has passed, a request is not even sent.
        sent = self.proxy.status()['requests']
        now[0] += BUDGET
        e = self.assertRaises(placement.DeadlineExceeded,
                              client.list_providers)
        self.assertIn('not sent, the deadline for talking to placement '
                      'has passed', str(e))
        self.assertEqual(sent, self.proxy.status()['requests'])

    def test_deadline_bounds_a_hang(self):
        # A hung placement: the client gives up at its budget and hangs up
        # (the proxy sees the connection closed with no answer sent).
        client = self.client()
        client.set_budget(0.5)
        self.proxy.set(('hang',))
        started = time.monotonic()
        self.assertRaises(placement.PlacementError, client.list_providers)
        self.assertLess(time.monotonic() - started, HANG_GUARD)
        self.assertTrue(fault_proxy.wait_until(
            lambda: self.proxy.status()['abandoned'] == 1,
            timeout=HANG_GUARD))

    def test_storms_are_errors_not_tracebacks(self):
        client = self.client()
        for code, cls in ((500, placement.PlacementError),
                          (503, placement.PlacementError),
                          (409, placement.Conflict)):
            self.proxy.set(('status', code))
            e = self.assertRaises(cls, client.get_traits, self.uuids['src'])
            self.assertIn('injected fault', str(e))
        self.proxy.set(('drop',))
        self.assertRaises(placement.PlacementError, client.list_providers)
