"""The scheduler's profile cache: Placement calls per profile, not per host.

Placement is a small in-memory stand-in answering the GETs the cache
sends (the real placement runs in tests/functional/test_nova_filter.py);
profiles are real snapshots encoded with the real codec.
"""

import collections
import os
import uuid

import testtools

from migcompat_filter import hostsource
from migcompat_filter import hoststate
from migcompat_filter import profile as profile_mod
from migcompat_filter import reader
from migcompat_filter import traits
from migcompat_filter.scheduler import profiles
from tests.fake_placement import FakePlacement

HOSTS = os.path.join(os.path.dirname(os.path.dirname(__file__)),
                     'fixtures', 'hosts')


_PROFILES = {}


def real(name, **changes):
    if name not in _PROFILES:
        _PROFILES[name] = reader.read_profile(
            hostsource.SnapshotSource(os.path.join(HOSTS, name)))
    factors = dict(_PROFILES[name].factors)
    factors.update(changes)
    return profile_mod.Profile(factors)


def as_placement_says(prof):
    # What the scheduler can know: the profile after the trait round trip
    # (unknown reasons are shortened on the way).
    return traits.decode(traits.encode(prof))


def published(prof, digest=True):
    names = traits.encode(prof)  # the digest trait included
    if digest:
        return names
    return [t for t in names if not t.startswith(traits.DIGEST_PREFIX)]


class Clock(object):
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


