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

"""Schema 2 of the migcompat traits: one readable trait per fact.

Grammar (every name matches ``^CUSTOM_[A-Z0-9_]+$`` and is at most
:data:`MAX_NAME_LENGTH` = 128 characters)::

    CUSTOM_MIGCOMPAT_SCHEMA_2                    codec schema version
    CUSTOM_MIGCOMPAT_<PART>_<value>              a fact (trait_layout)
    CUSTOM_MIGCOMPAT_UNKNOWN_<PART>[_<FIELD>...] that place is unknown
    CUSTOM_MIGCOMPAT_EMPTY_<PART>[_<FIELD>...]   an empty list or mapping
    CUSTOM_MIGCOMPAT_NULL_<PART>[_<FIELD>...]    null (e.g. no model)
    CUSTOM_MIGCOMPAT_WHY_<PART>_<i>OF<n>_<b32>   why those places are
                                                 unknown (compact)
    CUSTOM_MIGCOMPAT_PACKED_<PART>_<i>OF<n>_<b32>  a value with no
                                                 readable spelling

``PART`` is letters only: a factor's code, or one of its parts' codes
(migcompat_filter.traits.layout: ``HM`` the host-model features, ``FEAT``
the host's, ``KPARAM`` the kernel parameters, ``TSCHZ`` the calibrated TSC
frequency, ...). Values are spelt as migcompat_filter.traits.text says:
plain where a vocabulary or the field's separator makes that exact, a
visible ``__`` escape otherwise.

Exact: encoding checks that the traits decode back to the value (lists
the layout calls sets compare sorted). When they would not, or a name
would pass 128 characters, that part (else the whole factor) is published
as a ``PACKED`` payload: canonical JSON, deflated, base32, in numbered
parts. The vulnerabilities texts always are (long prose that nobody
matches on), and so are third-party factors. Unknown reasons are kept
whole in ``WHY`` payloads, so a destination says exactly why.
"""

import functools
import json

from migcompat_filter.exception import InputError
from migcompat_filter.factors import catalogue
from migcompat_filter import profile as profile_mod
from migcompat_filter.profile import Unknown
from migcompat_filter.traits import layout
from migcompat_filter.traits.names import PREFIX
from migcompat_filter.traits.names import TraitProblem
from migcompat_filter.traits.payloads import Malformed
from migcompat_filter.traits.payloads import pack
from migcompat_filter.traits.payloads import unpack
from migcompat_filter.traits import schema1 as trait_schema1

SCHEMA = 2
MAX_NAME_LENGTH = 128
#: A value needing more PACKED traits than this is published unknown.
MAX_PARTS = 40
WHY = 'WHY'
PACKED = 'PACKED'
FAMILIES = layout.MARKERS + (WHY, PACKED)
_RESERVED = set(FAMILIES) | {'SCHEMA', 'DIGEST'}


def _index():
    """code -> (layout, part or None for the whole factor)."""
    index = {}
    for lay in layout.LAYOUTS.values():
        if len(lay.parts) == 1 and lay.parts[0].fields is None:
            entries = [(lay.parts[0].code, lay.parts[0])]
        else:
            entries = [(lay.code, None)] + [(p.code, p) for p in lay.parts]
        for code, part in entries:
            assert code.isalpha() and code not in index and \
                code not in _RESERVED, code
            index[code] = (lay, part)
    return index


_BY_CODE = _index()
PER_HOST_CODES = frozenset(code for code, (_l, part) in _BY_CODE.items()
                           if part is not None and part.per_host) | \
    frozenset(lay.code for lay in layout.LAYOUTS.values()
              if all(p.per_host for p in lay.parts))


def per_host_codes():
    return PER_HOST_CODES


def _plugin_code(name):
    code = trait_schema1._codec_for(name)[0]
    if code in _BY_CODE or code in _RESERVED:
        code = trait_schema1._plugin_code(name)
    return code


def _plugin_factor(code):
    for name, (c, _kind) in trait_schema1.FACTOR_CODECS.items():
        if c == code and name not in layout.LAYOUTS:
            return name
    return trait_schema1._plugin_name(code)


# -- canonical values (what exactness compares) ------------------------------

