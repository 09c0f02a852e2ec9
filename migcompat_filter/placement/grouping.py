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

"""The fleet as Placement groups it: hosts by profile digest, read once.

The scheduler's profile cache and the fleet commands (``host list``,
``matrix``, ``baseline``, ``check``) both read the fleet through
:func:`read`, so they group hosts the same way and pay the same, small
number of Placement calls: O(distinct profiles), never O(hosts).

1. ``GET /traits?associated=true&name=startswith:CUSTOM_MIGCOMPAT_`` -
   every trait of ours some provider carries (1 call): the digest traits
   (one per distinct profile) and the schema traits;
2. ``GET /resource_providers?required=in:<schema traits>&required=
   !<digest>,...`` - the providers with traits of ours but none of the
   digest traits (1 call, usually answering none); with the groups below
   that is every provider with traits of ours, so any other provider is
   known to have none without asking. Only when the digests would make
   the URL too long for a web server's request line is it every provider
   with a schema trait instead;
3. per digest, ``GET /resource_providers?required=<digest>`` - the hosts
   that have that profile, with their names (1 call per profile);
4. per digest not in ``known``, the traits of one of its hosts, decoded
   with :func:`hoststate.classify` (1 call per new profile). A digest
   names its content, so a decoded profile never goes stale.

Schema 3 (CUSTOM_MIGCOMPAT_PROFILE_<digest> on each host, the profile in
the migcompat store: placement/store.py) adds two calls and needs no
step 4: the hosts with a profile digest but without the schema-3 trait
(``required=in:<profile digests>&required=!CUSTOM_MIGCOMPAT_SCHEMA_3``,
1 call), with an older schema trait too (``&required=in:<older schema
traits>``, 1 call, only in a mixed fleet) and, last, the store itself (1
call), whose records are checked against their digests; a group whose
record is invalid keeps its hosts, each UNREADABLE with the record's
reason (its other groups unaffected).

A cold read costs at most 3 + 2 x profiles calls (one more in a fleet
mixing schema 1/2 with a single schema-3 profile), a later one at most
5 + profiles. A host that carries traits of ours but no digest trait (or one
that does not match its traits), that is listed in two groups, or that
carries a profile digest without the schema-3 trait, is in
``Grouping.loose``: read it on its own (it is then UNREADABLE, its
reason naming it and its traits), and never changes how the rest of its
group is read.

:func:`read` takes a ``get(url, version)`` callable that returns the JSON body
of a 200 answer, raises :class:`NoSuchTrait` for a ``required=`` query
Placement answers with 400 (a trait nobody created), and raises anything else
for a failure; so it serves nova's report client in the scheduler and
:class:`~migcompat_filter.placement.client.PlacementClient` in the CLI alike.
It never holds a lock and keeps no state: what it returns is immutable, and a
failure part-way raises :class:`PartialRead` carrying what was read so far
merged with the previous grouping.
"""

import urllib.parse

from migcompat_filter.factors import catalogue
from migcompat_filter.placement import hoststate
from migcompat_filter.placement import store as store_mod
from migcompat_filter import profile as profile_mod
from migcompat_filter.traits import codec as traits_codec

PREFIX = traits_codec.PREFIX
DIGEST_PREFIX = traits_codec.DIGEST_PREFIX
SCHEMA_PREFIX = PREFIX + traits_codec.SCHEMA_CODE + '_'
PROFILE_PREFIX = hoststate.PROFILE_PREFIX
SCHEMA_3 = hoststate.SCHEMA_3

#: Microversions: 1.6 for traits, 1.18 for required=, 1.39 for in: and
#: a repeated required=.
TRAITS_VERSION = '1.6'
REQUIRED_VERSION = '1.18'
REQUIRED_IN_VERSION = '1.39'
#: The longest listing URL sent: gunicorn refuses request lines over
#: 4094 bytes by default, Apache over 8190.
MAX_URL = 3500


class NoSuchTrait(Exception):
    """Placement refused a required= query: the trait does not exist."""


class BadAnswer(Exception):
    """A 200 answer that does not have the shape read here."""


