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

"""The scheduler's profile cache: Placement calls per profile, not per host.

Placement is a small in-memory stand-in answering the GETs the cache
sends (the real placement runs in tests/functional/test_nova_filter.py);
profiles are real snapshots encoded with the real codec.
"""

import collections
import os
import threading
import time
import uuid

import testtools

from migcompat_filter.placement import hoststate
from migcompat_filter.scheduler import profiles
from migcompat_filter.scheduler import reads
from migcompat_filter.traits import codec as traits
from tests.fake_placement import FakePlacement
from tests.unit.scheduler_helpers import as_group_says
from tests.unit.scheduler_helpers import as_placement_says
from tests.unit.scheduler_helpers import Clock
from tests.unit.scheduler_helpers import published
from tests.unit.scheduler_helpers import real


class ProfileCacheTest(testtools.TestCase):
    """Reads forced with refresh_now(); the request path (snapshot(),
    read_source()) is checked to send nothing else.
    """

    def setUp(self):
        super().setUp()
        self.placement = FakePlacement()
        self.clock = Clock()
        self.cache = profiles.ProfileCache(lambda: self.placement, ttl=300,
                                           clock=self.clock,
                                           background=False)
        self.milan = real('epyc-milan-nested-l1')
        self.kernel = real('epyc-milan-nested-l1',
                           kernel_version='6.19.1-fc-v700')
        self.intel = real('libvirt-cpuid-xeon-gold-6148-host')
        self.hosts = {}
        for i in range(30):
            prof = (self.milan, self.kernel, self.intel)[i % 3]
            rp = str(uuid.uuid4())
            self.hosts[rp] = prof
            self.placement.set(rp, published(prof) + ['COMPUTE_NODE'])
        self.bare = str(uuid.uuid4())
        self.placement.set(self.bare, ['COMPUTE_NODE', 'CUSTOM_OTHER'])

    def host(self, rp):
        return self.cache.snapshot().host(rp)

    def test_cold_refresh_costs_calls_per_profile_not_per_host(self):
        self.assertTrue(self.cache.refresh_now())
        # A documented contract (doc/source/scheduler.rst: "2 + 2 x
        # profiles calls when the process starts"), so counted exactly:
        # trait list + schema members + 3 profiles x (members + decode).
        self.assertEqual(2 + 2 * 3, len(self.placement.urls))
        self.placement.urls[:] = []
        for rp, prof in self.hosts.items():
            hp = self.host(rp)
            self.assertEqual(hoststate.TRAITED, hp.state)
            self.assertEqual(as_group_says(prof), hp.profile)
        self.assertEqual(hoststate.UNTRAITED, self.host(self.bare).state)
        self.assertEqual([], self.placement.urls)

    def test_refresh_rereads_membership_only(self):
        self.cache.refresh_now()
        self.placement.urls[:] = []
        # A host moves to another (known) profile; seen by the next read.
        rp = next(r for r, p in self.hosts.items() if p is self.intel)
        self.placement.set(rp, published(self.milan))
        self.assertEqual(as_group_says(self.intel),
                         self.host(rp).profile)
        self.cache.refresh_now()
        # The documented "2 + profiles every later read".
        self.assertEqual(2 + 3, len(self.placement.urls))
        self.assertEqual(as_group_says(self.milan),
                         self.host(rp).profile)

    def test_most_hosts_vanishing_is_read_twice_before_believed(self):
        self.assertTrue(self.cache.refresh_now())
        good = self.cache.snapshot()
        gone = list(self.hosts)[:16]  # more than half of the 30
        for rp in gone:
            self.placement.set(rp, ['COMPUTE_NODE'])
        self.assertFalse(self.cache.refresh_now())
        self.assertIs(good, self.cache.snapshot())
        self.assertEqual(hoststate.TRAITED, self.host(gone[0]).state)
        self.assertTrue(self.cache.refresh_now())  # the same answer again
        self.assertEqual(hoststate.UNTRAITED, self.host(gone[0]).state)

    def test_less_than_half_vanishing_is_believed(self):
        self.assertTrue(self.cache.refresh_now())
        gone = list(self.hosts)[:14]
        for rp in gone:
            self.placement.set(rp, ['COMPUTE_NODE'])
        self.assertTrue(self.cache.refresh_now())
        self.assertEqual(hoststate.UNTRAITED, self.host(gone[0]).state)

    def test_equal_profiles_share_a_key_different_ones_do_not(self):
        self.cache.refresh_now()
        keys = collections.defaultdict(set)
        for rp, prof in self.hosts.items():
            keys[id(prof)].add(self.host(rp).key)
        self.assertEqual([1, 1, 1], [len(k) for k in keys.values()])
        self.assertEqual(3, len(set.union(*keys.values())))

    def test_host_without_digest_is_read_by_the_refresher(self):
        rp = str(uuid.uuid4())
        self.placement.set(rp, published(self.kernel, digest=False))
        self.cache.refresh_now()
        # The documented contract: 2 + 2 x 3 for the groups, and 1 for the
        # host without a digest (read alone).
        self.assertEqual(2 + 2 * 3 + 1, len(self.placement.urls))
        self.assertIn('/resource_providers/%s/traits' % rp,
                      self.placement.urls)
        hp = self.host(rp)
        self.assertEqual(hoststate.TRAITED, hp.state)
        self.assertEqual(as_placement_says(self.kernel), hp.profile)

    def test_newer_schema_is_recognised(self):
        rp = str(uuid.uuid4())
        names = [t.replace('SCHEMA_%d' % traits.TRAIT_SCHEMA,
                           'SCHEMA_%d' % (max(traits.SCHEMAS) + 1))
                 for t in traits.encode(self.milan)]
        self.placement.set(rp, names)
        hp, _key = self.cache.read_source(rp, self.clock() + 10)
        self.assertEqual(hoststate.NEWER_SCHEMA, hp.state)
        self.assertIn('newer', hp.reason)

    def test_placement_failure_keeps_previous_mapping(self):
        self.cache.refresh_now()
        self.placement.fail = ConnectionError('placement is down')
        self.assertFalse(self.cache.refresh_now())
        snap = self.cache.snapshot()
        self.assertIn('placement is down', str(snap.failure))
        rp = next(iter(self.hosts))
        self.assertEqual(as_group_says(self.hosts[rp]),
                         self.host(rp).profile)
        # After a failed read an unknown host is not declared untraited.
        self.assertIsNone(self.host(self.bare))
        self.placement.fail = None
        self.assertTrue(self.cache.refresh_now())
        self.assertEqual(hoststate.UNTRAITED, self.host(self.bare).state)

    def test_a_failed_read_installs_what_it_got(self):
        # The first read fails part way (after the first group's two
        # answers, in whatever order the read asks): the hosts of the
        # groups read by then are judged, the others not yet.
        real_get = self.placement.get
        answered = []

        def flaky(url, **kw):
            if len(answered) >= 4:
                raise ConnectionError('placement went away')
            answered.append(url)
            return real_get(url, **kw)
        self.placement.get = flaky
        self.assertFalse(self.cache.refresh_now())
        snap = self.cache.snapshot()
        self.assertIn('placement went away', str(snap.failure))
        judged = [rp for rp in self.hosts if snap.host(rp) is not None]
        self.assertNotEqual([], judged)
        self.assertLess(len(judged), len(self.hosts))
        for rp in judged:
            self.assertEqual(as_group_says(self.hosts[rp]),
                             snap.host(rp).profile)
        self.assertIsNone(snap.read_at)

    def test_wrong_shaped_answer_keeps_previous_mapping(self):
        # A 200 {} used to read as "no host has traits".
        from tests.fake_placement import Response
        self.cache.refresh_now()
        real_get = self.placement.get
        self.placement.get = lambda url, **kw: Response(200, {})
        self.assertFalse(self.cache.refresh_now())
        self.assertIn('not the expected JSON',
                      str(self.cache.snapshot().failure))
        rp = next(iter(self.hosts))
        self.assertEqual(as_group_says(self.hosts[rp]),
                         self.host(rp).profile)
        self.placement.get = real_get
        self.assertTrue(self.cache.refresh_now())

    def test_stale_digest_is_not_trusted(self):
        # A digest trait left over from an older profile (set by hand or
        # by a broken reporter) must not give the host that profile.
        rp = str(uuid.uuid4())
        wrong = [t for t in published(self.intel)
                 if not t.startswith(traits.DIGEST_PREFIX)]
        wrong.append(traits.digest_trait(traits.encode(self.kernel)))
        self.placement.traits = {rp: set(wrong)}
        self.cache.refresh_now()
        self.assertEqual(as_placement_says(self.intel),
                         self.host(rp).profile)

    def test_source_read_is_one_call_and_404_is_told_apart(self):
        self.cache.refresh_now()
        self.placement.urls[:] = []
        rp = next(iter(self.hosts))
        hp, key = self.cache.read_source(rp, self.clock() + 10)
        self.assertEqual(hoststate.TRAITED, hp.state)
        self.assertEqual(['/resource_providers/%s/traits' % rp],
                         self.placement.urls)
        self.assertRaises(reads.NotFound, self.cache.read_source,
                          str(uuid.uuid4()), self.clock() + 10)


