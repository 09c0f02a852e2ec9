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

One real placement server (gunicorn, sqlite) per class holds three
compute providers: ``src`` and ``twin`` (the same AMD Milan profile) and
``intel`` (an Intel Xeon: not a live-migration destination for src). nova's
real SchedulerReportClient reaches it through tests/functional/
fault_proxy.py with nova's default ``[placement] timeout`` (unset: no
socket timeout at all), and nova's real HostManager runs the filter.

Under every fault: no exception into nova, the measured time of each
request within ``request_time_budget`` + 10 %, and the documented action
for the hosts the filter cannot judge (placement_error_action), or the
previous mapping when one was read.
"""

import threading
import time
import uuid

import testtools

from migcompat_filter.placement import client as placement
from migcompat_filter.placement import reporter
from migcompat_filter.traits import codec as traits
from tests.functional import fault_proxy
from tests.functional import nova_fixtures as mc
from tests.functional import placement_server

BUDGET = 1.0
#: The bound the issue sets: the budget plus 10 %.
BOUND = BUDGET * 1.1
MILAN = 'epyc-milan-nested-l1'
INTEL = 'libvirt-cpuid-xeon-gold-6148-host'

#: 200 answers of the wrong shape (D1, D9).
BAD_BODIES = [b'{}', b'[]', b'not json', b'{"traits": "CUSTOM_X"}',
              b'{"traits": [1, 2]}', b'{"resource_providers": [{}]}',
              b'{"resource_providers": {"uuid": "x"}}']
#: Faults without an HTTP answer, and error storms.
NO_ANSWER = [('hang',), ('delay', 3.0), ('drop',), ('status', 500),
             ('status', 503), ('status', 409), ('truncated',)]


class _Placement(testtools.TestCase):
    """One placement server per class, with the three hosts published."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.server = placement_server.PlacementServer()
        cls.server.setUp()
        client = placement.PlacementClient(
            placement.adapter_noauth(cls.server.url))
        cls.uuids = {}
        for name, prof in (('src', MILAN), ('twin', MILAN),
                           ('intel', INTEL)):
            rp = cls.server.create_provider('%s-%s' % (
                name, uuid.uuid4().hex[:6]))
            cls.uuids[name] = rp['uuid']
            reporter.sync(client, rp['uuid'],
                          traits.encode(mc.real_profile(prof)))

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanUp()
        super().tearDownClass()

    def setUp(self):
        super().setUp()
        self.proxy = self.useFixture(fault_proxy.FaultProxy(self.server.url))


