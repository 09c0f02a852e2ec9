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

"""Schema 1 of the migcompat traits (the legacy, compact codec).

Read for hosts whose reporter is older than schema 2, and written only
when asked (``traits.encode(profile, schema=1)``: tests and a rollback).
Grammar (every name matches ``^CUSTOM_[A-Z0-9_]+$``, <= 255 chars)::

    CUSTOM_MIGCOMPAT_SCHEMA_1                  codec schema version
    CUSTOM_MIGCOMPAT_<CODE>_<payload>          a factor's value
    CUSTOM_MIGCOMPAT_<CODE><i>OF<n>_<payload>  part i of n of a long value
    CUSTOM_MIGCOMPAT_UNKNOWN_<CODE>_<REASON>   a factor that is unknown

``CODE`` is letters only (the catalogue's ``trait_code``; a plugin factor
without one gets ``Z`` plus its name spelt in the letters A-P). Payloads
(migcompat_filter.traits.payloads): ``text`` (reversible escaping), ``json``
(canonical JSON, raw-deflated when shorter, base32) and ``features`` (a
bitmap over the feature catalogue plus the rest as json). An unknown
factor's reason is shortened to an upper-case code (lossy).
"""

import logging
import re

from migcompat_filter.factors import catalogue
from migcompat_filter.profile import Unknown
from migcompat_filter.traits.names import DIGEST_CODE
from migcompat_filter.traits.names import is_ours
from migcompat_filter.traits.names import MAX_TRAIT_LENGTH
from migcompat_filter.traits.names import PREFIX
from migcompat_filter.traits.names import SCHEMA_CODE
from migcompat_filter.traits.names import TraitProblem
from migcompat_filter.traits.names import UNKNOWN_CODE
from migcompat_filter.traits.payloads import Features
from migcompat_filter.traits.payloads import INT
from migcompat_filter.traits.payloads import JSON
from migcompat_filter.traits.payloads import Malformed as _Malformed
from migcompat_filter.traits.payloads import payload_value as _payload_value
from migcompat_filter.traits.payloads import TEXT
from migcompat_filter.traits.payloads import value_payload as _value_payload

LOG = logging.getLogger(__name__)

SCHEMA = 1
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


def per_host_codes():
    """The trait codes of the per-host factors (their running guests)."""
    return _PER_HOST_CODES


def encode_factors(profile):
    """The factor traits of a profile (no schema or digest trait)."""
    traits = set()
    for name, value in profile.factors.items():
        traits.update(encode_factor(name, value))
    return traits


def _factor_for_code(code):
    name = _CODE_TO_FACTOR.get(code)
    if name is not None:
        return name
    if code.startswith(_PLUGIN_CODE):
        return _plugin_name(code)
    raise _Malformed('unknown factor code %s (written by a newer '
                     'migcompat?)' % code)


def factor_of_code(code):
    """The factor a schema-1 trait code names, or None."""
    try:
        return _factor_for_code(code)
    except _Malformed:
        return None


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


def parse_factors(traits):
    """(factors, [TraitProblem]) from schema-1 trait names (the schema
    trait itself is the caller's); never raises on content.

    Traits without our prefix are ignored. Each problem names the trait
    and what is wrong; the affected factor is Unknown with that reason.
    """
    problems = []
    groups = {}
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
            continue  # the caller's
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
    for name, entries in sorted(groups.items()):
        names = [e[-1] for e in entries]
        try:
            factors[name] = _decode_group(name, entries)
        except _Malformed as e:
            problems.extend(TraitProblem(t, str(e), name) for t in names)
            factors[name] = Unknown('malformed trait %s: %s'
                                    % (', '.join(names), e))
    return factors, problems
