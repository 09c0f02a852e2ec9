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

"""Trait schema 3: a few traits per host, the facts in content-addressed
records (pure: no HTTP; migcompat_filter.placement.store does the I/O).

A compute node's provider carries at most seven traits of ours, and no
name that is unique to it::

    CUSTOM_MIGCOMPAT_SCHEMA_3
    CUSTOM_MIGCOMPAT_PROFILE_<32 hex>   the profile record (shared)
    CUSTOM_MIGCOMPAT_GUESTS_<32 hex>    the per-host factors' record
                                        (running guests; shared by hosts
                                        running the same guest classes)
    CUSTOM_MIGCOMPAT_NOTE_<32 hex>      the host's note record (optional)
    CUSTOM_MIGCOMPAT_TSCB_<k>           calibrated TSC: coarse bucket
    CUSTOM_MIGCOMPAT_TSCE_<e>           ... which eighth of it (0-7)
    CUSTOM_MIGCOMPAT_TSCS_<s>           ... which eighth of that (0-7)

A *record* is canonical JSON; its digest is the first 32 hex digits of
its sha256. In Placement it is a root resource provider named
``migcompat-<kind>-<digest>`` and part providers (roots too: see
:func:`providers_of`) whose names carry the zlib-deflated content in
base64url, ``migcompat-<digest>-<i>of<n>-<text>``;
all are members of the aggregate :data:`STORE_AGGREGATE` and have no
inventory. :func:`assemble` turns a listing of those providers back into
records and checks every one against its digest.

The calibrated TSC frequency is three shared bucket traits
(migcompat_filter.traits.tsc), exact to 1.95 ppm.
"""

import base64
import hashlib
import json
import re
import uuid
import zlib

from migcompat_filter.factors import catalogue
from migcompat_filter import profile as profile_mod
from migcompat_filter.traits import names
from migcompat_filter.traits.names import PREFIX
from migcompat_filter.traits.names import TraitProblem
from migcompat_filter.traits import schema2 as trait_schema2
from migcompat_filter.traits import tsc

SCHEMA = 3
SCHEMA_TRAIT = names.schema_trait(SCHEMA)
PROFILE, GUESTS, NOTE = 'profile', 'guests', 'note'
KINDS = (PROFILE, GUESTS, NOTE)
#: Trait code -> record kind.
RECORD_CODES = {'PROFILE': PROFILE, 'GUESTS': GUESTS, 'NOTE': NOTE}
CODE_OF_KIND = {v: k for k, v in RECORD_CODES.items()}
#: Codes of traits that belong to one host (left out of group digests).
PER_HOST_CODES = frozenset(('GUESTS', 'NOTE') + tsc.CODES)
DIGEST_HEX = 32

#: uuid5 namespace of every provider and aggregate the store uses.
NAMESPACE = uuid.UUID('6d1f3c1e-6a57-5f1e-9a53-6d6967636f6d')
#: The aggregate every store provider is a member of (one listing).
STORE_AGGREGATE = str(uuid.uuid5(NAMESPACE, 'migcompat-store'))
STORE_NAME_PREFIX = 'migcompat-'
#: Characters of content per chunk provider (names are <= 200).
CHUNK_CHARS = 140
MAX_CHUNKS = 2000
#: An inflated record is never larger (a bomb is invalid, not a hang).
MAX_RECORD_BYTES = 1 << 20

_TRAIT_RE = re.compile(r'^%s(PROFILE|GUESTS|NOTE)_([0-9A-F]{%d})$'
                       % (PREFIX, DIGEST_HEX))
_ROOT_RE = re.compile(r'^migcompat-(profile|guests|note)-([0-9A-F]{%d})$'
                      % DIGEST_HEX)
_CHUNK_RE = re.compile(r'^migcompat-([0-9A-F]{%d})-([1-9][0-9]{0,3})of'
                       r'([1-9][0-9]{0,3})-([A-Za-z0-9_-]+)$' % DIGEST_HEX)


class Record(object):
    """A record whose content checked out: kind, digest, value (JSON)."""

    __slots__ = ('kind', 'digest', 'value', 'content', 'root')

    def __init__(self, kind, digest, value, content, root=None):
        self.kind = kind
        self.digest = digest
        self.value = value
        self.content = content
        self.root = root

    valid = True

    def __repr__(self):
        return 'Record(%s %s)' % (self.kind, self.digest)