class RefresherThreadTest(testtools.TestCase):
    """The background thread, on the real clock."""

    def setUp(self):
        super().setUp()
        self.placement = FakePlacement()
        self.milan = real('epyc-milan-nested-l1')
        self.rp = str(uuid.uuid4())
        self.placement.set(self.rp, published(self.milan))

    def _cache(self, **kwargs):
        cache = profiles.ProfileCache(lambda: self.placement, **kwargs)
        self.addCleanup(cache.stop)
        return cache

    def test_first_request_waits_for_the_first_read_only(self):
        cache = self._cache(ttl=300, initial_wait=5.0)
        snap = cache.snapshot(deadline=time.monotonic() + 5)
        self.assertEqual(hoststate.TRAITED, snap.host(self.rp).state)
        self.assertEqual(1, snap.serial)
        # Later requests never wait and never read.
        before = self.placement.calls
        self.assertIs(snap, cache.snapshot())
        self.assertEqual(before, self.placement.calls)

    def test_first_wait_is_bounded(self):
        gate = threading.Event()
        self.addCleanup(gate.set)
        real_get = self.placement.get

        def hung(url, **kw):
            gate.wait(10)
            return real_get(url, **kw)
        self.placement.get = hung
        cache = self._cache(ttl=300, initial_wait=0.2)
        snap = cache.snapshot(deadline=time.monotonic() + 10)
        # Back while the read still hangs: nothing read yet, and says so.
        self.assertFalse(gate.is_set())
        self.assertIsNone(snap.host(self.rp))
        self.assertIn('not been read', str(snap.failure))

    def test_requests_do_not_wait_for_a_hung_refresh(self):
        # Four concurrent requests while the refresher hangs in
        # Placement: each gets the last snapshot at once.
        cache = self._cache(ttl=300, initial_wait=5.0)
        first = cache.snapshot(deadline=time.monotonic() + 5)
        gate = threading.Event()
        self.addCleanup(gate.set)
        real_get = self.placement.get
        entered = threading.Event()

        def hung(url, **kw):
            entered.set()
            gate.wait(10)
            return real_get(url, **kw)
        self.placement.get = hung
        cache.wake()
        self.assertTrue(entered.wait(5))
        seen = []

        def request():
            snap = cache.snapshot(deadline=time.monotonic() + 10)
            seen.append(snap.host(self.rp).state)
        threads = [threading.Thread(target=request) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        # Every request has ended while the refresh still hangs (no speed
        # threshold: a request that waited for it could not have ended).
        self.assertFalse(gate.is_set())
        self.assertEqual([], [t for t in threads if t.is_alive()])
        self.assertEqual([hoststate.TRAITED] * 4, seen)
        self.assertIs(first, cache.snapshot())
        gate.set()

    def test_stop_ends_the_thread(self):
        cache = self._cache(ttl=300)
        cache.snapshot(deadline=time.monotonic() + 5)
        cache.stop()
        cache._thread.join(5)
        self.assertFalse(cache._thread.is_alive())


_EVENTLET_CHILD = r"""
import eventlet
eventlet.monkey_patch()
import sys, time, uuid
from migcompat_filter.placement import hoststate
from migcompat_filter.scheduler import profiles
from tests.fake_placement import FakePlacement
from tests.unit import scheduler_helpers as t
placement = FakePlacement()
rp = str(uuid.uuid4())
placement.set(rp, t.published(t.real('epyc-milan-nested-l1')))
cache = profiles.ProfileCache(lambda: placement, initial_wait=5.0)
snap = cache.snapshot(deadline=time.monotonic() + 5)
assert snap.host(rp).state == hoststate.TRAITED, snap
cache.wake()
eventlet.sleep(0.2)
assert cache.snapshot().serial == 2, cache.snapshot()
print('ok', cache._thread.__class__.__module__)
"""


def _run_child(test, code):
    """The stdout of code run by a fresh interpreter in the source tree
    (a process of its own: eventlet patching, a fork); fails the test
    unless it exits 0.
    """
    import subprocess
    import sys
    root = os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))))
    out = subprocess.run(
        [sys.executable, '-c', code], cwd=root, capture_output=True,
        text=True, timeout=120, env=dict(os.environ, PYTHONPATH=root))
    test.assertEqual(0, out.returncode, out.stderr[-3000:])
    return out.stdout


