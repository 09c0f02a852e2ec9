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

import base64
import collections
import functools
import hashlib
import json
import re
import zlib

from migcompat_filter.exception import InputError
from migcompat_filter import profile as profile_mod
from migcompat_filter.profile import Profile
from migcompat_filter.profile import Unknown

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

TEXT = 'text'
INT = 'int'
JSON = 'json'


class Features(object):
    """Codec kind: a dict whose ``fields`` are sets of CPU feature names."""

    def __init__(self, *fields):
        self.fields = fields

    def __repr__(self):
        return 'Features%r' % (self.fields,)


#: factor name -> (trait code, codec kind). A new factor is one line; a
#: code is letters only, unique, and never reused for another meaning.
FACTOR_CODECS = {
    'arch': ('ARCH', TEXT),
    'cpu_model': ('CPU', JSON),
    'cpu_features': ('FEAT', Features('features')),
    'firmware_version': ('FWVER', JSON),
    'firmware_settings': ('FWSET', JSON),
    'kernel_version': ('KVER', TEXT),
    'kernel_settings': ('KSET', JSON),
    'microcode_version': ('UCODE', TEXT),
    'qemu_version': ('QEMU', TEXT),
    'libvirt_version': ('LIBVIRT', TEXT),
    'nested_virt': ('NESTED', JSON),
    'cpu_mode': ('MODE', TEXT),
    'cpu_models': ('MODELS', JSON),
    'host_model': ('HOSTMODEL', Features('features', 'disabled')),
    'usable_models': ('USABLE', JSON),
    'tsc': ('TSC', JSON),
    'phys_bits': ('PHYSBITS', INT),
    'machine_types': ('MACHINES', JSON),
}

_PLUGIN_CODE = 'Z'
_RESERVED_CODES = {SCHEMA_CODE, UNKNOWN_CODE}
_CODE_TO_FACTOR = {code: name for name, (code, _k) in FACTOR_CODECS.items()}

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


class _Malformed(Exception):
    pass


# -- text escaping ---------------------------------------------------------

_PUNCT = '.-_ ,=/:+~'
_PUNCT_CODE = {c: str(i) for i, c in enumerate(_PUNCT)}


def escape_text(text):
    """Reversibly spell any string in ``[A-Z0-9_]``."""
    out = []
    for ch in text:
        if '0' <= ch <= '9':
            out.append(ch)
        elif 'a' <= ch <= 'z':
            out.append(ch.upper())
        elif 'A' <= ch <= 'Z':
            out.append('_' + ch)
        elif ch in _PUNCT_CODE:
            out.append('_' + _PUNCT_CODE[ch])
        else:
            out.append('__%06X' % ord(ch))
    return ''.join(out)


def unescape_text(payload):
    out = []
    i = 0
    n = len(payload)
    while i < n:
        ch = payload[i]
        if ch != '_':
            out.append(ch.lower())
            i += 1
            continue
        if i + 1 >= n:
            raise _Malformed('ends in a lone "_"')
        nxt = payload[i + 1]
        if 'A' <= nxt <= 'Z':
            out.append(nxt)
            i += 2
        elif '0' <= nxt <= '9':
            out.append(_PUNCT[int(nxt)])
            i += 2
        else:  # "__XXXXXX"
            hexa = payload[i + 2:i + 8]
            if not re.match(r'^[0-9A-F]{6}$', hexa):
                raise _Malformed('bad "__" escape at offset %d' % i)
            cp = int(hexa, 16)
            if cp > 0x10FFFF or ('%06X' % cp) != hexa:
                raise _Malformed('bad code point %s' % hexa)
            ch = chr(cp)
            if ch.isascii() and (ch.isalnum() or ch in _PUNCT_CODE):
                # Non-canonical spelling: one value, one trait.
                raise _Malformed('non-canonical escape of %r' % ch)
            out.append(ch)
            i += 8
    return ''.join(out)


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
    if name in FACTOR_CODECS:
        return FACTOR_CODECS[name]
    return _plugin_code(name), JSON


# -- binary payloads --------------------------------------------------------

def _b32(data):
    return base64.b32encode(data).decode('ascii').rstrip('=')


_B32_TO_INT_DIGITS = str.maketrans('ABCDEFGHIJKLMNOPQRSTUVWXYZ234567',
                                   '0123456789abcdefghijklmnopqrstuv')