class Invalid(object):
    """A record that does not check out; reason names the provider(s)."""

    __slots__ = ('digest', 'reason', 'providers')
    valid = False

    def __init__(self, digest, reason, providers=()):
        self.digest = digest
        self.reason = reason
        self.providers = tuple(providers)

    def __repr__(self):
        return 'Invalid(%s: %s)' % (self.digest, self.reason)


class Encoded(list):
    """Sorted trait names of a schema-3 host; ``records`` (digest ->
    Record) holds what they point at, for the reporter to publish.
    """

    records = None


def canonical_json(obj):
    return json.dumps(obj, sort_keys=True, separators=(',', ':'),
                      ensure_ascii=True, allow_nan=False).encode('ascii')


def digest_of(content):
    return hashlib.sha256(content).hexdigest()[:DIGEST_HEX].upper()


def make_record(kind, value):
    content = canonical_json(value)
    return Record(kind, digest_of(content), json.loads(content), content)


def record_trait(record):
    return '%s%s_%s' % (PREFIX, CODE_OF_KIND[record.kind], record.digest)


# -- encode -------------------------------------------------------------------

#: Counts in the running-guests value: published as presence (0 or 1).
GUEST_COUNTS = ('count', 'invtsc_unpinned')


def shareable(name, value):
    """A per-host factor's value as the guests record holds it: which
    CPU classes run, not how many guests of each. The rules only ask
    whether a mode has guests; with the numbers, hosts running 39 and 40
    guests of the same classes would need two records and two trait
    names, and the names would grow with the fleet. Unjudged guests are
    kept as "some" without their reasons: those name the guests' files,
    which stay on the host (``migcompat guest list`` shows them).
    """
    if name != 'running_guests' or not isinstance(value, dict):
        return value
    out = dict(value)
    if 'unjudged' in out:
        out['unjudged'] = {'count': 1, 'reasons': []}
    for key in GUEST_COUNTS:
        if _count(out.get(key)):
            out[key] = min(out[key], 1)
    if isinstance(out.get('modes'), dict):
        out['modes'] = {m: min(c, 1) if _count(c) else c
                        for m, c in out['modes'].items()}
    return out


def _count(n):
    return isinstance(n, int) and not isinstance(n, bool) and n >= 0


def split(profile):
    """(shared factors, per-host factors, TSC Hz or None) as JSON values:
    what goes in the profile record, in the guests record, in the TSC
    traits. Sets come sorted (schema 2's canonical values).
    """
    per_host = catalogue.per_host()
    shared, own, hz = {}, {}, None
    for name, value in profile.factors.items():
        value = trait_schema2.canonical(name, value)
        if name in per_host:
            own[name] = shareable(name, value)
            continue
        if name == 'tsc' and isinstance(value, dict) and \
                tsc.bucketable(value.get('frequency')):
            hz = value['frequency']
            value = {k: v for k, v in value.items() if k != 'frequency'}
        shared[name] = value
    return shared, own, hz


def encode(profile, note=None):
    """Encoded trait names of a profile, with ``.records``."""
    shared, own, hz = split(profile)
    records = [make_record(PROFILE, {'kind': PROFILE, 'factors': shared})]
    if own:
        records.append(make_record(GUESTS, {'kind': GUESTS, 'factors': own}))
    if note:
        if not isinstance(note, dict):
            raise TypeError('note must be a dict, not %s'
                            % type(note).__name__)
        records.append(make_record(NOTE, {'kind': NOTE, 'note': note}))
    traits = {SCHEMA_TRAIT}
    traits.update(record_trait(r) for r in records)
    if hz is not None:
        traits.update(tsc.traits_of(hz))
    out = Encoded(sorted(traits))
    out.records = {r.digest: r for r in records}
    return out


# -- records as provider names -----------------------------------------------

def root_uuid(kind, digest):
    return str(uuid.uuid5(NAMESPACE, '%s:%s' % (kind, digest)))