class EventletTest(testtools.TestCase):
    """nova services before 2026.2 run eventlet-patched: the refresher is
    then a green thread, and still reads, installs and re-reads.
    """

    def test_refresher_under_monkey_patching(self):
        self.assertIn('ok', _run_child(self, _EVENTLET_CHILD))


_FORK_CHILD = r"""
import os, sys, uuid
from migcompat_filter.placement import hoststate
from migcompat_filter.scheduler import profiles
from tests.fake_placement import FakePlacement
from tests.unit import scheduler_helpers as t
placement = FakePlacement()
rp = str(uuid.uuid4())
placement.set(rp, t.published(t.real('epyc-milan-nested-l1')))
clock = t.Clock()
cache = profiles.ProfileCache(lambda: placement, ttl=10, clock=clock)
cache.start()                      # nova builds the filter
assert cache.wait_for_read(0, 30)
r, w = os.pipe()
pid = os.fork()                    # oslo.service forks a worker
if pid == 0:
    before = cache.reads_done
    cache.serving()                # its first request: it reads now
    ok = cache.wait_for_read(before, 30)
    os.write(w, b'1' if ok else b'0')
    os._exit(0)
os.close(w)
child_read = os.read(r, 1) == b'1'
os.waitpid(pid, 0)
# The parent serves nothing while a worker does: at its next turn it
# rests instead of reading.
done = cache.reads_done
clock.now += 11
cache.tick()
for _ in range(3000):
    if cache._resting:
        break
    cache._stopped.wait(0.01)
rested = cache._resting and cache.reads_done == done
snap = cache.snapshot()            # a request in the parent after all
assert snap.host(rp).state == hoststate.TRAITED
read_again = cache.wait_for_read(done, 30)
print(int(child_read), int(rested), int(read_again))
"""


