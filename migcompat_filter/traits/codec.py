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

"""Encode a host profile as Placement traits, and decode traits back.

The scheduler only knows what Placement knows, so each factor of a
:class:`~migcompat_filter.profile.Profile` is published as
``CUSTOM_MIGCOMPAT_*`` traits on the compute node's resource provider, and
the filter decodes them back into a profile to compare two hosts.

Schema 2 (written by default; migcompat_filter.traits.schema2) makes one
trait per fact, readable and usable in a flavor::

    CUSTOM_MIGCOMPAT_SCHEMA_2
    CUSTOM_MIGCOMPAT_QEMU_8_2_2            qemu_version 8.2.2
    CUSTOM_MIGCOMPAT_KVER_6_8_0__D50       kernel 6.8.0-50 (6.8.0.50 is
                                           KVER_6_8_0_50: "__D" is "-")
    CUSTOM_MIGCOMPAT_HM_AVX512F            the host-model CPU has avx512f
    CUSTOM_MIGCOMPAT_FEAT_SSE4_1           the host CPU has sse4.1
    CUSTOM_MIGCOMPAT_KPARAM_TSX_OFF        kernel command line tsx=off
    CUSTOM_MIGCOMPAT_TSCHZ_2445426000      calibrated TSC (per host)
    CUSTOM_MIGCOMPAT_UNKNOWN_FWVER         firmware version unknown ...
    CUSTOM_MIGCOMPAT_WHY_FWVER_1OF2_...    ... and why (compact)
    CUSTOM_MIGCOMPAT_DIGEST_<40 hex>       the profile, for grouping

The text spelling is migcompat_filter.traits.text, the per-factor layout
migcompat_filter.traits.layout. No name is longer than 128 characters.
``decode(encode(profile)) == profile`` for every profile, except that
lists the layout calls sets (feature lists, machine types, usable models)
come back sorted: a value without an exact readable spelling is published
as a compact ``PACKED`` payload instead.

Schema 1 (migcompat_filter.traits.schema1) is still read, so a fleet can
be upgraded host by host; ``encode(profile, schema=1)`` writes it. A host
carrying both schema traits is "mixed" and is not judged.

Per-host facts (the running guests, the calibrated TSC frequency: the
catalogue's ``per_host`` and ``per_host_fields``) are traits of their own
(:func:`is_per_host`) and are left out of the digest, so they never split
a group of identical hosts.

Decoding never raises on what it finds in Placement: a trait of ours that
is malformed (say, set by hand) makes only its factor ``Unknown`` with a
reason naming the trait, and is listed in the problems that
:func:`parse` returns; a schema newer than ours makes every factor
unknown ("upgrade migcompat"). Traits without our prefix are ignored.
:func:`encode` raises :class:`InputError` for a value of the wrong shape
(a reader bug) - a clear error beats publishing something undecodable.
"""

import hashlib
import json
import re

from migcompat_filter.exception import InputError
# The payload formats, and the feature catalogue they use, live in their
# own modules; these names are part of this module's interface too.
from migcompat_filter.profile import from_jsonable
from migcompat_filter.profile import Profile
from migcompat_filter.profile import shape_problem
from migcompat_filter.profile import to_jsonable
from migcompat_filter.profile import Unknown
from migcompat_filter.traits.feature_catalogue import CATALOGUE_SIZES  # noqa
from migcompat_filter.traits.feature_catalogue import CATALOGUE_VERSION  # noqa
from migcompat_filter.traits.feature_catalogue import FEATURE_CATALOGUE  # noqa
from migcompat_filter.traits import names as trait_names
from migcompat_filter.traits.names import DIGEST_CODE  # noqa: F401
from migcompat_filter.traits.names import DIGEST_LENGTH
from migcompat_filter.traits.names import DIGEST_PREFIX
from migcompat_filter.traits.names import is_ours
from migcompat_filter.traits.names import is_valid_name  # noqa: F401
from migcompat_filter.traits.names import MAX_TRAIT_LENGTH  # noqa: F401
from migcompat_filter.traits.names import NAME_RE as _NAME_RE
from migcompat_filter.traits.names import Parsed
from migcompat_filter.traits.names import PREFIX
from migcompat_filter.traits.names import SCHEMA_BROKEN
from migcompat_filter.traits.names import SCHEMA_CODE
from migcompat_filter.traits.names import SCHEMA_MISSING
from migcompat_filter.traits.names import SCHEMA_MIXED
from migcompat_filter.traits.names import SCHEMA_NEWER
from migcompat_filter.traits.names import SCHEMA_NONE
from migcompat_filter.traits.names import SCHEMA_OK  # noqa: F401
from migcompat_filter.traits.names import SCHEMA_PREFIX
from migcompat_filter.traits.names import TraitProblem
from migcompat_filter.traits.names import UNKNOWN_CODE  # noqa: F401
from migcompat_filter.traits.payloads import escape_text  # noqa: F401
from migcompat_filter.traits.payloads import unescape_text  # noqa: F401
from migcompat_filter.traits import schema1 as trait_schema1
from migcompat_filter.traits import schema2 as trait_schema2
from migcompat_filter.traits import schema3 as trait_schema3