def providers_of(record):
    """[(uuid, name, parent uuid or None)] publishing a record, root
    first. Every part is a root provider too (parent None), unlike the
    design's children of the record's root: once any provider has a
    parent, placement takes its nested-provider path for every
    allocation-candidates request, measured 2.5-2.9x slower with
    ``required=`` (tools/bench_placement_tax.py, variants S3 and S3F).
    """
    root = root_uuid(record.kind, record.digest)
    text = base64.urlsafe_b64encode(zlib.compress(record.content, 9)) \
        .rstrip(b'=').decode('ascii')
    chunks = [text[i:i + CHUNK_CHARS]
              for i in range(0, len(text), CHUNK_CHARS)]
    out = [(root, 'migcompat-%s-%s' % (record.kind, record.digest), None)]
    for i, chunk in enumerate(chunks, 1):
        out.append((str(uuid.uuid5(NAMESPACE, '%s:%s:%d' % (
            record.kind, record.digest, i))),
            'migcompat-%s-%dof%d-%s' % (record.digest, i, len(chunks),
                                        chunk), None))
    return out


def is_root_name(name):
    """True for a record's root provider name."""
    return bool(_ROOT_RE.match(name or ''))


def is_store_name(name):
    return bool(_ROOT_RE.match(name or '') or _CHUNK_RE.match(name or ''))


def _inflate(text):
    data = base64.urlsafe_b64decode(text + '=' * (-len(text) % 4))
    d = zlib.decompressobj()
    out = d.decompress(data, MAX_RECORD_BYTES + 1)
    if len(out) > MAX_RECORD_BYTES or d.unconsumed_tail:
        raise ValueError('inflates to more than %d bytes' % MAX_RECORD_BYTES)
    if not d.eof:
        raise ValueError('truncated deflate stream')
    return out


def assemble(providers):
    """{digest: Record or Invalid} from a listing of the store's providers
    [(uuid, name, parent uuid or None)]; providers of other names are
    ignored. Every record is inflated, re-canonicalised and checked
    against its digest; what does not check out is Invalid with a reason
    naming its providers.
    """
    roots, chunks = {}, {}
    for rp_uuid, name, parent in dict((p[0], p) for p in providers).values():
        m = _ROOT_RE.match(name or '')
        if m:
            roots.setdefault(m.group(2), []).append((m.group(1), rp_uuid))
            continue
        m = _CHUNK_RE.match(name or '')
        if m:
            chunks.setdefault(m.group(1), []).append(
                (int(m.group(2)), int(m.group(3)), m.group(4), rp_uuid,
                 parent, name))
    out = {}
    for digest in set(roots) | set(chunks):
        out[digest] = _one(digest, roots.get(digest, []),
                           chunks.get(digest, []))
    return out


def _one(digest, roots, chunks):
    named = ['migcompat-%s-%s (%s)' % (k, digest, u) for k, u in roots]
    if not named:
        named = ['%s... (%s)' % (c[5][:50], c[3]) for c in chunks[:2]]
    where = ', '.join(sorted(named)) + ' and %d part providers' % len(chunks)
    uuids = [u for _k, u in roots] + [c[3] for c in chunks]

    def bad(why):
        return Invalid(digest, 'record %s %s (providers %s)'
                       % (digest, why, where), uuids)

    if len(roots) != 1:
        return bad('has %s root providers' % (len(roots) or 'no'))
    kind, root = roots[0]
    counts = {c[1] for c in chunks}
    if not chunks:
        return bad('has no content providers')
    if len(counts) != 1:
        return bad('is cut in several ways %s' % sorted(counts))
    n = counts.pop()
    indexes = sorted(c[0] for c in chunks)
    if indexes != list(range(1, n + 1)):
        return bad('has parts %s of %d (some missing or doubled: another '
                   'reporter may be writing it)' % (indexes[:10], n))
    if any(c[4] not in (None, root) for c in chunks):
        return bad('has a part whose parent is not its root %s' % root)
    text = ''.join(c[2] for c in sorted(chunks))
    try:
        content = _inflate(text)
        value = json.loads(content.decode('ascii'))
        again = canonical_json(value)
    except Exception as e:  # binascii, zlib, JSON, unicode errors
        return bad('does not decode: %s' % (str(e)[:100] or
                                            type(e).__name__))
    if digest_of(again) != digest:
        return bad('does not match its digest (its content hashes to %s)'
                   % digest_of(again))
    if not isinstance(value, dict) or value.get('kind') != kind:
        return bad('is not a %s record' % kind)
    return Record(kind, digest, value, again, root)