class ForkTest(testtools.TestCase):
    """Only a fork that becomes a scheduler worker changes who reads."""

    def _started(self, clock):
        placement = FakePlacement()
        self.rp = str(uuid.uuid4())
        placement.set(self.rp, published(real('epyc-milan-nested-l1')))
        cache = profiles.ProfileCache(lambda: placement, ttl=10,
                                      clock=clock)
        self.addCleanup(cache.stop)
        cache.start()
        self.assertTrue(cache.wait_for_read(0, 30))
        return cache

    def _read_on_time(self, cache, clock):
        """The refresher reads when its clock says the interval passed."""
        done = cache.reads_done
        clock.now += 10.5
        cache.tick()
        return cache.wait_for_read(done, 30)

    def test_helper_subprocess_changes_nothing(self):
        # nova's libvirt driver runs "uptime" through processutils, which
        # forks with a preexec_fn (the at-fork hooks run), as any helper
        # subprocess of a real scheduler does.
        import subprocess
        clock = Clock()
        cache = self._started(clock)
        subprocess.run(['true'], preexec_fn=lambda: None, check=True)
        self.assertTrue(self._read_on_time(cache, clock))
        pid = os.fork()  # a bare fork that never serves
        if pid == 0:
            os._exit(0)
        os.waitpid(pid, 0)
        self.assertTrue(self._read_on_time(cache, clock))
        self.assertFalse(cache._resting)

    def test_worker_reads_parent_rests_until_it_serves(self):
        child_read, rested, read_again = map(
            int, _run_child(self, _FORK_CHILD).split())
        self.assertEqual(1, child_read)   # the worker's own refresher
        self.assertEqual(1, rested)       # the parent: no read
        self.assertEqual(1, read_again)   # ... until a request came


