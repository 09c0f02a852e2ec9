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

"""Host profiles as Placement traits say them, kept fresh for the scheduler.

Placement is the only place the scheduler learns a host's profile (the
reporter's traits; schema 3: a profile digest trait and the migcompat store).
The fleet is read per *profile*, not per host, by :func:`grouping.read`
(<= 3 + 2 x profiles Placement calls).

**Who reads, and when.** One daemon thread per serving scheduler process
(the *refresher*, started when nova builds the filter at nova-scheduler's
start, else by the first request; scheduler/refresher.py says when it
reads, which process reads after a fork and which answers it does not
believe at once) re-reads the fleet when the change marker moved (polled
every ``profile_change_poll_interval`` seconds) or every
``profile_refresh_interval`` seconds, and swaps in a new immutable
:class:`Snapshot` by reference. A
request reads ``self._snapshot`` once and never waits on a lock or on the
network for it. Only a request that
arrives while the process's very first read is still running may wait for
it, at most ``initial_profile_wait`` seconds (default 0: not at all),
never past its own deadline. A host the snapshot does not cover is
"unjudged" (``placement_error_action``).

A failed read keeps the previous snapshot, with what the failed read got
installed over it (grouping.PartialRead): hosts it no longer covers are
unjudged, not "untraited". Hosts with traits of ours but no (valid) digest
are read one by one, by the refresher too.

Within a request only two reads touch Placement, each bounded by the
request's deadline (scheduler/reads.py): the live-migration source's own
traits (:meth:`ProfileCache.read_source`: its running-guests record is per
host, in no digest) and, for a guest with a pinned invariant TSC, the
candidates' own traits (scheduler/per_host.py).

No nova import: the client is duck-typed (in nova:
``nova.scheduler.client.report.report_client_singleton()``).
"""

import collections
import hashlib
import threading
import time

from oslo_log import log as logging

from migcompat_filter.placement import grouping
from migcompat_filter.placement import hoststate
from migcompat_filter.placement import store
from migcompat_filter.scheduler import reads
from migcompat_filter.scheduler import refresher
from migcompat_filter.traits import codec as traits_codec


LOG = logging.getLogger(__name__)

_UNTRAITED = hoststate.HostProfile(
    hoststate.UNTRAITED, reason='no %s* traits' % traits_codec.PREFIX)


def classify(trait_names, records=None, provider=None):
    """A provider's trait names -> hoststate.HostProfile (never raises).

    hoststate.classify decides; the problems of a host that is still
    judged are worth a DEBUG line here, where the scheduler reads them.
    """
    hp = hoststate.classify(trait_names, records, provider)
    if hp.state == hoststate.TRAITED and hp.problems:
        LOG.debug('migcompat: trait problems: %s',
                  '; '.join(str(p) for p in hp.problems))
    return hp


def _all_traits_key(mine):
    # Not digest_trait: the digest leaves the per-host traits out, and
    # they are what tells one source's running guests from another's.
    return hashlib.sha256('\n'.join(mine).encode()).hexdigest()[:24]


class Snapshot(object):
    """What the request path reads: one reading of the fleet, never
    changed once made (a refresh makes a new one).

    grouping: grouping.Grouping; loose: rp_uuid -> HostProfile of the
    hosts read one by one; read_at: clock() of the last complete read
    (None: none yet); failure: the PlacementFailure of the last read, or
    None; serial: counts the snapshots of this process (memo keys).
    """

    __slots__ = ('grouping', 'loose', 'read_at', 'failure', 'serial')

    def __init__(self, grouping_, loose, read_at, failure, serial):
        self.grouping = grouping_
        self.loose = loose
        self.read_at = read_at
        self.failure = failure
        self.serial = serial

    def host(self, rp_uuid):
        """The HostProfile this snapshot knows for a host, or None."""
        hp = self.grouping.profile_of(rp_uuid)
        if hp is not None:
            return hp
        hp = self.loose.get(rp_uuid)
        if hp is not None:
            return hp
        if self.failure is None and self.grouping.is_untraited(rp_uuid):
            return _UNTRAITED
        return None

    def __repr__(self):
        return 'Snapshot(#%d, %r, %d loose%s)' % (
            self.serial, self.grouping, len(self.loose),
            ', failed: %s' % self.failure if self.failure else '')


_NOT_READ = reads.PlacementFailure('the host profiles have not been read '
                                   'from Placement yet (the scheduler just '
                                   'started)')


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


class BoundedLRU(object):
    """A bounded mapping that forgets the least recently used entry first,
    shared by request threads: every access is under its own lock.

    size: the most entries kept (0 or less: none); a changed size applies
    at the next put. get_or_compute computes outside the lock (two
    requests may compute the same value; both results are equal). None is
    never stored (get's "not there").
    """

    def __init__(self, size):
        self.size = size
        self._data = collections.OrderedDict()
        self._lock = threading.Lock()

    def get(self, key):
        """The value of key, now the most recently used; None if absent."""
        with self._lock:
            value = self._data.get(key)
            if value is not None:
                self._data.move_to_end(key)
            return value

    def put(self, key, value):
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > max(self.size, 0):
                self._data.popitem(last=False)

    def get_or_compute(self, key, compute):
        """The value of key; compute() once it is absent (and kept)."""
        value = self.get(key)
        if value is None:
            value = compute()
            self.put(key, value)
        return value

    def renew_lock(self):
        """A new lock (in a forked child: the parent's may be held)."""
        self._lock = threading.Lock()

    def __len__(self):
        return len(self._data)