#: The schema this migcompat writes on hosts (it reads every one in
#: SCHEMAS): ``migcompat profile publish`` publishes schema 3.
SCHEMA = trait_schema3.SCHEMA
#: What encode() gives without a schema: schema 2's readable names, which
#: decode without the migcompat store (tools, tests, "trait list" of a
#: profile spelled out, the readable names of a record).
TRAIT_SCHEMA = trait_schema2.SCHEMA
_CODECS = {1: trait_schema1, 2: trait_schema2}
SCHEMAS = tuple(sorted(_CODECS)) + (3,)
#: Schema 3's per-host trait codes (TSC buckets, guests and note records).
_PER_HOST3 = trait_schema3.PER_HOST_CODES
Encoded = trait_schema3.Encoded
#: Schema 1's trait codes (factor name -> (code, payload kind)).
FACTOR_CODECS = trait_schema1.FACTOR_CODECS
#: Schema 1's limit of parts per factor.
MAX_PARTS = trait_schema1.MAX_PARTS
#: No trait name of schema 2 is longer.
MAX_NAME_LENGTH = trait_schema2.MAX_NAME_LENGTH
reason_code = trait_schema1.reason_code


def _codec(schema):
    if schema not in _CODECS:
        raise InputError('trait schema %r: this migcompat writes schema %s'
                         % (schema, ' or '.join(map(str, SCHEMAS))))
    return _CODECS[schema]


def encode_factor(name, value, schema=TRAIT_SCHEMA):
    """The sorted trait names of one factor's value (schema 3: as schema
    2 spells it, what the readable names of a record say).
    """
    schema = min(schema, 2)
    return sorted(_codec(schema).encode_factor(name, value))


#: A trait's family and code, in either schema: the code that follows an
#: UNKNOWN/EMPTY/NULL/WHY/PACKED word, else the first letters.
_CODE_RE = re.compile(r'^(?:(?:%s)_)?([A-Z]+)' % '|'.join(
    trait_schema2.FAMILIES))


def is_per_host(trait):
    """True for a trait of a per-host fact: the running guests (both
    schemas), the calibrated TSC frequency (schema 2).
    """
    m = _CODE_RE.match(trait[len(PREFIX):])
    return bool(m) and (m.group(1) in trait_schema2.per_host_codes() or
                        m.group(1) in trait_schema1.per_host_codes() or
                        m.group(1) in _PER_HOST3)


def digest_trait(trait_names):
    """The digest trait of a host's migcompat traits (any digest ignored).

    Two hosts carry the same digest exactly when they carry the same
    migcompat traits, i.e. the same profile, leaving out the per-host
    facts (running guests, calibrated TSC frequency): guests starting and
    stopping, or a TSC calibrated a few kHz apart, never split a group of
    identical hosts. It does not depend on the schema, so a scheduler
    groups hosts of a newer reporter too.
    """
    names = sorted(t for t in trait_names
                   if is_ours(t) and not t.startswith(DIGEST_PREFIX)
                   and not is_per_host(t))
    return DIGEST_PREFIX + hashlib.sha256(
        '\n'.join(names).encode()).hexdigest()[:DIGEST_LENGTH].upper()