class PartialRead(Exception):
    """A read failed part-way; ``grouping`` holds what it got.

    ``grouping`` is the previous grouping with every group read before
    the failure replaced by its new reading (``complete`` is False), so a
    retry that fails at the same place still makes progress visible.
    """

    def __init__(self, error, grouping):
        super(PartialRead, self).__init__(str(error))
        self.error = error
        self.grouping = grouping


class Grouping(object):
    """One reading of the fleet's groups. Never changed once made.

    members:  digest -> tuple of provider UUIDs that carry it
    host_key: provider UUID -> digest (its group)
    names:    provider UUID -> provider name (hosts of some group)
    profiles: digest -> HostProfile decoded from one of its hosts (the
              per-host factors blanked: :func:`without_per_host`)
    traited:  frozenset of provider UUIDs with traits of ours (a schema
              or a digest trait)
    loose:    frozenset of traited UUIDs in no (valid) group: read each
    complete: every step succeeded
    records:  the migcompat store's records (digest -> schema3.Record or
              Invalid), for reading schema-3 hosts on their own
    """

    __slots__ = ('members', 'host_key', 'names', 'profiles', 'traited',
                 'loose', 'complete', 'requests', 'records')

    def __init__(self, members, names, profiles, traited, complete=True,
                 requests=0, records=None, suspects=()):
        members = {d: tuple(u) for d, u in members.items()
                   if u and d in profiles}
        host_key = {}
        doubled = set(suspects)
        for digest, uuids in members.items():
            for uuid in uuids:
                if uuid in host_key:
                    doubled.add(uuid)
                host_key[uuid] = digest
        for uuid in doubled:  # in two groups: its traits contradict
            host_key.pop(uuid, None)
        traited = set(traited) | doubled
        self.members = members
        self.host_key = host_key
        self.names = dict(names)
        self.profiles = {d: profiles[d] for d in members}
        # One string object per host: the traited listing's UUIDs are
        # equal to the groups' but separate objects (0.85 MB at 10,000).
        canon = {u: u for u in host_key}
        self.traited = frozenset(canon.get(u, u) for u in traited)
        self.loose = self.traited.difference(host_key)
        self.complete = complete
        #: Placement calls this reading took.
        self.requests = requests
        self.records = dict(records or {})

    @classmethod
    def empty(cls):
        return cls({}, {}, {}, (), complete=False)

    def profile_of(self, uuid):
        """The HostProfile of a host's group, or None (not in one)."""
        digest = self.host_key.get(uuid)
        return self.profiles.get(digest) if digest else None

    def is_untraited(self, uuid):
        """True only when a complete reading knows the host has no traits
        of ours.
        """
        return self.complete and uuid not in self.traited

    def __len__(self):
        return len(self.host_key)

    def __repr__(self):
        return 'Grouping(%d hosts, %d profiles%s)' % (
            len(self.host_key), len(self.profiles),
            '' if self.complete else ', partial')


def without_per_host(hp):
    """hp without its per-host facts (a profile decoded from one host of a
    digest group: its running guests and its calibrated TSC frequency are
    that host's, not the group's).

    A per-host factor becomes Unknown; a per-host field of a dict factor
    (catalogue ``per_host_fields``, e.g. tsc's ``frequency``) is removed,
    which the rules read as unknown. Whoever needs a host's own value
    reads that host's traits.
    """
    if hp.profile is None:
        return hp
    names = catalogue.per_host()
    fields = catalogue.per_host_fields()
    factors = dict(hp.profile.factors)
    changed = False
    for name in names:
        if name in factors:
            factors[name] = profile_mod.Unknown(
                'per host: read from the host\'s own traits')
            changed = True
    for name, drop in fields.items():
        value = factors.get(name)
        if isinstance(value, dict) and any(f in value for f in drop):
            factors[name] = {k: v for k, v in value.items()
                             if k not in drop}
            changed = True
    if not changed:
        return hp
    return hoststate.HostProfile(hp.state, profile_mod.Profile(factors),
                                 hp.key, hp.reason, hp.problems)


def _trait_names(body, url):
    names = body.get('traits') if isinstance(body, dict) else None
    if not isinstance(names, list) or not all(
            isinstance(n, str) for n in names):
        raise BadAnswer('GET %s: no "traits" list of strings' % url)
    return names