class ProfileCacheTest(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.placement = FakePlacement()
        self.clock = Clock()
        self.cache = profiles.ProfileCache(lambda: self.placement, ttl=300,
                                           clock=self.clock)
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

    def deadline(self):
        return self.clock() + 10

    def test_cold_refresh_costs_calls_per_profile_not_per_host(self):
        self.assertIsNone(self.cache.ensure_fresh(self.deadline()))
        # digest list + schema members + 3 profiles x (members + decode)
        self.assertEqual(2 + 2 * 3, len(self.placement.urls))
        self.placement.urls[:] = []
        for rp, prof in self.hosts.items():
            hp = self.cache.cached(rp)
            self.assertEqual(hoststate.TRAITED, hp.state)
            self.assertEqual(as_placement_says(prof), hp.profile)
        self.assertEqual(hoststate.UNTRAITED,
                         self.cache.cached(self.bare).state)
        self.assertEqual([], self.placement.urls)

    def test_ttl_refresh_rereads_membership_only(self):
        self.cache.ensure_fresh(self.deadline())
        self.placement.urls[:] = []
        self.clock.now += 299
        self.cache.ensure_fresh(self.deadline())
        self.assertEqual([], self.placement.urls)
        # A host moves to another (known) profile; seen after the TTL.
        rp = next(r for r, p in self.hosts.items() if p is self.intel)
        self.placement.set(rp, published(self.milan))
        self.clock.now += 2
        self.cache.ensure_fresh(self.deadline())
        self.assertEqual(2 + 3, len(self.placement.urls))
        self.assertEqual(as_placement_says(self.milan),
                         self.cache.cached(rp).profile)

    def test_equal_profiles_share_a_key_different_ones_do_not(self):
        self.cache.ensure_fresh(self.deadline())
        keys = collections.defaultdict(set)
        for rp, prof in self.hosts.items():
            keys[id(prof)].add(self.cache.cached(rp).key)
        self.assertEqual([1, 1, 1], [len(k) for k in keys.values()])
        self.assertEqual(3, len(set.union(*keys.values())))

    def test_host_without_digest_is_read_on_its_own(self):
        rp = str(uuid.uuid4())
        self.placement.set(rp, published(self.kernel, digest=False))
        self.cache.ensure_fresh(self.deadline())
        self.assertIsNone(self.cache.cached(rp))
        self.placement.urls[:] = []
        hp = self.cache.read_host(rp, self.deadline())
        self.assertEqual(['/resource_providers/%s/traits' % rp],
                         self.placement.urls)
        self.assertEqual(hoststate.TRAITED, hp.state)
        self.assertEqual(as_placement_says(self.kernel), hp.profile)
        self.assertIs(hp, self.cache.cached(rp))

    def test_newer_schema_is_recognised(self):
        rp = str(uuid.uuid4())
        names = [t.replace('SCHEMA_%d' % traits.SCHEMA,
                           'SCHEMA_%d' % (traits.SCHEMA + 1))
                 for t in traits.encode(self.milan)]
        self.placement.set(rp, names)
        hp = self.cache.read_host(rp, self.deadline())
        self.assertEqual(hoststate.NEWER_SCHEMA, hp.state)
        self.assertIn('newer', hp.reason)

    def test_placement_failure_keeps_previous_mapping(self):
        self.cache.ensure_fresh(self.deadline())
        self.clock.now += 301
        self.placement.fail = ConnectionError('placement is down')
        failure = self.cache.ensure_fresh(self.deadline())
        self.assertIn('placement is down', str(failure))
        rp = next(iter(self.hosts))
        self.assertEqual(as_placement_says(self.hosts[rp]),
                         self.cache.cached(rp).profile)
        # Not fresh: an unknown host is not declared untraited.
        self.assertIsNone(self.cache.cached(self.bare))
        hp = self.cache.read_host(self.bare, self.deadline())
        self.assertEqual(hoststate.UNJUDGED, hp.state)

    def test_wrong_shaped_answer_keeps_previous_mapping(self):
        # D1: a 200 {} used to read as "no host has traits".
        from tests.fake_placement import Response
        self.cache.ensure_fresh(self.deadline())
        self.clock.now += 301
        real_get = self.placement.get
        self.placement.get = lambda url, **kw: Response(200, {})
        failure = self.cache.ensure_fresh(self.deadline())
        self.assertIn('not the expected JSON', str(failure))
        rp = next(iter(self.hosts))
        self.assertEqual(as_placement_says(self.hosts[rp]),
                         self.cache.cached(rp).profile)
        self.placement.get = real_get
        self.clock.now += 31
        self.assertIsNone(self.cache.ensure_fresh(self.deadline()))

    def test_lock_wait_is_bounded_by_the_deadline(self):
        # D2: a request does not queue behind a hung refresh.
        self.cache._lock.acquire()
        self.addCleanup(self.cache._lock.release)
        failure = self.cache.ensure_fresh(self.clock.now + 0.05)
        self.assertIn('time budget ran out waiting', str(failure))

    def test_no_retry_storm_while_placement_fails(self):
        self.placement.fail = ConnectionError('placement is down')
        self.assertIsNotNone(self.cache.ensure_fresh(self.deadline()))
        self.assertEqual(1, len(self.placement.urls))
        self.clock.now += 10
        self.assertIsNotNone(self.cache.ensure_fresh(self.deadline()))
        self.assertEqual(1, len(self.placement.urls))
        self.placement.fail = None
        self.clock.now += 25
        self.assertIsNone(self.cache.ensure_fresh(self.deadline()))
        rp = next(iter(self.hosts))
        self.assertEqual(hoststate.TRAITED, self.cache.cached(rp).state)

    def test_time_budget_stops_reading(self):
        failure = self.cache.ensure_fresh(self.clock() - 1)
        self.assertIn('time budget', str(failure))
        self.assertEqual([], self.placement.urls)

    def test_stale_digest_is_not_trusted(self):
        # A digest trait left over from an older profile (set by hand or
        # by a broken reporter) must not give the host that profile.
        rp = str(uuid.uuid4())
        wrong = [t for t in published(self.intel)
                 if not t.startswith(profiles.DIGEST_PREFIX)]
        wrong.append(profiles.digest_trait(traits.encode(self.kernel)))
        self.placement.traits = {rp: set(wrong)}
        self.cache.ensure_fresh(self.deadline())
        self.assertIsNone(self.cache.cached(rp))
        hp = self.cache.read_host(rp, self.deadline())
        self.assertEqual(as_placement_says(self.intel), hp.profile)


class VerdictCacheTest(testtools.TestCase):

    def test_bounded_and_computes_once(self):
        cache = profiles.VerdictCache(size=2)
        calls = []

        def compute(v):
            calls.append(v)
            return v
        for key in ('a', 'a', 'b', 'c', 'a'):
            cache.get_or_compute(key, lambda: compute(key))
        self.assertEqual(['a', 'b', 'c', 'a'], calls)
        self.assertEqual(2, len(cache))