def encode(profile, schema=TRAIT_SCHEMA, note=None):
    """The sorted trait names of a profile: schema, factors and digest.

    Schema 3 gives an :class:`Encoded` list whose ``records`` are the
    records its traits point at (profile, per-host factors, the optional
    note dict); decoding it needs them (:func:`parse`'s records, which
    default to the list's own). Raises InputError (naming the factor) for
    a value of the wrong shape.
    """
    codec = _codec(schema) if schema != 3 else None
    if schema == 3:
        try:
            return trait_schema3.encode(profile, note)
        except (TypeError, ValueError) as e:
            raise InputError('cannot encode the profile as schema 3: %s'
                             % e)
    traits = {trait_names.schema_trait(schema)}
    traits.update(codec.encode_factors(_without_guest_files(profile)))
    traits.add(digest_trait(traits))
    limit = MAX_NAME_LENGTH if schema >= 2 else trait_names.MAX_TRAIT_LENGTH
    for trait in traits:  # the grammar guarantees it; never publish junk
        assert _NAME_RE.match(trait) and len(trait) <= limit, trait
    return sorted(traits)


def _without_guest_files(profile):
    """The profile without the reasons of its unjudged running guests:
    they name the guests' files, which stay on the host (``migcompat
    guest list`` shows them); the count still blocks their moves.
    """
    running = profile.factors.get('running_guests')
    unjudged = running.get('unjudged') if isinstance(running, dict) \
        else None
    if not isinstance(unjudged, dict) or not unjudged.get('reasons'):
        return profile
    running = dict(running, unjudged=dict(unjudged, reasons=[]))
    return Profile(dict(profile.factors, running_guests=running))


def canonical(profile):
    """The profile as schema 2 gives it back: the lists the layout calls
    sets (feature lists, machine types, usable models, ...) sorted. So
    ``decode(encode(p)) == canonical(p)``, and ``== p`` for a profile
    whose sets are sorted already (what the readers write).
    """
    return Profile({name: from_jsonable(trait_schema2.canonical(name, v))
                    for name, v in profile.factors.items()},
                   profile.schema_version)


def schema_of(trait):
    """The schema number a schema trait names, or None."""
    if trait.startswith(SCHEMA_PREFIX):
        number = trait[len(SCHEMA_PREFIX):]
        if re.match(r'^[1-9][0-9]{0,5}$', number):
            return int(number)
    return None


def parse(traits, records=None):
    """Parsed (Profile, [TraitProblem]) from trait names; never raises on
    content. ``.schema`` says what the schema traits say (SCHEMA_*),
    ``.version`` which schema was read, ``.note`` a schema-3 host's note.

    records (digest -> schema3.Record/Invalid: the migcompat store) is
    what schema-3 traits are decoded with; by default the ``records`` of
    an :class:`Encoded` list. A schema-3 host whose traits contradict
    themselves or point at no valid record is SCHEMA_BROKEN.

    Traits without our prefix are ignored. Each problem names the trait
    and what is wrong; the affected factor is Unknown with that reason.
    A name may be followed by whitespace and anything (a line of
    ``migcompat trait list -f value``: name, factor, value); Placement's names
    never hold whitespace.
    """
    if records is None:
        records = getattr(traits, 'records', None)
    problems = []
    schemas = set()
    rest = []
    names = {t.split(None, 1)[0] if isinstance(t, str) and t.strip() else t
             for t in traits}
    for trait in sorted(names, key=str):
        if not isinstance(trait, str) or not is_ours(trait) or \
                trait.startswith(DIGEST_PREFIX):
            continue
        if trait.startswith(SCHEMA_PREFIX):
            if schema_of(trait) is None:
                problems.append(TraitProblem(trait, 'bad schema version'))
            else:
                schemas.add(schema_of(trait))
            continue
        rest.append(trait)
    if schemas == {3}:
        return _parse3(names, problems, records)
    if len(schemas) == 1 and min(schemas) in _CODECS:
        version = min(schemas)
        factors, found = _CODECS[version].parse_factors(rest)
        _refuse_impossible(factors, rest, found)
        return Parsed(Profile(factors), problems + found, version=version)
    if not schemas:
        if not rest:
            return Parsed(Profile({}), problems,
                          SCHEMA_MISSING if problems else SCHEMA_NONE)
        status = SCHEMA_MISSING
        why = 'no %s%s_N trait' % (PREFIX, SCHEMA_CODE)
    elif len(schemas) > 1:
        status = SCHEMA_MIXED
        why = ('several schema traits %s (a provider written by two '
               'reporters?)' % sorted(schemas))
    else:
        status = SCHEMA_NEWER
        why = ('traits written by a newer migcompat (schema %d; this '
               'one reads %s): upgrade migcompat'
               % (min(schemas), ' and '.join(map(str, SCHEMAS))))
    problems.append(TraitProblem(PREFIX + SCHEMA_CODE, why))
    factors = {name: Unknown('cannot decode traits: %s' % why)
               for name in _factor_names(rest)}
    return Parsed(Profile(factors), problems, status)


