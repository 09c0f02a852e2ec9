"""Encode a host profile as Placement traits, and decode traits back.

The scheduler only knows what Placement knows, so each factor of a
:class:`~migcompat_filter.profile.Profile` is published as one or more
``CUSTOM_MIGCOMPAT_*`` traits on the compute node's resource provider, and
the filter decodes them back into a profile to compare two hosts.

Trait grammar (every name matches ``^CUSTOM_[A-Z0-9_]+$``, <= 255 chars)::

    CUSTOM_MIGCOMPAT_SCHEMA_<n>               codec schema version
    CUSTOM_MIGCOMPAT_<CODE>_<payload>          a factor's value
    CUSTOM_MIGCOMPAT_<CODE><i>OF<n>_<payload>  part i of n of a long value
    CUSTOM_MIGCOMPAT_UNKNOWN_<CODE>_<REASON>   a factor that is unknown

``CODE`` is letters only (the table ``FACTOR_CODECS``; a plugin factor
without an entry gets ``Z`` plus its name spelt in the letters A-P), so
the first digit or underscore after the prefix ends it. Payloads:

* ``text`` (versions, names): readable and reversible. Digits stay,
  lower-case letters become upper case, and ``_`` escapes everything
  else: ``_A``-``_Z`` an upper-case letter, ``_0``-``_9`` one of
  ``.-_ ,=/:+~``, ``__`` plus six hex digits any other code point. So
  ``6.18.44-fc`` is ``6_018_044_1FC`` and ``8.2.0``/``8-2-0`` differ.
* ``json`` (dicts, lists): canonical JSON, raw-deflated when that is
  shorter, in base32 (``A-Z2-7``) behind a one-byte format tag.
* ``features`` (CPU feature sets): a bitmap over ``FEATURE_CATALOGUE``
  (plain data, append-only, versioned by ``CATALOGUE_SIZES``) plus the
  rest of the value (and any feature the catalogue lacks) as ``json``.
  About 300 features cost one trait instead of 100+. Feature lists are
  sets: they decode sorted, without repeats.

The encoding is injective: different values give different payloads, a
payload is split at fixed widths, and each part names its position.
A value too large for ``MAX_PARTS`` traits is published as unknown
(reason ``VALUE_TOO_LARGE``) rather than flooding the provider.

Deterministic: the same profile gives the same sorted names (deflate at a
fixed level; a different zlib build could spell a packed value differently,
which decodes to the same value and costs one rewrite). Real hosts take
20-24 traits (nova's libvirt driver sets about 60 of its own). Decoding is
cached per payload, as the hosts of a cloud share most values.

Decoding never raises on what it finds in Placement: a trait of ours that
is malformed (say, set by hand) makes only its factor ``Unknown`` with a
reason naming the trait, and is listed in the problems that
:func:`parse` returns; a schema newer than ours makes every factor
unknown ("upgrade migcompat"). Traits without our prefix are ignored.
:func:`encode` raises :class:`InputError` for a value of the wrong shape
(a reader bug) - a clear error beats publishing something undecodable.
"""

import collections
import hashlib
import logging
import re

from migcompat_filter.exception import InputError
from migcompat_filter.factors import catalogue
# The payload formats, and the feature catalogue they use, live in their
# own modules; these names are part of this module's interface too.
from migcompat_filter.feature_catalogue import CATALOGUE_SIZES  # noqa: F401
from migcompat_filter.feature_catalogue import CATALOGUE_VERSION  # noqa
from migcompat_filter.feature_catalogue import FEATURE_CATALOGUE  # noqa
from migcompat_filter.profile import Profile
from migcompat_filter.profile import Unknown
from migcompat_filter.trait_payloads import escape_text  # noqa: F401
from migcompat_filter.trait_payloads import Features
from migcompat_filter.trait_payloads import INT
from migcompat_filter.trait_payloads import JSON
from migcompat_filter.trait_payloads import Malformed as _Malformed
from migcompat_filter.trait_payloads import payload_value as _payload_value
from migcompat_filter.trait_payloads import TEXT
from migcompat_filter.trait_payloads import unescape_text  # noqa: F401
from migcompat_filter.trait_payloads import value_payload as _value_payload

