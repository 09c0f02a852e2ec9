"""Host profiles as Placement traits say them, cached for the scheduler.

Placement is the only place the scheduler learns a host's profile: the
reporter (``migcompat report``) writes each compute node's profile as
``CUSTOM_MIGCOMPAT_*`` traits on its resource provider (migcompat_filter.
traits), plus one digest trait ``CUSTOM_MIGCOMPAT_DIGEST_<hash>`` of those
traits (:func:`digest_trait`). Many hosts share one profile, so the cache
reads Placement per *profile*, not per host:

1. ``GET /traits?associated=true&name=startswith:CUSTOM_MIGCOMPAT_DIGEST_``
   - every profile digest some provider carries (1 call);
2. ``GET /resource_providers?required=CUSTOM_MIGCOMPAT_SCHEMA_<n>`` - every
   provider with our traits at all (1 call), so the others are known to be
   untraited without asking;
3. per digest, ``GET /resource_providers?required=<digest>`` - the hosts
   that have that profile (1 call per distinct profile);
4. per digest never seen before, the traits of one of its hosts, decoded
   into a Profile (1 call per new profile). A digest names its content, so
   a decoded profile never goes stale and is kept (bounded LRU).

A process that starts cold thus costs 2 + 2 x profiles calls, every later
refresh 2 + profiles (+1 per profile new to it). A host whose traits carry
no digest (or a digest that does not match them) is read on its own.

A refresh happens at most every ``profile_cache_ttl`` seconds; between
refreshes a live migration costs one Placement call (the source's traits,
:meth:`ProfileCache.read_source`: its running-guests record is per host,
in no digest, and changes as guests start and stop) and any other request
none. Every read is
bounded by the request's deadline (scheduler/reads.py: each call's timeout
is capped at the time left, and the caller waits no longer than that), and
so is the wait for another request's refresh; every answer is checked for
the shape the cache reads. On error, timeout or a wrong-shaped answer the
previous mapping stays in use and the hosts it does not cover are
"unjudged".

This module talks to Placement only through the object given to it (in
nova: ``nova.scheduler.client.report.report_client_singleton()``), with
its ``get(url, version=...)`` method, so it has no nova import itself.
"""

import collections
import hashlib
import threading
import time
import urllib.parse

from oslo_log import log as logging

from migcompat_filter.factors import catalogue
from migcompat_filter import hoststate
from migcompat_filter import profile as profile_mod
from migcompat_filter.scheduler import reads
from migcompat_filter import traits as traits_codec


LOG = logging.getLogger(__name__)

#: The namespace of every trait migcompat writes, and the per-profile
#: digest trait (both the codec's: migcompat_filter.traits).
TRAIT_PREFIX = traits_codec.PREFIX
DIGEST_PREFIX = traits_codec.DIGEST_PREFIX
#: The codec's schema traits; any provider with one has our traits.
SCHEMA_PREFIX = TRAIT_PREFIX + 'SCHEMA_'


PlacementFailure = reads.PlacementFailure


digest_trait = traits_codec.digest_trait


def _classify(trait_names):
    """A provider's trait names -> hoststate.HostProfile (never raises).

    hoststate.classify decides; the problems of a host that is still
    judged are worth a DEBUG line here, where the scheduler reads them.
    """
    hp = hoststate.classify(trait_names)
    if hp.state == hoststate.TRAITED and hp.problems:
        LOG.debug('migcompat: trait problems: %s',
                  '; '.join(str(p) for p in hp.problems))
    return hp


def _all_traits_key(mine):
    # Not digest_trait: the digest leaves the per-host traits out, and
    # they are what tells one source's running guests from another's.
    return hashlib.sha256('\n'.join(mine).encode()).hexdigest()[:24]


def without_per_host(hp):
    """hp without its per-host factors (a cached profile was decoded from
    one host of its digest group: its running guests are that host's)."""
    names = catalogue.per_host()
    if not any(n in hp.profile for n in names):
        return hp
    factors = dict(hp.profile.factors)
    for name in names:
        factors[name] = profile_mod.Unknown(
            'per host; not read (Placement failed on the source)')
    return hoststate.HostProfile(hp.state, profile_mod.Profile(factors),
                                 hp.key)


class CallCounter(object):
    """Wraps a Placement client to count calls (tests and the benchmark)."""

    def __init__(self, client):
        self.client = client
        self.calls = 0
        self.urls = []

    @property
    def counted_client(self):
        """The wrapped client (reads.send counts, then sends through it)."""
        return self.client

    def count(self, url):
        self.calls += 1
        self.urls.append(url)

    def get(self, url, version=None, **kwargs):
        self.count(url)
        return self.client.get(url, version=version, **kwargs)