def _providers(body, url):
    """[(uuid, name)] of a provider listing, checked."""
    rps = body.get('resource_providers') if isinstance(body, dict) else None
    if not isinstance(rps, list):
        raise BadAnswer('GET %s: no "resource_providers" list' % url)
    found = []
    for rp in rps:
        uuid = rp.get('uuid') if isinstance(rp, dict) else None
        if not isinstance(uuid, str) or not uuid:
            raise BadAnswer('GET %s: a resource provider without a "uuid" '
                            'string' % url)
        name = rp.get('name')
        found.append((uuid, name if isinstance(name, str) else uuid))
    return found


def members_url(traits):
    """The listing of the providers that carry any of traits."""
    if len(traits) == 1:
        return ('/resource_providers?required=%s'
                % urllib.parse.quote(traits[0]), REQUIRED_VERSION)
    return ('/resource_providers?required=in:%s'
            % ','.join(urllib.parse.quote(t) for t in traits),
            REQUIRED_IN_VERSION)


def members(get, traits):
    """[(uuid, name)] of the providers with any of traits ([] if none of
    the traits exists).
    """
    if not traits:
        return []
    url, version = members_url(sorted(traits))
    try:
        return _providers(get(url, version), url)
    except NoSuchTrait:
        return []


def _traited(members_of, extra):
    # The grouped hosts and the ungrouped ones with traits of ours.
    return frozenset(u for m in members_of.values() for u in m).union(
        u for u, _n in extra)


def ungrouped(get, schemas, digests):
    """(uuid, name) of the providers with any of schemas and none of
    digests: those no digest listing returns. None when the URL would be
    too long (the caller lists every provider with a schema trait).
    """
    if not schemas:
        return []
    if not digests:
        return members(get, schemas)
    url = ('/resource_providers?required=in:%s&required=%s' % (
        ','.join(urllib.parse.quote(t) for t in sorted(schemas)),
        ','.join('!' + urllib.parse.quote(t) for t in sorted(digests))))
    if len(url) > MAX_URL:
        return None
    try:
        return _providers(get(url, REQUIRED_IN_VERSION), url)
    except NoSuchTrait:
        return None  # a digest trait just deleted: ask the long way


def provider_traits(get, uuid):
    url = '/resource_providers/%s/traits' % uuid
    return _trait_names(get(url, TRAITS_VERSION), url)


#: Members of a schema-2 group tried before its hosts are read one by one.
LEARN_TRIES = 3


def learn(get, digest, uuids):
    """The HostProfile of a schema-2 digest group, from one of its hosts,
    or None when none of the first LEARN_TRIES hosts' traits hash to the
    digest (stale or hand-set: its hosts are then read one by one). So
    one mismatched host listed first no longer costs its whole group.
    """
    for uuid in uuids[:LEARN_TRIES]:
        hp = hoststate.classify(provider_traits(get, uuid))
        if hp.state != hoststate.TRAITED or hp.key == digest:
            return without_per_host(hp)
    return None


def learn3(digest, records):
    """The HostProfile of a schema-3 profile group, from its record (no
    host read): UNREADABLE with the record's reason when it is invalid or
    missing.
    """
    hp = hoststate.classify([SCHEMA_3, digest], records)
    if hp.state != hoststate.TRAITED:
        hp.reason = '%s: %s' % (digest, hp.reason.split('): ', 1)[-1])
        return hp
    factors = dict(hp.profile.factors)  # as without_per_host blanks them
    factors.update((n, profile_mod.Unknown(
        'per host: read from the host\'s own traits'))
        for n in catalogue.per_host())
    return hoststate.HostProfile(hp.state, profile_mod.Profile(factors),
                                 hp.key, hp.reason, hp.problems)


def suspects3(get, digests, schemas):
    """(uuid, name) of the providers carrying a profile digest but not the
    schema-3 trait, or an older schema trait too (1 call, 2 in a fleet
    with schema-1/2 hosts; none without profile digests).
    """
    if not digests:
        return []
    if SCHEMA_3 not in schemas:
        return members(get, digests)
    older = [t for t in schemas if t != SCHEMA_3]
    found = _suspects(get, digests, '!' + urllib.parse.quote(SCHEMA_3))
    if older:
        found += _suspects(get, digests, 'in:' + ','.join(
            urllib.parse.quote(t) for t in older))
    return found