LOG = logging.getLogger(__name__)

PREFIX = 'CUSTOM_MIGCOMPAT_'
#: Bumped when the grammar or a payload format changes incompatibly.
SCHEMA = 1
SCHEMA_CODE = 'SCHEMA'
UNKNOWN_CODE = 'UNKNOWN'
#: One trait naming the whole profile: CUSTOM_MIGCOMPAT_DIGEST_<sha256>.
#: Hosts with the same profile carry the same digest, so the scheduler's
#: cache finds every host of a profile with one Placement query and reads
#: each distinct profile once (see migcompat_filter.scheduler.profiles).
DIGEST_CODE = 'DIGEST'
DIGEST_PREFIX = PREFIX + DIGEST_CODE + '_'
DIGEST_LENGTH = 40
MAX_TRAIT_LENGTH = 255
#: A factor needing more traits than this is published as unknown.
MAX_PARTS = 8

_PLUGIN_CODE = 'Z'
_RESERVED_CODES = {SCHEMA_CODE, UNKNOWN_CODE, DIGEST_CODE}

_KINDS = {catalogue.TEXT: TEXT, catalogue.INT: INT, catalogue.JSON: JSON}


def _row_codec(row):
    if row.codec == catalogue.FEATURES:
        return Features(*row.feature_fields)
    return _KINDS[row.codec]


def _usable_code(row, taken):
    """A row's own trait code, when a third party's cannot clash."""
    code = row.trait_code
    if not code:
        return False
    if row.name in _BUILTIN:
        return True
    # Letters only, never one of ours, never the plugin prefix.
    ok = (re.match('^[A-Z]+$', code) and code not in taken
          and code not in _RESERVED_CODES and not code.startswith(
              _PLUGIN_CODE))
    if not ok:
        LOG.warning('factor %s: trait code %r is not usable; its traits '
                    'use the plugin code', row.name, code)
    return bool(ok)


def _factor_codecs():
    codecs = {}
    taken = {r.trait_code for r in catalogue.BUILTIN}
    for row in catalogue.rows():
        if _usable_code(row, taken):
            codecs[row.name] = (row.trait_code, _row_codec(row))
            taken.add(row.trait_code)
    return codecs


_BUILTIN = frozenset(r.name for r in catalogue.BUILTIN)

#: factor name -> (trait code, codec kind), from the factor catalogue (a
#: code is letters only, unique, and never reused for another meaning). A
#: factor without a code gets the plugin code (see _plugin_code).
FACTOR_CODECS = catalogue.Derived(_factor_codecs)
_CODE_TO_FACTOR = catalogue.Derived(
    lambda: {code: name for name, (code, _k) in FACTOR_CODECS.items()})

_TRAIT_RE = re.compile(
    r'^(?P<code>[A-Z]+)(?:(?P<part>[0-9]+)OF(?P<parts>[0-9]+))?'
    r'_(?P<payload>[A-Z0-9_]*)$')
_UNKNOWN_RE = re.compile(r'^(?P<code>[A-Z]+)_(?P<reason>[A-Z0-9_]*)$')
_NAME_RE = re.compile(r'^CUSTOM_[A-Z0-9_]+$')


#: What a host's schema trait says (Parsed.schema).
SCHEMA_OK = 'ok'            # one schema trait, one this codec reads
SCHEMA_MISSING = 'missing'  # traits of ours but no (valid) schema trait
SCHEMA_NEWER = 'newer'      # written by a newer migcompat
SCHEMA_MIXED = 'mixed'      # several schema traits
SCHEMA_NONE = 'none'        # no trait of ours at all