def _canon(spec, value):
    if profile_mod.is_unknown(value):
        return value.to_json()
    if isinstance(spec, layout.Set) and isinstance(value, (list, tuple)):
        try:
            return sorted(value, key=spec.item.sort_key)
        except TypeError:
            return list(value)
    if isinstance(spec, layout.Dict) and isinstance(value, dict):
        return {k: _canon(spec.fields[k][1], v) if k in spec.fields
                else profile_mod.to_jsonable(v) for k, v in value.items()}
    return profile_mod.to_jsonable(value)


def canonical(name, value):
    """value as schema 2 promises to give it back (sets sorted)."""
    lay = layout.LAYOUTS.get(name)
    if lay is None:
        return profile_mod.to_jsonable(value)
    if len(lay.parts) == 1 and lay.parts[0].fields is None:
        return _canon(lay.parts[0].spec, value)
    if not isinstance(value, dict):
        return profile_mod.to_jsonable(value)
    out = dict(profile_mod.to_jsonable(value))
    for part in lay.parts:
        if part.single and part.fields[0] in value:
            out[part.fields[0]] = _canon(part.spec, value[part.fields[0]])
        elif not part.single:
            out.update(_canon(part.spec, {k: value[k] for k in part.fields
                                          if k in value}))
    return out


def _same(name, a, b):
    def dump(v):
        return json.dumps(canonical(name, v), sort_keys=True)
    try:
        return dump(a) == dump(b)
    except (TypeError, ValueError):
        return False


# -- encoding ----------------------------------------------------------------