class ProfileCache(refresher.Refresher):
    """rp_uuid -> HostProfile: an immutable Snapshot kept fresh by one
    background thread per process (see the module docstring).
    """

    def __init__(self, client_factory, ttl=300, max_profiles=10000,
                 clock=time.monotonic, background=True, read_timeout=10.0,
                 initial_wait=0.0):
        self._client_factory = client_factory
        self._client = None
        self.ttl = ttl
        self.clock = clock
        #: False: no thread; refresh_now() is the only reader (tests).
        self.background = background
        #: Seconds each of the refresher's Placement calls may take.
        self.read_timeout = read_timeout
        #: Seconds the first request after a start may wait for the first
        #: read (initial_profile_wait).
        self.initial_wait = initial_wait
        self._snapshot = Snapshot(grouping.Grouping.empty(), {}, None,
                                  _NOT_READ, 0)
        # digest -> HostProfile, decoded before (a digest never changes
        # meaning); only the refresher writes it, under _refresh_lock.
        self._known = collections.OrderedDict()
        self._max_profiles = max_profiles
        self._refresh_lock = threading.Lock()  # one read at a time
        self._init_refresher()
        # source traits key -> HostProfile with its per-host factors
        self._sources = BoundedLRU(1000)
        # url -> items its answer listed, in the last read (warnings)
        self._answers, self._answered = {}, {}
        # fingerprint of a suspicious reading not believed yet
        self._suspect = None
        # rp_uuid -> the traits key last warned about (contradictions)
        self._warned = BoundedLRU(10000)

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
            raise reads.PlacementFailure('no Placement client: %s' % e)
        return reads.timed_get(client, url, version, deadline, request_id,
                               clock=self.clock)

    def provider_traits(self, rp_uuid, deadline, request_id=None):
        """One provider's trait names (1 call). Raises PlacementFailure
        (NotFound for a provider Placement does not have).
        """
        url = '/resource_providers/%s/traits' % rp_uuid
        return reads.trait_names(
            self._get(url, '1.6', deadline, request_id), url)

    def records_for(self, names, deadline, request_id=None):
        # The snapshot's schema-3 records, or the store read now (1 call).
        return store.records_for(names, self._snapshot.grouping.records,
                                 lambda u, v: self._get(u, v, deadline))

    def _grouping_get(self, url, version):
        # grouping.read's get: each call bounded on its own (nobody waits
        # for the refresher), a 400 to required= is "no such trait".
        try:
            body = self._get(url, version,
                             self.clock() + self.read_timeout)
        except reads.PlacementFailure as e:
            if e.status == 400 and 'required=' in url:
                raise grouping.NoSuchTrait(url) from None
            raise
        if '?' in url:  # a listing (a decode reads one host's traits)
            self._answered[url] = refresher.items(body)
        return body

    # -- the refresher (scheduler/refresher.py) ---------------------------

    def _renew_locks(self):
        self._refresh_lock = threading.Lock()
        for lru in (self._sources, self._warned):
            lru.renew_lock()

    def refresh_now(self):
        """Read the fleet now, in the caller's thread, and install the new
        snapshot. True when the read succeeded. Used by the refresher and
        by tests and the benchmark to force a synchronous refresh.
        """
        with self._refresh_lock:
            return self._refresh()

    def _refresh(self):
        previous = self._snapshot
        t0 = self.clock()
        failure = None
        self._answered = {}
        try:
            fleet = grouping.read(self._grouping_get, known=self._known,
                                  previous=previous.grouping,
                                  with_names=False)
        except grouping.PartialRead as e:
            fleet, failure = e.grouping, _as_failure(e.error)
        else:
            if not self._believed(previous.grouping, fleet):
                self._read_ended()
                return False
            self._answers = self._answered
        loose, loose_failure = self._read_loose(fleet, previous.loose)
        failure = failure or loose_failure
        for digest, hp in fleet.profiles.items():
            self._known[digest] = hp
            self._known.move_to_end(digest)
        while len(self._known) > self._max_profiles:
            self._known.popitem(last=False)
        self._snapshot = Snapshot(
            fleet, loose, self.clock() if failure is None
            else previous.read_at, failure, previous.serial + 1)
        self._read_ended()
        if failure is not None:
            LOG.warning('migcompat: could not read the host profiles from '
                        'Placement (%s); keeping the %s for the hosts not '
                        'read', failure, 'previous ones'
                        if previous.read_at is not None else
                        'ones read so far (none complete yet)')
        else:
            LOG.debug('migcompat: read %r in %.2f s (%d calls)',
                      fleet, self.clock() - t0, fleet.requests)
        if fleet.loose:
            LOG.info('migcompat: %d hosts carry migcompat traits but no '
                     'valid %s* trait; they are read one by one (run a '
                     'newer "migcompat profile publish" on them)',
                     len(fleet.loose), traits_codec.DIGEST_PREFIX)
        return failure is None

    def _believed(self, previous, fleet):
        """False for a suspicious complete reading seen for the first time
        (refresher.suspicious): the previous snapshot stays, a WARNING
        names the requests, and the refresher reads again soon.
        """
        why = refresher.suspicious(previous, fleet)
        if why is None:
            self._suspect = None
            return True
        seen = refresher.fingerprint(fleet)
        if seen == self._suspect:
            LOG.warning('migcompat: Placement gave the same answer again '
                        '(%s); believing it', why)
            self._suspect = None
            return True
        self._suspect = seen
        LOG.warning('migcompat: not believing the host profiles Placement '
                    'just gave (%s; answers that shrank: %s); keeping the '
                    'previous ones and reading again', why,
                    refresher.shrunk(self._answers, self._answered))
        return False

    def _read_loose(self, fleet, previous):
        """rp_uuid -> HostProfile of each host in no group, and the first
        failure (the hosts not reached keep their previous reading).
        """
        loose = {}
        for rp_uuid in sorted(fleet.loose):
            try:
                names = self.provider_traits(
                    rp_uuid, self.clock() + self.read_timeout)
            except reads.PlacementFailure as e:
                loose.update((u, previous[u]) for u in fleet.loose
                             if u in previous and u not in loose)
                return loose, e
            loose[rp_uuid] = self._checked(rp_uuid, names,
                                           records=fleet.records)
        return loose, None

    def _checked(self, rp_uuid, names, key=None, records=None):
        """classify(names) (schema 3: with the store's records), with a
        WARNING once per provider and change when its traits contradict
        themselves (UNREADABLE).
        """
        hp = classify(names, records, rp_uuid)
        if hp.state == hoststate.UNREADABLE:
            key = key or _all_traits_key(hoststate.ours(names))
            if self._warned.get(rp_uuid) != key:
                self._warned.put(rp_uuid, key)
                LOG.warning('migcompat: resource provider %s: its traits '
                            'contradict themselves (%s); it cannot be '
                            'judged until its reporter publishes again',
                            rp_uuid, hp.reason)
        return hp

    # -- the request path -------------------------------------------------

    def snapshot(self, deadline=None, wait=True):
        """The current Snapshot. Never waits on a lock or on Placement;
        only before the process's first read has ended does it wait for
        that read, at most initial_wait seconds and not past deadline
        (not at all with wait=False).
        """
        self.serving()
        if wait and not self._first.is_set() and self.background \
                and self.initial_wait > 0:
            left = self.initial_wait
            if deadline is not None:
                left = min(left, deadline - self.clock())
            if left > 0:
                self._first.wait(left)
        return self._snapshot

    def read_source(self, rp_uuid, deadline, request_id=None):
        """(HostProfile, key) of a live-migration source, read now (1 call).

        The source's per-host traits (its running guests) are in no digest,
        so no profile of its digest group may stand in for them. key names
        every trait of ours it carries (None when unreadable). The decoded
        profile is kept per such key, so an unchanged source is not decoded
        again. Raises NotFound when Placement has no such provider (the
        caller re-resolves the compute node); any other failure is an
        UNJUDGED HostProfile.
        """
        try:
            names = self.provider_traits(rp_uuid, deadline, request_id)
        except reads.NotFound:
            raise
        except reads.PlacementFailure as e:
            return hoststate.HostProfile(hoststate.UNJUDGED,
                                         reason=str(e)), None
        mine = hoststate.ours(names)
        key = _all_traits_key(mine) if mine else None
        if key is None:
            return self._untraited_source(rp_uuid), None
        hp = self._sources.get(key)
        if hp is None:
            hp = self._checked(rp_uuid, names, key,
                               self.records_for(names, deadline))
            self._sources.put(key, hp)
        return hp, key

    def _untraited_source(self, rp_uuid):
        # No trait of ours on a source the snapshot knows traited: not
        # believed (an empty answer); the caller judges by the
        # snapshot, and the refresher reads again now.
        known = self._snapshot.host(rp_uuid)
        if known is None or known.state != hoststate.TRAITED:
            return _UNTRAITED
        url = '/resource_providers/%s/traits' % rp_uuid
        LOG.warning('migcompat: GET %s answered no trait of ours for a '
                    'source the last reading knows traited; not believed, '
                    'reading Placement again', url)
        self.wake()
        return hoststate.HostProfile(
            hoststate.UNJUDGED, reason='GET %s answered no trait of ours, '
            'not believed' % url)


def _as_failure(error):
    if isinstance(error, reads.PlacementFailure):
        return error
    if isinstance(error, grouping.BadAnswer):
        return reads.PlacementFailure('%s (%s)' % (reads.BAD_BODY, error))
    return reads.PlacementFailure(str(error))