class FilterUnderFaultsTest(_Placement):

    def setUp(self):
        super().setUp()
        from migcompat_filter.demo import offline
        from migcompat_filter.scheduler import migration_filter
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
        # The first request waits for the first read (capped by the
        # budget), so that warm() is judged.
        self.conf.config(group='migcompat', request_time_budget=BUDGET,
                         initial_profile_wait=BUDGET)
        # nova's report client on the proxy; [placement] timeout unset.
        adapter = placement.adapter_noauth(self.proxy.url, timeout=None)
        self.assertIsNone(adapter.session.timeout)
        client = report.SchedulerReportClient(adapter=adapter)
        self.client = client
        self.shared = migration_filter.reset_shared(lambda: client)
        self.addCleanup(migration_filter.reset_shared)
        self.hm = offline.make_host_manager(nova.conf.CONF)
        cell = str(uuid.uuid4())
        self.hosts = [offline.make_host_state(n, n, cell, self.uuids[n],
                                              7002000)
                      for n in ('twin', 'intel')]
        src = self.uuids['src']

        def live(spec_obj):
            return migration_filter.LiveMigration(
                spec_obj.instance_uuid, 'src', 'src', src)
        self.patch(migration_filter, 'live_migration', live)
        self.source = type('Src', (), {'name': 'src'})()
        self.times = []

    def request(self):
        """(passed host names, seconds) of one live-migration request."""
        from migcompat_filter.demo import offline
        spec = offline.request_spec(self.source)
        t0 = time.monotonic()
        passed = self.hm.get_filtered_hosts(list(self.hosts), spec)
        took = time.monotonic() - t0
        self.times.append(took)
        self.assertLessEqual(took, BOUND, 'request took %.2f s' % took)
        return sorted(h.host for h in passed), took

    def warm(self):
        self.assertEqual(['twin'], self.request()[0])

    def test_healthy(self):
        self.warm()
        self.assertEqual(['twin'], self.request()[0])

    def refresh(self):
        """The refresher's next read, forced in this thread (it runs in
        the background in nova-scheduler); True when it succeeded.
        """
        return self.shared.profiles.refresh_now()

    def test_wrong_shape_after_a_good_refresh_keeps_the_mapping(self):
        # D1: each wrong-shaped 200 is a failed read, so intel stays
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
        for fault in NO_ANSWER + [('body', b)
                                  for b in BAD_BODIES[:3]]:
            self.proxy.set(fault)
            t0 = time.monotonic()
            self.assertFalse(self.refresh(), fault)
            # Each call of the read is bounded too (nobody waits for it).
            self.assertLess(time.monotonic() - t0, 6 * BOUND, fault)
            passed, took = self.request()
            self.assertEqual(['twin'], passed, fault)
        self.proxy.set(None)
        self.assertEqual(['twin'], self.request()[0])

    def _cold(self, action, expected):
        # A scheduler that just started while Placement misbehaves: the
        # first request waits for the first read at most its budget.
        self.conf.config(group='migcompat', placement_error_action=action)
        for fault in NO_ANSWER + [('body', b'{}')]:
            self.shared = migration_filter_reset(self.client)
            self.proxy.set(fault)
            passed, took = self.request()
            self.assertEqual(expected, passed, fault)

    def test_faults_cold_pass_by_default(self):
        self._cold('pass', ['intel', 'twin'])

    def test_faults_cold_refuse_when_configured(self):
        self._cold('refuse', [])

    def test_concurrent_requests_do_not_wait_for_a_hung_refresh(self):
        # D2, F9: the refresher hangs in Placement; four concurrent
        # requests use the last snapshot and stay within their budget
        # (their source reads hang too and are bounded by it).
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
            t.join(10)
        self.assertEqual([], errors)
        self.assertEqual(4, len(results))
        for passed, took in results:
            self.assertEqual(['twin'], passed)
            self.assertLessEqual(took, BOUND)


def migration_filter_reset(client):
    from migcompat_filter.scheduler import migration_filter
    return migration_filter.reset_shared(lambda: client)


class ReporterClientUnderFaultsTest(_Placement):
    """placement.PlacementClient (the reporter's and the fleet's)."""

    def client(self, url=None, **kwargs):
        return placement.PlacementClient(
            placement.adapter_noauth(url or self.proxy.url), **kwargs)

    def test_wrong_shapes_name_the_request(self):
        # D9: never a bare parser message.
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
        # D11: no credential of a URL in a message or a log line.
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
        # D16: every request's timeout is capped at what is left.
        client = self.client(deadline=time.monotonic() + BUDGET)
        self.proxy.set(('delay', 0.3))
        t0 = time.monotonic()
        sent = 0
        try:
            for _ in range(10):
                client.list_providers()
                sent += 1
        except placement.PlacementError:
            pass
        self.assertLess(sent, 4)
        self.assertLessEqual(time.monotonic() - t0, BOUND)
        e = self.assertRaises(placement.DeadlineExceeded,
                              client.list_providers)
        self.assertIn('deadline', str(e))

    def test_deadline_bounds_a_hang(self):
        client = self.client()
        client.set_budget(0.5)
        self.proxy.set(('hang',))
        t0 = time.monotonic()
        self.assertRaises(placement.PlacementError, client.list_providers)
        self.assertLessEqual(time.monotonic() - t0, 0.5 * 1.1 + 0.05)

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