def _unb32(text):
    """Inverse of :func:`_b32`; refuses any other spelling.

    Done with int() rather than base64.b32decode, which is pure Python
    and was most of the decoding time (the filter decodes every host).
    """
    if re.search('[^A-Z2-7]', text):
        raise _Malformed('not base32')
    nbytes, spare = divmod(len(text) * 5, 8)
    if spare >= 5:  # a whole character too many
        raise _Malformed('base32 of impossible length')
    if not text:
        return b''
    number = int(text.translate(_B32_TO_INT_DIGITS), 32)
    if number & ((1 << spare) - 1):
        raise _Malformed('non-canonical base32')
    return (number >> spare).to_bytes(nbytes, 'big')


def _deflate(data):
    c = zlib.compressobj(9, zlib.DEFLATED, -15, 9)
    return c.compress(data) + c.flush()


def _inflate(data, limit=1 << 20):
    d = zlib.decompressobj(-15)
    try:
        out = d.decompress(data, limit)
    except zlib.error as e:
        raise _Malformed('bad deflate data: %s' % e)
    if d.unconsumed_tail or not d.eof or d.unused_data:
        raise _Malformed('bad or oversized deflate data')
    return out


def _canonical_json(value, factor):
    try:
        return json.dumps(profile_mod.to_jsonable(value), sort_keys=True,
                          separators=(',', ':'), ensure_ascii=False,
                          allow_nan=False).encode('utf-8')
    except (TypeError, ValueError) as e:
        raise InputError('factor %s: value cannot be published as traits '
                         '(not JSON data: %s)' % (factor, e))


def _pack_json(value, factor):
    raw = _canonical_json(value, factor)
    packed = _deflate(raw)
    if len(packed) < len(raw):
        return b'Z' + packed
    return b'J' + raw


def _unpack_json(data):
    if not data:
        raise _Malformed('empty payload')
    tag, body = data[:1], data[1:]
    if tag == b'Z':
        body = _inflate(body)
    elif tag != b'J':
        raise _Malformed('unknown payload format %r' % tag)
    try:
        return json.loads(body.decode('utf-8'))
    except (UnicodeDecodeError, ValueError) as e:
        raise _Malformed('bad JSON payload: %s' % e)


def _varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _read_varint(data, pos):
    n = shift = 0
    while True:
        if pos >= len(data) or shift > 28:
            raise _Malformed('truncated bitmap header')
        b = data[pos]
        pos += 1
        n |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return n, pos


def _is_feature_list(value):
    return isinstance(value, (list, tuple)) and all(
        isinstance(f, str) for f in value)