class Parsed(collections.namedtuple('Parsed', 'profile problems')):
    """What :func:`parse` returns: unpacks as (profile, problems).

    ``schema`` is one of the SCHEMA_* statuses, so callers need not read
    problem texts to tell a newer schema from a broken one.
    """

    def __new__(cls, profile, problems, schema=SCHEMA_OK):
        self = super(Parsed, cls).__new__(cls, profile, problems)
        self.schema = schema
        return self


class TraitProblem(object):
    """A trait of ours that could not be decoded, and why."""

    def __init__(self, trait, message, factor=None):
        self.trait = trait
        self.message = message
        self.factor = factor

    def __str__(self):
        return '%s: %s' % (self.trait, self.message)

    __repr__ = __str__


def _plugin_code(name):
    # Letters only, so a plugin's name can never run into the part marker.
    return _PLUGIN_CODE + ''.join(
        'ABCDEFGHIJKLMNOP'[b >> 4] + 'ABCDEFGHIJKLMNOP'[b & 15]
        for b in name.encode('utf-8'))


def _plugin_name(code):
    letters = code[len(_PLUGIN_CODE):]
    if not letters or len(letters) % 2 or not re.match('^[A-P]+$', letters):
        raise _Malformed('unknown factor code %s' % code)
    data = bytes((ord(letters[i]) - 65) * 16 + ord(letters[i + 1]) - 65
                 for i in range(0, len(letters), 2))
    try:
        return data.decode('utf-8')
    except UnicodeDecodeError:
        raise _Malformed('unknown factor code %s' % code)


def _codec_for(name):
    codec = FACTOR_CODECS.get(name)
    if codec is not None:
        return codec
    return _plugin_code(name), JSON