class ProfileCache(object):
    """rp_uuid -> HostProfile, refreshed from Placement per profile."""

    #: Seconds between refresh attempts while Placement fails.
    RETRY_AFTER = 30.0

    def __init__(self, client_factory, ttl=300, max_profiles=10000,
                 clock=time.monotonic):
        self._client_factory = client_factory
        self._client = None
        self.ttl = ttl
        self.clock = clock
        self._lock = threading.Lock()
        self._by_key = collections.OrderedDict()  # key -> HostProfile
        self._max_profiles = max_profiles
        self._host_key = {}          # rp_uuid -> profile key
        self._loaded_at = None       # clock() of the last full refresh
        self._complete = False       # the mapping covers every traited host
        self._extra = {}             # rp_uuid -> HostProfile read one by one
        self._traited = set()        # providers with our schema trait
        self._failure = None         # the last refresh's PlacementFailure
        self._failed_at = None
        # source traits key -> HostProfile with its per-host factors
        self._sources = collections.OrderedDict()
        self._max_sources = 1000

    # -- Placement --------------------------------------------------------

    @property
    def client(self):
        if self._client is None:
            self._client = self._client_factory()
        return self._client

    def _get(self, url, version, deadline, request_id=None):
        """The JSON body of GET url by the deadline (reads.timed_get)."""
        try:
            client = self.client
        except Exception as e:  # nova's report client could not be made
            raise PlacementFailure('no Placement client: %s' % e)
        return reads.timed_get(client, url, version, deadline, request_id,
                               clock=self.clock)

    def _provider_traits(self, rp_uuid, deadline, request_id=None):
        url = '/resource_providers/%s/traits' % rp_uuid
        return reads.trait_names(
            self._get(url, '1.6', deadline, request_id), url)

    # -- refresh ----------------------------------------------------------

    def fresh(self):
        return (self._loaded_at is not None and
                self.clock() - self._loaded_at < self.ttl)

    def refresh(self, deadline, request_id=None):
        """Re-read the host -> profile mapping (see module docstring).

        Raises PlacementFailure; the previous mapping then stays in use.
        """
        prefix = DIGEST_PREFIX
        # associated: only digests some provider still carries.
        url = ('/traits?associated=true&name=startswith:%s'
               % urllib.parse.quote(prefix))
        digests = sorted(reads.trait_names(
            self._get(url, '1.6', deadline, request_id), url))
        # Which providers carry our traits at all: the rest are untraited
        # without asking, and those among them without a digest trait
        # (a reporter that does not publish one) are read one by one.
        schema = '%s%d' % (SCHEMA_PREFIX, traits_codec.SCHEMA)
        traited = set(self._members(schema, deadline, request_id))
        host_key = {}
        for digest in digests:
            uuids = self._members(digest, deadline, request_id)
            if not uuids:
                continue  # a digest trait nobody carries any more
            if digest not in self._by_key:
                self._learn(uuids, digest, deadline, request_id)
            for rp_uuid in uuids:
                host_key[rp_uuid] = digest
        undigested = traited.difference(host_key)
        if undigested:
            LOG.info('migcompat: %d hosts carry migcompat traits but no '
                     '%s* trait; they are read one by one (run a newer '
                     '"migcompat report" on them)', len(undigested), prefix)
        self._host_key = host_key
        self._traited = traited
        self._extra = {}
        self._complete = True
        self._loaded_at = self.clock()

    def _members(self, trait, deadline, request_id):
        """UUIDs of the providers that have the trait ([] if no such)."""
        url = '/resource_providers?required=%s' % urllib.parse.quote(trait)
        try:
            body = self._get(url, '1.18', deadline, request_id)
        except PlacementFailure as e:
            if 'HTTP 400' in str(e):
                return []  # the trait does not exist (yet): no provider
            raise
        return reads.provider_uuids(body, url)

    def _learn(self, uuids, digest, deadline, request_id):
        names = self._provider_traits(uuids[0], deadline, request_id)
        hp = _classify(names)
        if hp.state == hoststate.TRAITED and hp.key != digest:
            # A stale or hand-set digest trait, or the host changed
            # between the two reads: do not file it under this digest
            # (its hosts are then read one by one).
            LOG.info('migcompat: host %s carries %s but its traits hash '
                     'to %s', uuids[0], digest, hp.key)
            return
        self._remember(digest, hp)

    def _remember(self, key, hp):
        self._by_key[key] = hp
        self._by_key.move_to_end(key)
        while len(self._by_key) > self._max_profiles:
            self._by_key.popitem(last=False)

    # -- lookups ----------------------------------------------------------

    def ensure_fresh(self, deadline, request_id=None):
        """Refresh when the TTL ran out. Returns the failure or None.

        After a failure, requests within RETRY_AFTER seconds (at most the
        TTL) do not try again: while Placement is sick, live migrations
        do not each wait for it. A request waits for another's refresh
        only until its own deadline, then goes on with what is cached.
        """
        if self.fresh():
            return None  # the common case: no lock to wait for
        left = max(0.0, deadline - self.clock())
        if not self._lock.acquire(timeout=left):
            return PlacementFailure(
                'another request is refreshing the host profiles from '
                'Placement; the time budget ran out waiting for it')
        try:
            return self._ensure_fresh_locked(deadline, request_id)
        finally:
            self._lock.release()

    def _ensure_fresh_locked(self, deadline, request_id):
        if self.fresh():
            return None
        if (self._failure is not None and self.clock() - self._failed_at
                < min(self.RETRY_AFTER, self.ttl)):
            return self._failure
        try:
            self.refresh(deadline, request_id)
            self._failure = None
        except PlacementFailure as e:
            self._failure, self._failed_at = e, self.clock()
            LOG.warning('migcompat: could not refresh host profiles from '
                        'Placement (%s); using the %s', e,
                        'previous ones' if self._loaded_at is not None
                        else 'source host only')
            return e
        return None

    def cached(self, rp_uuid):
        """The HostProfile known without a Placement call, or None."""
        hp = self._extra.get(rp_uuid)
        if hp is not None:
            return hp
        key = self._host_key.get(rp_uuid)
        if key is not None:
            return self._by_key.get(key)
        if (self._complete and rp_uuid not in self._traited and
                self.fresh()):
            return hoststate.HostProfile(
                hoststate.UNTRAITED, reason='no %s* traits' % TRAIT_PREFIX)
        return None

    def host(self, rp_uuid, deadline, request_id=None):
        """The HostProfile of one host, reading Placement if needed.

        Never raises: a failed read is an UNJUDGED HostProfile.
        """
        hp = self.cached(rp_uuid)
        if hp is not None:
            return hp
        return self.read_host(rp_uuid, deadline, request_id)

    def read_host(self, rp_uuid, deadline, request_id=None):
        """Read one host's traits now (1 call) and remember them."""
        try:
            names = self._provider_traits(rp_uuid, deadline, request_id)
        except PlacementFailure as e:
            return hoststate.HostProfile(hoststate.UNJUDGED, reason=str(e))
        hp = _classify(names)
        if hp.state == hoststate.TRAITED:
            if hp.key in self._by_key:
                hp = self._by_key[hp.key]  # share one Profile per key
            else:
                self._remember(hp.key, hp)
        self._extra[rp_uuid] = hp
        return hp

    def read_source(self, rp_uuid, deadline, request_id=None):
        """(HostProfile, key) of a live-migration source, read now (1 call).

        The source's per-host traits (its running guests) are in no digest,
        so no profile cached for its digest group may stand in for them.
        key names every trait of ours it carries (None when unreadable):
        what the engine reads of the source, per-host traits included. The
        decoded profile is kept per such key, so an unchanged source is
        not decoded again.
        """
        try:
            names = self._provider_traits(rp_uuid, deadline, request_id)
        except PlacementFailure as e:
            return hoststate.HostProfile(hoststate.UNJUDGED,
                                         reason=str(e)), None
        mine = hoststate.ours(names)
        key = _all_traits_key(mine) if mine else None
        hp = self._sources.get(key) if key else None
        if hp is None:
            hp = _classify(names)
            if key is not None:
                self._sources[key] = hp
                while len(self._sources) > self._max_sources:
                    self._sources.popitem(last=False)
        else:
            self._sources.move_to_end(key)
        return hp, key

    def stats(self):
        return {'hosts': len(self._host_key) + len(self._extra),
                'profiles': len(self._by_key)}


class VerdictCache(object):
    """(source key, destination key, mode) -> Verdict, bounded LRU."""

    def __init__(self, size=100000):
        self.size = size
        self._data = collections.OrderedDict()
        self._lock = threading.Lock()

    def get_or_compute(self, key, compute):
        if self.size <= 0:
            return compute()
        with self._lock:
            value = self._data.get(key)
            if value is not None:
                self._data.move_to_end(key)
                return value
        value = compute()
        with self._lock:
            self._data[key] = value
            while len(self._data) > self.size:
                self._data.popitem(last=False)
        return value

    def __len__(self):
        return len(self._data)