def _pack_features(value, kind, factor):
    """Catalogue version, one bitmap per set field, then the rest as JSON."""
    catalogue = FEATURE_CATALOGUE[:CATALOGUE_SIZES[CATALOGUE_VERSION]]
    index = {name: i for i, name in enumerate(catalogue)}
    rest = value
    extras = {}
    bitmaps = []
    if isinstance(value, dict):
        rest = dict(value)
        for field in kind.fields:
            if not _is_feature_list(value.get(field)):
                continue  # Unknown, missing or odd: kept as JSON as-is
            bits = bytearray((len(catalogue) + 7) // 8)
            extra = set()
            for feat in value[field]:
                if feat in index:
                    bits[index[feat] >> 3] |= 1 << (index[feat] & 7)
                else:
                    extra.add(feat)
            bitmaps.append(bytes(bits).rstrip(b'\0'))
            extras[field] = sorted(extra)
            del rest[field]
    out = bytearray(_varint(CATALOGUE_VERSION) + _varint(len(bitmaps)))
    for bits in bitmaps:
        out += _varint(len(bits)) + bits
    return bytes(out) + _pack_json({'v': rest, 'x': extras}, factor)


def _unpack_features(data, kind):
    version, pos = _read_varint(data, 0)
    if version not in CATALOGUE_SIZES:
        raise _Malformed('feature catalogue %d is newer than this migcompat '
                         'knows (%d); upgrade migcompat'
                         % (version, CATALOGUE_VERSION))
    catalogue = FEATURE_CATALOGUE[:CATALOGUE_SIZES[version]]
    count, pos = _read_varint(data, pos)
    bitmaps = []
    for _i in range(count):
        length, pos = _read_varint(data, pos)
        bits = data[pos:pos + length]
        if len(bits) != length:
            raise _Malformed('truncated bitmap')
        bitmaps.append(bits)
        pos += length
    tail = data[pos:]
    doc = _unpack_json(tail)
    if not isinstance(doc, dict) or set(doc) != {'v', 'x'} or not \
            isinstance(doc['x'], dict):
        raise _Malformed('bad feature payload')
    value, extras = doc['v'], doc['x']
    fields = [f for f in kind.fields if f in extras]
    if len(fields) != len(extras) or len(fields) != len(bitmaps):
        raise _Malformed('feature bitmaps do not match their fields')
    if fields and not isinstance(value, dict):
        raise _Malformed('bad feature payload')
    for field, bits in zip(fields, bitmaps):
        if bits[-1:] == b'\0':
            raise _Malformed('non-canonical feature bitmap')
        feats = set(extras[field])
        if feats & set(catalogue):
            raise _Malformed('a catalogue feature listed as extra')
        number = int.from_bytes(bits, 'little')  # bit i = catalogue[i]
        if number >> len(catalogue):
            raise _Malformed('feature bits beyond catalogue %d' % version)
        i = 0
        while number:
            if number & 1:
                feats.add(catalogue[i])
            number >>= 1
            i += 1
        value[field] = sorted(feats)
    return value


# -- values <-> payload strings ---------------------------------------------

def _value_payload(name, kind, value):
    if kind == TEXT:
        if not isinstance(value, str):
            raise InputError('factor %s: expected a string, got %s %r'
                             % (name, type(value).__name__, value))
        return escape_text(value)
    if kind == INT:
        if not isinstance(value, int) or isinstance(value, bool):
            raise InputError('factor %s: expected an integer, got %s %r'
                             % (name, type(value).__name__, value))
        return escape_text(str(value))
    if isinstance(kind, Features):
        return _b32(_pack_features(value, kind, name))
    return _b32(_pack_json(value, name))


def _payload_value(kind, payload):
    """The value a payload encodes (fresh containers each call)."""
    return profile_mod.from_jsonable(_payload_jsonable(kind, payload))


@functools.lru_cache(maxsize=4096)
def _payload_jsonable(kind, payload):
    # Cached: hosts of one cloud share most values, and the scheduler
    # filter decodes every candidate host. Callers get fresh containers
    # from from_jsonable(), so the cached object is never handed out.
    return _payload_jsonable_uncached(kind, payload)


def _payload_jsonable_uncached(kind, payload):
    if kind == TEXT:
        return unescape_text(payload)
    if kind == INT:
        text = unescape_text(payload)
        if not re.match(r'^-?[0-9]+$', text) or str(int(text)) != text:
            raise _Malformed('not an integer')
        return int(text)
    if isinstance(kind, Features):
        return _unpack_features(_unb32(payload), kind)
    return _unpack_json(_unb32(payload))


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


def digest_trait(trait_names):
    """The digest trait of a host's migcompat traits (any digest ignored).

    Two hosts carry the same digest exactly when they carry the same
    migcompat traits, i.e. the same profile. It does not depend on the
    schema, so a scheduler groups hosts of a newer reporter too.
    """
    names = sorted(t for t in trait_names
                   if is_ours(t) and not t.startswith(DIGEST_PREFIX))
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
    if code in _CODE_TO_FACTOR:
        return _CODE_TO_FACTOR[code]
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


# -- the CPU feature catalogue ------------------------------------------------

#: Feature names (libvirt spelling) with a bit each in the feature bitmap.
#: Plain data, APPEND ONLY: a position never changes meaning. Version 1 is
#: libvirt 9.0's cpu_map/x86_features.xml in file order, then (sorted) the
#: features newer libvirt names in real host dumps. To add features, append
#: them and add a new CATALOGUE_SIZES entry; old traits keep decoding.
FEATURE_CATALOGUE = (
    'fpu', 'vme', 'de', 'pse', 'tsc', 'msr', 'pae', 'mce', 'cx8', 'apic',
    'sep', 'mtrr', 'pge', 'mca', 'cmov', 'pat', 'pse36', 'pn', 'clflush',
    'ds', 'acpi', 'mmx', 'fxsr', 'sse', 'sse2', 'ss', 'ht', 'tm', 'ia64',
    'pbe', 'pni', 'pclmuldq', 'dtes64', 'monitor', 'ds_cpl', 'vmx', 'smx',
    'est', 'tm2', 'ssse3', 'cid', 'fma', 'cx16', 'xtpr', 'pdcm', 'pcid',
    'dca', 'sse4.1', 'sse4.2', 'x2apic', 'movbe', 'popcnt', 'tsc-deadline',
    'aes', 'xsave', 'osxsave', 'avx', 'f16c', 'rdrand', 'hypervisor', 'arat',
    'fsgsbase', 'tsc_adjust', 'sgx', 'bmi1', 'hle', 'avx2', 'smep', 'bmi2',
    'erms', 'invpcid', 'rtm', 'cmt', 'mpx', 'avx512f', 'avx512dq', 'rdseed',
    'adx', 'smap', 'avx512ifma', 'pcommit', 'clflushopt', 'clwb', 'intel-pt',
    'avx512pf', 'avx512er', 'avx512cd', 'sha-ni', 'avx512bw', 'avx512vl',
    'avx512vbmi', 'umip', 'pku', 'ospke', 'waitpkg', 'avx512vbmi2', 'gfni',
    'vaes', 'vpclmulqdq', 'avx512vnni', 'avx512bitalg', 'avx512-vpopcntdq',
    'la57', 'rdpid', 'bus-lock-detect', 'cldemote', 'movdiri', 'movdir64b',
    'sgxlc', 'pks', 'avx512-4vnniw', 'avx512-4fmaps', 'fsrm',
    'avx512-vp2intersect', 'md-clear', 'serialize', 'tsx-ldtrk', 'pconfig',
    'arch-lbr', 'amx-bf16', 'avx512-fp16', 'amx-tile', 'amx-int8',
    'spec-ctrl', 'stibp', 'arch-capabilities', 'core-capability', 'ssbd',
    'avx-vnni', 'avx512-bf16', 'xsaveopt', 'xsavec', 'xgetbv1', 'xsaves',
    'xfd', 'mbm_total', 'mbm_local', 'sgx1', 'sgx2', 'sgx-exinfo',
    'sgx-debug', 'sgx-mode64', 'sgx-provisionkey', 'sgx-tokenkey', 'sgx-kss',
    'intel-pt-lip', 'syscall', 'nx', 'mmxext', 'fxsr_opt', 'pdpe1gb',
    'rdtscp', 'lm', '3dnowext', '3dnow', 'lahf_lm', 'cmp_legacy', 'svm',
    'extapic', 'cr8legacy', 'abm', 'sse4a', 'misalignsse', '3dnowprefetch',
    'osvw', 'ibs', 'xop', 'skinit', 'wdt', 'lwp', 'fma4', 'tce', 'cvt16',
    'nodeid_msr', 'tbm', 'topoext', 'perfctr_core', 'perfctr_nb', 'invtsc',
    'clzero', 'xsaveerptr', 'wbnoinvd', 'ibpb', 'ibrs', 'amd-stibp',
    'amd-ssbd', 'virt-ssbd', 'amd-no-ssb', 'npt', 'lbrv', 'svm-lock',
    'nrip-save', 'tsc-scale', 'vmcb-clean', 'flushbyasid', 'decodeassists',
    'pause-filter', 'pfthreshold', 'avic', 'v-vmsave-vmload', 'vgif',
    'svme-addr-chk', 'rdctl-no', 'ibrs-all', 'rsba', 'skip-l1dfl-vmentry',
    'ssb-no', 'mds-no', 'pschange-mc-no', 'tsx-ctrl', 'taa-no',
    'split-lock-detect', 'ace2', 'amd-psfd', 'amx-fp16', 'auto-ibrs',
    'avx-ifma', 'avx-ne-convert', 'avx-vnni-int16', 'avx-vnni-int8', 'avx10',
    'avx10-128', 'avx10-256', 'avx10-512', 'bhi-ctrl', 'bhi-no', 'cet-ss',
    'cmpccxadd', 'ddpd-u', 'eraps', 'fbsdp-no', 'fdp-excptn-only',
    'flush-l1d', 'fs-gs-base-ns', 'fsrc', 'fsrs', 'fzrm', 'gds-no', 'gmet',
    'ibpb-brtype', 'intel-psfd', 'ipred-ctrl', 'lam',
    'lfence-always-serializing', 'mcdt-no', 'no-nested-data-bp',
    'null-sel-clr-base', 'overflow-recov', 'pbrsb-no', 'perfmon-v2', 'phe',
    'phe-en', 'pmm', 'pmm-en', 'prefetchi', 'prefetchiti', 'psdp-no',
    'rfds-no', 'rrsba-ctrl', 'sbdr-ssdp-no', 'sbpb', 'sha512', 'sm3', 'sm4',
    'srso-user-kernel-no', 'stibp-always-on', 'succor', 'vmx-any-errcode',
    'vmx-cr3-load-noexit', 'vmx-entry-noload-debugctl',
    'vmx-exit-nosave-debugctl', 'vmx-invept-all-context',
    'vmx-invept-single-context', 'vmx-invlpg-exit', 'vmx-mwait-exit',
    'vmx-nested-exception', 'vmx-rdpmc-exit', 'vmx-rdtsc-exit', 'vnmi',
    'xcrypt', 'xcrypt-en', 'xstore', 'xstore-en', 'zero-fcs-fds',
)

#: catalogue version -> how many leading FEATURE_CATALOGUE names it covers.
CATALOGUE_SIZES = {1: 284}
CATALOGUE_VERSION = max(CATALOGUE_SIZES)