def _suspects(get, digests, condition):
    url = ('/resource_providers?required=in:%s&required=%s' % (
        ','.join(urllib.parse.quote(t) for t in sorted(digests)),
        condition))
    if len(url) > MAX_URL:  # very many profiles: per batch of digests
        half = len(digests) // 2
        return (_suspects(get, digests[:half], condition) +
                _suspects(get, digests[half:], condition))
    try:
        return _providers(get(url, REQUIRED_IN_VERSION), url)
    except NoSuchTrait:
        return []


class _Counting(object):
    def __init__(self, get):
        self.get = get
        self.calls = 0

    def __call__(self, url, version):
        self.calls += 1
        return self.get(url, version)


def read(get, known=None, previous=None, progress=None, with_names=True):
    """A fresh :class:`Grouping` (see the module docstring).

    known: digest -> HostProfile decoded before (a digest never changes
    meaning, so these are not read again); previous: the last Grouping,
    kept for what a failed read did not reach. progress(done, total) is
    called after each group. with_names=False keeps no provider names
    (the scheduler needs none: 1.2 MB less at 10,000 hosts). Raises
    PartialRead on any failure.
    """
    known = known if known is not None else {}
    previous = previous or Grouping.empty()
    get = _Counting(get)
    members_of = dict(previous.members)
    names = dict(previous.names)
    profiles = dict(previous.profiles)
    traited = previous.traited
    extra = None
    records = dict(previous.records)
    suspects = []
    try:
        url = ('/traits?associated=true&name=startswith:%s'
               % urllib.parse.quote(PREFIX))
        ours = _trait_names(get(url, TRAITS_VERSION), url)
        digests = sorted(t for t in ours if t.startswith(DIGEST_PREFIX) or
                         t.startswith(PROFILE_PREFIX))
        schemas = sorted(t for t in ours if t.startswith(SCHEMA_PREFIX))
        extra = ungrouped(get, schemas, digests)
        if extra is None:
            traited = frozenset(u for u, _n in members(get, schemas))
        threes = [d for d in digests if d.startswith(PROFILE_PREFIX)]
        suspects = suspects3(get, threes, schemas)
        if with_names:
            names.update(suspects)
        suspects = [u for u, _n in suspects]
        # Groups nobody carries any more go; the others are re-read.
        members_of = {d: m for d, m in members_of.items() if d in digests}
        for done, digest in enumerate(digests, 1):
            found = members(get, [digest])
            members_of[digest] = tuple(u for u, _n in found)
            if with_names:
                names.update(found)
            if found and digest not in profiles and \
                    not digest.startswith(PROFILE_PREFIX):
                hp = known.get(digest)
                if hp is None:
                    hp = learn(get, digest, members_of[digest])
                if hp is not None:
                    profiles[digest] = hp
            if progress:
                progress(done, len(digests))
        if extra is not None:
            traited = _traited(members_of, extra).union(suspects)
            if with_names:
                names.update(extra)
        if threes:  # last: every record a listed host points at is in it
            records = store_mod.read(get).records
            for digest in threes:
                hp = known.get(digest)
                if hp is None or hp.state != hoststate.TRAITED:
                    hp = learn3(digest, records)
                profiles[digest] = hp
    except Exception as e:
        if extra is not None:  # what this read saw, over the last one
            traited = previous.traited | _traited(members_of, extra)
        raise PartialRead(e, Grouping(members_of, names, profiles, traited,
                                      complete=False, requests=get.calls,
                                      records=records, suspects=suspects)
                          ) from None
    return Grouping(members_of, names, profiles, traited, requests=get.calls,
                    records=records, suspects=suspects)


def notes(get, ours, records):
    """{uuid: note dict} of the schema-3 hosts carrying a valid note
    record: one membership listing per distinct note in ``ours`` (the
    trait names of ours in use), which hosts with the same facts share.
    """
    prefix = traits_codec.PREFIX + 'NOTE_'
    found = {}
    for name in sorted(t for t in ours or ()
                       if isinstance(t, str) and t.startswith(prefix)):
        rec = (records or {}).get(name[len(prefix):])
        value = rec.value if rec is not None and rec.valid else None
        note = value.get('note') if isinstance(value, dict) else None
        if isinstance(note, dict):
            found.update((uuid, note) for uuid, _n in members(get, [name]))
    return found