def _refuse_impossible(factors, traits, problems):
    """A decoded value out of its range (the one range check, through the
    profile's shape check) is Unknown naming its traits, never judged.
    """
    for name, value in sorted(factors.items()):
        problem = shape_problem(name, value)
        if not problem:
            continue
        mine = sorted(t for t in traits if _factor_names([t]) == {name})
        why = 'trait %s: %s' % (mine[0] if mine else name, problem)
        factors[name] = Unknown('factor %s: %s' % (name, why))
        problems.append(TraitProblem(mine[0] if mine else PREFIX + name,
                                     problem))


def _parse3(names, problems, records):
    mine = [t for t in names if isinstance(t, str) and is_ours(t)]
    profile, note, found, error = trait_schema3.parse(mine, records)
    problems = problems + found
    if error is not None:
        problems.append(TraitProblem(PREFIX + SCHEMA_CODE, error))
        parsed = Parsed(Profile({}), problems, SCHEMA_BROKEN, version=3)
        parsed.reason = error
        return parsed
    # A record's numbers pass the same range checks as every other
    # source's: out of range is Unknown naming the host's traits.
    factors = dict(profile.factors)
    _refuse_impossible(factors, mine, problems)
    parsed = Parsed(Profile(factors), problems, version=3)
    parsed.note = note
    return parsed


def _factor_names(traits):
    """The factors some trait names are about (best effort, any schema)."""
    found = set()
    for trait in traits:
        m = _CODE_RE.match(trait[len(PREFIX):])
        name = m and (trait_schema2.factor_of(trait) or
                      trait_schema1.factor_of_code(m.group(1)))
        if name:
            found.add(name)
    return found


def decode(traits):
    """The Profile a host's traits describe (see :func:`parse`)."""
    return parse(traits)[0]


def describe(names):
    """[(name, factor, value)] for each of our trait names: what one
    trait says, decoded (``migcompat trait list``). Schema-1 traits are whole
    factors: their value is the factor's, as JSON. Schema-3 traits say
    which record they point at (``readable`` spells a record out).
    """
    names = sorted(n for n in set(names) if is_ours(n))
    version = parse(names).version
    if version == 3:
        return [(n,) + trait_schema3.describe(n) for n in names]
    decoded = decode(names) if version == 1 else None
    rows = []
    for name in names:
        if name.startswith(DIGEST_PREFIX):
            rows.append((name, '', 'profile digest (groups hosts)'))
        elif name.startswith(SCHEMA_PREFIX):
            rows.append((name, '', 'trait schema %s' % schema_of(name)))
        elif version == 1:
            m = _CODE_RE.match(name[len(PREFIX):])
            factor = m and trait_schema1.factor_of_code(m.group(1))
            value = decoded.factors.get(factor) if factor else None
            rows.append((name, factor or '', json.dumps(
                to_jsonable(value), sort_keys=True)[:200]))
        else:
            factor, value = trait_schema2.describe(name)
            rows.append((name, factor or '', value))
    return rows


def load_trait_list(text, origin='trait list'):
    """A profile from a file of trait names, one a line (``migcompat
    trait list -f value``: the name is a line's first word, what follows is
    the decoded factor and value). Raises InputError when it holds no
    trait of ours or a line that is not a trait name; blank lines and
    ``#`` comments are skipped. Malformed traits of ours make their
    factor Unknown.
    """
    names = []
    for lineno, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith('#'):
            continue
        line = line.split()[0]
        if not _NAME_RE.match(line) and not re.match(
                r'^[A-Z0-9_]+$', line):
            raise InputError('%s line %d: %r is not a trait name'
                             % (origin, lineno, line[:80]))
        names.append(line)
    if not any(is_ours(n) for n in names):
        raise InputError('%s: no %s* trait in it; expected the output of '
                         '"migcompat trait list -f value"' % (origin, PREFIX))
    return decode(names)


def looks_like_trait_list(text):
    """True when the first meaningful line is one of our traits."""
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith('#'):
            return line.startswith(PREFIX)
    return False