def _chunked(family, code, payload):
    head = '%s%s_%s_' % (PREFIX, family, code)
    parts = 1
    while True:
        width = MAX_NAME_LENGTH - len(head) - len('%dOF%d_' % (parts, parts))
        needed = max(1, -(-len(payload) // width))
        if needed <= parts:
            break
        parts = needed
    chunks = [payload[i:i + width] for i in range(0, len(payload), width)]
    chunks += [''] * (parts - len(chunks))
    return ['%s%dOF%d_%s' % (head, i, parts, c)
            for i, c in enumerate(chunks, 1)]


def _packed(code, value, factor):
    names = _chunked(PACKED, code,
                     pack(profile_mod.to_jsonable(value), factor))
    if len(names) > MAX_PARTS:
        reason = ('value too large to publish (%d traits)' % len(names))
        return _readable(code, layout.Packed(), Unknown(reason))
    return names


def _readable(code, spec, value):
    """The readable names of one part (NoFit when there are none)."""
    bodies, markers = layout.encode_node(spec, value)
    names = ['%s%s_%s' % (PREFIX, code, b) for b in bodies]
    reasons = {}
    for kind, path, reason in markers:
        names.append('%s%s_%s' % (PREFIX, kind, '_'.join((code,) + path)))
        if kind == layout.UNKNOWN:
            reasons['_'.join(path)] = reason
    if reasons:
        names += _chunked(WHY, code, pack(reasons, code))
    if any(len(n) > MAX_NAME_LENGTH for n in names):
        raise layout.NoFit()
    return names


def _part_names(code, spec, value, factor):
    try:
        names = _readable(code, spec, value)
    except layout.NoFit:
        return _packed(code, value, factor)
    if len(names) != len(set(names)):
        return _packed(code, value, factor)
    return names


def encode_factor(name, value):
    """The sorted schema-2 trait names of one factor's value."""
    _check_kind(name, value)
    if name not in layout.LAYOUTS:  # a plugin's code follows its row
        return _encode_factor(name, value)
    try:
        key = json.dumps(profile_mod.to_jsonable(value), sort_keys=True)
    except (TypeError, ValueError):
        return _encode_factor(name, value)
    return list(_encode_cached(name, key))


@functools.lru_cache(maxsize=1024)
def _encode_cached(name, key):
    # Hosts of a fleet share most values: a reporter, a demo fleet or a
    # benchmark encodes the same factor value many times.
    return tuple(_encode_factor(name, profile_mod.from_jsonable(
        json.loads(key))))


def _encode_factor(name, value):
    lay = layout.LAYOUTS.get(name)
    if lay is None:
        names = _packed(_plugin_code(name), value, name)
    elif len(lay.parts) == 1 and lay.parts[0].fields is None:
        part = lay.parts[0]
        names = _part_names(part.code, part.spec, value, name)
    else:
        names = _multi_part(lay, value)
    names = sorted(set(names))
    if lay is not None:
        try:
            decoded = _decode_factor(_group(names)[name], name)
        except (Malformed, KeyError):
            decoded = Unknown('does not decode')
        if not _same(name, decoded, value):
            names = sorted(_packed(lay.code, value, name))
    return names


def _check_kind(name, value):
    """InputError for a text or integer factor of another type (a reader
    bug: a clear error beats publishing something undecodable).
    """
    row = catalogue.get(name)
    kind = row.codec if row else None
    if profile_mod.is_unknown(value) or kind not in (catalogue.TEXT,
                                                     catalogue.INT):
        return
    if kind == catalogue.TEXT and not isinstance(value, str) or \
            kind == catalogue.INT and (not isinstance(value, int) or
                                       isinstance(value, bool)):
        raise InputError('factor %s: expected %s, got %s %r' % (
            name, 'a string' if kind == catalogue.TEXT else 'an integer',
            type(value).__name__, value))


def _multi_part(lay, value):
    known = {f for p in lay.parts for f in p.fields}
    if not isinstance(value, dict) or not value or set(value) - known:
        # Unknown as a whole, or a shape the parts do not cover.
        return _part_names(lay.code, layout.Packed(), value, lay.name)
    names = []
    for part in lay.parts:
        if part.single:
            if part.fields[0] in value:
                names += _part_names(part.code, part.spec,
                                     value[part.fields[0]], lay.name)
        else:
            sub = {k: value[k] for k in part.fields if k in value}
            if sub:
                names += _part_names(part.code, part.spec, sub, lay.name)
    return names


def encode_factors(profile):
    """The factor traits of a profile (no schema or digest trait)."""
    traits = set()
    for name, value in profile.factors.items():
        traits.update(encode_factor(name, value))
    return traits


# -- decoding ----------------------------------------------------------------

class _Traits(object):
    """The traits of one code: value bodies, markers, WHY and PACKED."""

    def __init__(self):
        self.bodies = []
        self.markers = {}
        self.chunks = {WHY: [], PACKED: []}
        self.names = []


def _split_name(trait):
    """(family or None, code, rest) of one of our trait names."""
    rest = trait[len(PREFIX):]
    head, _sep, tail = rest.partition('_')
    if head in FAMILIES:
        code, _sep, tail = tail.partition('_')
        return head, code, tail
    return None, head, tail


def _factor_of(code):
    """(factor name, part or None); Malformed for a code nobody knows."""
    if code in _BY_CODE:
        lay, part = _BY_CODE[code]
        return lay.name, part
    try:
        return _plugin_factor(code), None
    except Malformed:
        raise Malformed('unknown trait code %s (written by a newer '
                        'migcompat?)' % code)


def _group(traits, problems=None):
    """factor -> {code: _Traits}."""
    groups = {}
    for trait in traits:
        family, code, rest = _split_name(trait)
        try:
            if not code.isalpha() or '_' not in trait[len(PREFIX):]:
                raise Malformed('not a valid migcompat trait name '
                                '(expected %s<CODE>_<value>)' % PREFIX)
            name, _part = _factor_of(code)
        except Malformed as e:
            if problems is None:
                raise
            problems.append(TraitProblem(trait, str(e)))
            continue
        entry = groups.setdefault(name, {}).setdefault(code, _Traits())
        entry.names.append(trait)
        if family is None:
            entry.bodies.append(rest)
        elif family in layout.MARKERS:
            path = tuple(rest.split('_')) if rest else ()
            entry.markers[path] = (family, None)
        else:
            entry.chunks[family].append(rest)
    return groups


def _joined(chunks):
    parts = {}
    total = None
    for chunk in chunks:
        marker, _sep, data = chunk.partition('_')
        i, _of, n = marker.partition('OF')
        if not (i.isdigit() and n.isdigit()) or (total not in (None, int(n))):
            raise Malformed('bad part marker %s' % marker)
        total = int(n)
        parts[int(i)] = data
    if sorted(parts) != list(range(1, (total or 0) + 1)):
        raise Malformed('parts %s of %s do not make a whole value'
                        % (sorted(parts), total))
    return unpack(''.join(parts[i] for i in sorted(parts)))


def _decode_code(entry, spec):
    if entry.chunks[PACKED]:
        if entry.bodies or entry.markers or entry.chunks[WHY]:
            raise Malformed('a packed value beside other traits')
        return profile_mod.from_jsonable(_joined(entry.chunks[PACKED]))
    reasons = _joined(entry.chunks[WHY]) if entry.chunks[WHY] else {}
    markers = {}
    for path, (kind, _r) in entry.markers.items():
        reason = None
        if kind == layout.UNKNOWN:
            reason = reasons.get('_'.join(path), 'no reason published')
        markers[path] = (kind, reason)
    return layout.decode_node(spec, entry.bodies, markers)


def _decode_factor(codes, name):
    lay = layout.LAYOUTS.get(name)
    if lay is None:
        if len(codes) != 1:
            raise Malformed('several codes for one factor')
        return _decode_code(list(codes.values())[0], layout.Packed())
    whole = codes.get(lay.code)
    if len(lay.parts) == 1 and lay.parts[0].fields is None:
        return _decode_code(whole, lay.parts[0].spec)
    if whole is not None:
        if len(codes) > 1:
            raise Malformed('a whole-factor trait beside its parts')
        return _decode_code(whole, layout.Packed())
    value = {}
    for part in lay.parts:
        if part.code not in codes:
            continue
        got = _decode_code(codes[part.code], part.spec)
        if part.single:
            value[part.fields[0]] = got
        elif isinstance(got, dict):
            value.update(got)
        else:
            raise Malformed('part %s is not a mapping' % part.code)
    return value


@functools.lru_cache(maxsize=4096)
def _decode_cached(name, names):
    # The scheduler decodes one host per profile, the fleet commands
    # many; a value is decoded once. Callers get fresh containers.
    return profile_mod.to_jsonable(_decode_factor(_group(names)[name], name))


def parse_factors(traits):
    """(factors, [TraitProblem]) from schema-2 trait names (the schema
    and digest traits are the caller's); never raises on content.
    """
    problems = []
    factors = {}
    for name, codes in sorted(_group(sorted(set(traits)),
                                     problems).items()):
        try:
            names = tuple(sorted(n for e in codes.values() for n in e.names))
            factors[name] = profile_mod.from_jsonable(
                _decode_cached(name, names))
        except Exception as e:  # Malformed, or a bug: never raise on content
            names = _culprits(name, codes, str(e))
            problems.extend(TraitProblem(t, str(e), name) for t in names)
            factors[name] = Unknown('malformed trait %s: %s'
                                    % (', '.join(names), e))
    return factors, problems


def _culprits(name, codes, error):
    """The traits of the factor's codes that fail alone with the same
    error (a corrupted payload names its own trait, not the factor's
    first one); all of the factor's traits when none does.
    """
    found = []
    for entry in codes.values():
        try:
            _decode_cached(name, tuple(sorted(entry.names)))
        except Exception as e:  # the same never-raise rule as above
            if str(e) == error:
                found.extend(entry.names)
    return sorted(found or (n for e in codes.values() for n in e.names))


def factor_of(trait):
    """The factor a schema-2 trait belongs to, or None."""
    try:
        return _factor_of(_split_name(trait)[1])[0]
    except Malformed:
        return None


def _shown(value):
    if profile_mod.is_unknown(value):
        return 'unknown'
    if isinstance(value, dict):
        return ', '.join('%s=%s' % (k, _shown(v))
                         for k, v in sorted(value.items()))
    if isinstance(value, (list, tuple)):
        return ' '.join(_shown(v) for v in value)
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    return str(value)


def describe(trait):
    """(factor, what this one trait says) for ``migcompat trait list``."""
    family, code, rest = _split_name(trait)
    try:
        name, part = _factor_of(code)
    except Malformed:
        return None, 'not a trait this migcompat knows'
    if family in (WHY, PACKED):
        marker = rest.partition('_')[0].replace('OF', ' of ')
        what = 'why unknown' if family == WHY else 'packed value'
        return name, '%s (%s, part %s)' % (what, code, marker)
    field = part.fields[0] if part is not None and part.single else None
    if family in layout.MARKERS:
        path = [field] if field else []
        spec = part.spec if part is not None else None
        for fcode in (rest.split('_') if rest else []):
            if isinstance(spec, layout.Dict) and fcode in spec.by_code:
                fname, spec = spec.by_code[fcode]
                path.append(fname)
        return name, '%s%s' % ('.'.join(path) + ' ' if path else '',
                               family.lower())
    if part is None:
        return name, 'not a trait this migcompat knows'
    try:
        value = layout.decode_node(part.spec, [rest], {})
    except Exception:  # a hand-set name: say so, never raise
        return name, 'malformed'
    return name, _shown({field: value} if field else value)