class ConcurrentCachesTest(testtools.TestCase):
    """The caches shared by request threads hold under contention."""

    def test_verdict_and_source_caches_under_threads(self):
        verdicts = profiles.BoundedLRU(50)
        placement = FakePlacement()
        rps = [str(uuid.uuid4()) for _ in range(20)]
        for i, rp in enumerate(rps):
            placement.set(rp, published(real(
                'epyc-milan-nested-l1', kernel_version='6.%d' % i)))
        cache = profiles.ProfileCache(lambda: placement, background=False)
        cache._sources.size = 5  # constant eviction
        errors = []

        def work(n):
            try:
                for i in range(200):
                    key = (n * 7 + i) % 120
                    self.assertEqual(key, verdicts.get_or_compute(
                        key, lambda k=key: k))
                    hp, _k = cache.read_source(rps[(n + i) % 20],
                                               time.monotonic() + 10)
                    self.assertEqual(hoststate.TRAITED, hp.state)
            except Exception as e:  # reported by the main thread
                errors.append(e)
        threads = [threading.Thread(target=work, args=(n,))
                   for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        self.assertEqual([], errors)
        self.assertLessEqual(len(verdicts), 50)
        self.assertLessEqual(len(cache._sources), 5)


class BoundedLRUTest(testtools.TestCase):
    """The one bounded cache of the scheduler (verdicts, similarities, the
    sources' decoded profiles, the contradiction warnings).
    """

    def test_bounded_and_computes_once(self):
        cache = profiles.BoundedLRU(2)
        calls = []

        def compute(v):
            calls.append(v)
            return v
        for key in ('a', 'a', 'b', 'c', 'a'):
            self.assertEqual(key, cache.get_or_compute(
                key, lambda: compute(key)))
        self.assertEqual(['a', 'b', 'c', 'a'], calls)
        self.assertEqual(2, len(cache))

    def test_the_least_recently_used_goes_first(self):
        cache = profiles.BoundedLRU(3)
        for key in 'abc':
            cache.put(key, key.upper())
        self.assertEqual('A', cache.get('a'))  # a is now the most recent
        cache.put('d', 'D')
        self.assertIsNone(cache.get('b'))
        self.assertEqual(['A', 'C', 'D'],
                         [cache.get(k) for k in 'acd'])
        cache.put('c', 'C2')  # a put refreshes too
        cache.put('e', 'E')
        self.assertIsNone(cache.get('a'))
        self.assertEqual(['C2', 'D', 'E'], [cache.get(k) for k in 'cde'])

    def test_a_changed_size_applies_at_the_next_put(self):
        cache = profiles.BoundedLRU(4)
        for key in 'abcd':
            cache.put(key, key)
        cache.size = 2
        self.assertEqual(4, len(cache))
        cache.put('e', 'e')
        self.assertEqual(2, len(cache))
        self.assertEqual([None, None, None, 'd', 'e'],
                         [cache.get(k) for k in 'abcde'])

    def test_size_zero_keeps_nothing(self):
        cache = profiles.BoundedLRU(0)
        calls = []
        for _ in range(2):
            cache.get_or_compute('a', lambda: calls.append(1) or 'A')
        self.assertEqual([1, 1], calls)
        self.assertEqual(0, len(cache))