# -- decode -------------------------------------------------------------------

def is_schema3_name(trait):
    return bool(trait == SCHEMA_TRAIT or _TRAIT_RE.match(trait) or
                tsc.is_tsc_name(trait))


def referenced(trait_names):
    """The record digests some trait names point at."""
    return {m.group(2) for m in map(_TRAIT_RE.match, trait_names) if m}


def contradictions(trait_names):
    """Why a schema-3 host's own traits contradict themselves ([] when
    they do not): several records of one kind, half a TSC, a schema-2
    digest trait beside them.
    """
    found = {}
    for t in trait_names:
        m = _TRAIT_RE.match(t) or tsc.NAME_RE.match(t)
        if m:
            found.setdefault(m.group(1), []).append(t)
    why = []
    if 'PROFILE' not in found:
        why.append('no %sPROFILE_* trait' % PREFIX)
    for code, ts in sorted(found.items()):
        if len(ts) > 1:
            why.append('%d %s traits (%s)' % (len(ts), code,
                                              ', '.join(sorted(ts))))
    have = [c for c in tsc.CODES if c in found]
    if have and len(have) < len(tsc.CODES):
        why.append('%s without %s' % (
            ', '.join(PREFIX + c for c in have),
            ', '.join(PREFIX + c for c in tsc.CODES if c not in have)))
    digests = sorted(t for t in trait_names
                     if t.startswith(names.DIGEST_PREFIX))
    if digests:
        why.append('a schema-2 digest trait too (%s)' % ', '.join(digests))
    return why


def parse(traits, records):
    """(Profile or None, note dict, [TraitProblem], error or None) of a
    schema-3 host's trait names, given records (digest -> Record/Invalid;
    None: no store was read). error says why the host cannot be judged;
    never raises on content.
    """
    traits = sorted(set(traits))
    problems = [TraitProblem(t, 'not a schema-3 trait: ignored')
                for t in traits if not is_schema3_name(t) and
                not t.startswith(names.SCHEMA_PREFIX) and
                not t.startswith(names.DIGEST_PREFIX)]
    why = contradictions(traits)
    if why:
        return None, {}, problems, ('its traits contradict themselves: %s'
                                    % '; '.join(why))
    if records is None:
        return None, {}, problems, ('schema-3 traits point at records in '
                                    'the migcompat store, which was not '
                                    'read')
    factors, note = {}, {}
    for t in traits:
        m = _TRAIT_RE.match(t)
        if not m:
            continue
        kind, digest = RECORD_CODES[m.group(1)], m.group(2)
        rec = records.get(digest)
        if rec is None:
            return None, {}, problems, (
                '%s: no record %s in the migcompat store (aggregate %s)'
                % (t, digest, STORE_AGGREGATE))
        if not rec.valid:
            return None, {}, problems, '%s: %s' % (t, rec.reason)
        if rec.kind != kind:
            return None, {}, problems, ('%s: record %s is a %s record'
                                        % (t, digest, rec.kind))
        if kind == NOTE:
            note = rec.value.get('note')
            if not isinstance(note, dict):
                return None, {}, problems, '%s: note is not an object' % t
            continue
        got = rec.value.get('factors')
        if not isinstance(got, dict):
            return None, {}, problems, '%s: no factors in record' % t
        factors.update({n: profile_mod.from_jsonable(v)
                        for n, v in got.items()})
    tsc.apply(traits, factors, problems)
    return profile_mod.Profile(factors), note, problems, None


def describe(trait):
    """(factor, value) for one schema-3 trait name."""
    m = _TRAIT_RE.match(trait)
    if trait == SCHEMA_TRAIT:
        return '', 'trait schema 3'
    if m:
        return '', '%s record %s (migcompat store)' % (
            RECORD_CODES[m.group(1)], m.group(2))
    if tsc.is_tsc_name(trait):
        return 'tsc', tsc.describe(trait)
    return '', ''