def _split(code, payload):
    """The trait names for one payload: one trait, or numbered parts."""
    room = MAX_TRAIT_LENGTH - len(PREFIX) - len(code) - 1
    if len(payload) <= room:
        return ['%s%s_%s' % (PREFIX, code, payload)]
    parts = 2
    while True:
        marker = len('%dOF%d' % (parts, parts))
        width = room - marker
        needed = -(-len(payload) // width)
        if needed <= parts:
            break
        parts = needed
    chunks = [payload[i:i + width] for i in range(0, len(payload), width)]
    # Always exactly "parts" chunks, so that one payload has one spelling.
    while len(chunks) < parts:
        chunks.append('')
    return ['%s%s%dOF%d_%s' % (PREFIX, code, i + 1, parts, chunk)
            for i, chunk in enumerate(chunks)]


def reason_code(reason, room=80):
    """A short upper-case code for an unknown reason (lossy on purpose)."""
    code = re.sub('[^A-Z0-9]+', '_', str(reason).upper()).strip('_')
    return code[:room].rstrip('_') or 'NO_REASON'


def _unknown_trait(code, reason):
    room = MAX_TRAIT_LENGTH - len(PREFIX) - len(UNKNOWN_CODE) - len(code) - 2
    return '%s%s_%s_%s' % (PREFIX, UNKNOWN_CODE, code,
                           reason_code(reason, min(room, 80)))


def encode_factor(name, value):
    """The sorted trait names of one factor's value."""
    code, kind = _codec_for(name)
    if isinstance(value, Unknown):
        return [_unknown_trait(code, value.reason)]
    payload = _value_payload(name, kind, value)
    names = _split(code, payload)
    if len(names) > MAX_PARTS:
        return [_unknown_trait(code, 'VALUE_TOO_LARGE %d chars'
                               % len(payload))]
    return sorted(names)


#: The trait codes of the per-host factors (catalogue ``per_host``).
_PER_HOST_CODES = catalogue.Derived(
    lambda: {_codec_for(n)[0]: n for n in catalogue.per_host()})
#: A factor trait's code: value, part or unknown marker.
_CODE_RE = re.compile(r'^(?:%s_)?([A-Z]+)' % UNKNOWN_CODE)


def is_per_host(trait):
    """True for a trait of a per-host factor (e.g. the running guests)."""
    m = _CODE_RE.match(trait[len(PREFIX):])
    return bool(m) and m.group(1) in _PER_HOST_CODES


def digest_trait(trait_names):
    """The digest trait of a host's migcompat traits (any digest ignored).

    Two hosts carry the same digest exactly when they carry the same
    migcompat traits, i.e. the same profile, leaving out the per-host
    factors (their running guests): guests starting and stopping never
    split a group of identical hosts. It does not depend on the schema,
    so a scheduler groups hosts of a newer reporter too.
    """
    names = sorted(t for t in trait_names
                   if is_ours(t) and not t.startswith(DIGEST_PREFIX)
                   and not is_per_host(t))
    return DIGEST_PREFIX + hashlib.sha256(
        '\n'.join(names).encode()).hexdigest()[:DIGEST_LENGTH].upper()


def encode(profile):
    """The sorted trait names of a profile: schema, factors and digest.

    Raises InputError (naming the factor) for a value of the wrong shape.
    """
    traits = {'%s%s_%d' % (PREFIX, SCHEMA_CODE, SCHEMA)}
    for name, value in profile.factors.items():
        traits.update(encode_factor(name, value))
    traits.add(digest_trait(traits))
    for trait in traits:  # the grammar guarantees it; never publish junk
        assert _NAME_RE.match(trait) and len(trait) <= MAX_TRAIT_LENGTH, \
            trait
    return sorted(traits)


def is_ours(trait):
    return trait.startswith(PREFIX)


def is_valid_name(trait):
    """True for a name Placement accepts as a custom trait."""
    return bool(_NAME_RE.match(trait)) and len(trait) <= MAX_TRAIT_LENGTH


# -- decoding ----------------------------------------------------------------

def _factor_for_code(code):
    name = _CODE_TO_FACTOR.get(code)
    if name is not None:
        return name
    if code.startswith(_PLUGIN_CODE):
        return _plugin_name(code)
    raise _Malformed('unknown factor code %s (written by a newer '
                     'migcompat?)' % code)


def _decode_group(name, entries):
    """One factor's value from its parsed traits; _Malformed if unusable."""
    code, kind = _codec_for(name)
    unknowns = [e for e in entries if e[0] == 'unknown']
    values = [e for e in entries if e[0] == 'value']
    if unknowns:
        if len(unknowns) > 1 or values:
            raise _Malformed('factor %s has conflicting traits' % name)
        reason = unknowns[0][1].lower().replace('_', ' ')
        return Unknown('reported unknown by the host: %s' % reason)
    singles = [e for e in values if e[2] is None]
    parted = [e for e in values if e[2] is not None]
    if singles:
        if len(values) > 1:
            raise _Malformed('factor %s has more than one value trait'
                             % name)
        payload = singles[0][1]
    else:
        total = parted[0][3]
        positions = sorted(e[2] for e in parted)
        if total < 2 or any(e[3] != total for e in parted) or \
                positions != list(range(1, total + 1)):
            raise _Malformed('factor %s: parts %s of %d do not make a whole '
                             'value' % (name, positions, total))
        payload = ''.join(e[1] for e in sorted(parted, key=lambda e: e[2]))
        # Refuse a spelling encode() would not produce (one value, one set).
        if sorted(_split(code, payload)) != sorted(e[4] for e in parted):
            raise _Malformed('factor %s: parts are not split as migcompat '
                             'splits them' % name)
    return _payload_value(kind, payload)


def parse(traits):
    """Parsed (Profile, [TraitProblem]) from trait names; never raises on
    content. ``.schema`` says what the schema trait says (SCHEMA_*).

    Traits without our prefix are ignored. Each problem names the trait
    and what is wrong; the affected factor is Unknown with that reason.
    """
    problems = []
    groups = {}
    schemas = []
    for trait in sorted(set(traits)):
        if not isinstance(trait, str) or not is_ours(trait):
            continue
        rest = trait[len(PREFIX):]
        m = _TRAIT_RE.match(rest)
        if not m:
            problems.append(TraitProblem(
                trait, 'not a valid migcompat trait name (expected '
                '%s<CODE>_<value>)' % PREFIX))
            continue
        code = m.group('code')
        if code == DIGEST_CODE:
            continue  # names the profile; carries no factor
        if code == SCHEMA_CODE and m.group('part') is None:
            if re.match(r'^[1-9][0-9]{0,5}$', m.group('payload')):
                schemas.append(int(m.group('payload')))
            else:
                problems.append(TraitProblem(trait, 'bad schema version'))
            continue
        if code == UNKNOWN_CODE and m.group('part') is None:
            um = _UNKNOWN_RE.match(m.group('payload'))
            if not um:
                problems.append(TraitProblem(trait, 'bad unknown marker'))
                continue
            code, entry = um.group('code'), ('unknown', um.group('reason'))
        else:
            part = m.group('part')
            entry = ('value', m.group('payload'),
                     int(part) if part else None,
                     int(m.group('parts')) if part else None, trait)
        try:
            name = _factor_for_code(code)
        except _Malformed as e:
            problems.append(TraitProblem(trait, str(e)))
            continue
        groups.setdefault(name, []).append(entry + (trait,))

    factors = {}
    if len(set(schemas)) != 1 or schemas[0] > SCHEMA:
        if not schemas and not groups:
            return Parsed(Profile({}), problems,
                          SCHEMA_MISSING if problems else SCHEMA_NONE)
        if not schemas:
            status = SCHEMA_MISSING
            why = 'no %s%s_N trait' % (PREFIX, SCHEMA_CODE)
        elif len(set(schemas)) > 1:
            status = SCHEMA_MIXED
            why = 'several schema traits %s' % sorted(set(schemas))
        else:
            status = SCHEMA_NEWER
            why = ('traits written by a newer migcompat (schema %d; this '
                   'one reads %d): upgrade migcompat' % (schemas[0], SCHEMA))
        problems.append(TraitProblem(PREFIX + SCHEMA_CODE, why))
        for name in groups:
            factors[name] = Unknown('cannot decode traits: %s' % why)
        return Parsed(Profile(factors), problems, status)

    for name, entries in sorted(groups.items()):
        names = [e[-1] for e in entries]
        try:
            factors[name] = _decode_group(name, entries)
        except _Malformed as e:
            problems.extend(TraitProblem(t, str(e), name) for t in names)
            factors[name] = Unknown('malformed trait %s: %s'
                                    % (', '.join(names), e))
    return Parsed(Profile(factors), problems)


def decode(traits):
    """The Profile a host's traits describe (see :func:`parse`)."""
    return parse(traits)[0]


def load_trait_list(text, origin='trait list'):
    """A profile from a file of trait names, one a line (``migcompat
    traits -f value``). Raises InputError when it holds no trait of ours
    or a line that is not a trait name; blank lines and ``#`` comments
    are skipped. Malformed traits of ours make their factor Unknown.
    """
    names = []
    for lineno, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith('#'):
            continue
        if not _NAME_RE.match(line) and not re.match(
                r'^[A-Z0-9_]+$', line):
            raise InputError('%s line %d: %r is not a trait name'
                             % (origin, lineno, line[:80]))
        names.append(line)
    if not any(is_ours(n) for n in names):
        raise InputError('%s: no %s* trait in it; expected the output of '
                         '"migcompat traits -f value"' % (origin, PREFIX))
    return decode(names)


def looks_like_trait_list(text):
    """True when the first meaningful line is one of our traits."""
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith('#'):
            return line.startswith(PREFIX)
    return False
