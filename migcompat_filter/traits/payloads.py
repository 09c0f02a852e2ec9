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

"""The payload formats of migcompat traits: how a value becomes
``[A-Z0-9_]`` text and back (see migcompat_filter.traits.codec for the
grammar).

* ``text``: readable and reversible escaping (:func:`escape_text`);
* ``int``: an integer in the text escaping;
* ``json``: canonical JSON, raw-deflated when that is shorter, in base32;
* :class:`Features`: a bitmap over the feature catalogue
  (migcompat_filter.traits.feature_catalogue) plus the rest as ``json``.

Decoding raises :class:`Malformed`, which the trait parser turns into an
Unknown factor and a problem naming the trait.
"""

import base64
import functools
import json
import re
import zlib

from migcompat_filter.exception import InputError
from migcompat_filter import profile as profile_mod
from migcompat_filter.traits.feature_catalogue import CATALOGUE_SIZES
from migcompat_filter.traits.feature_catalogue import CATALOGUE_VERSION
from migcompat_filter.traits.feature_catalogue import FEATURE_CATALOGUE

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

class Malformed(Exception):
    """A payload this migcompat cannot decode."""


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
            raise Malformed('ends in a lone "_"')
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
                raise Malformed('bad "__" escape at offset %d' % i)
            cp = int(hexa, 16)
            if cp > 0x10FFFF or ('%06X' % cp) != hexa:
                raise Malformed('bad code point %s' % hexa)
            ch = chr(cp)
            if ch.isascii() and (ch.isalnum() or ch in _PUNCT_CODE):
                # Non-canonical spelling: one value, one trait.
                raise Malformed('non-canonical escape of %r' % ch)
            out.append(ch)
            i += 8
    return ''.join(out)


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
        raise Malformed('not base32')
    nbytes, spare = divmod(len(text) * 5, 8)
    if spare >= 5:  # a whole character too many
        raise Malformed('base32 of impossible length')
    if not text:
        return b''
    number = int(text.translate(_B32_TO_INT_DIGITS), 32)
    if number & ((1 << spare) - 1):
        raise Malformed('non-canonical base32')
    return (number >> spare).to_bytes(nbytes, 'big')


def _deflate(data):
    c = zlib.compressobj(9, zlib.DEFLATED, -15, 9)
    return c.compress(data) + c.flush()


def _inflate(data, limit=1 << 20):
    d = zlib.decompressobj(-15)
    try:
        out = d.decompress(data, limit)
    except zlib.error as e:
        raise Malformed('bad deflate data: %s' % e)
    if d.unconsumed_tail or not d.eof or d.unused_data:
        raise Malformed('bad or oversized deflate data')
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
        raise Malformed('empty payload')
    tag, body = data[:1], data[1:]
    if tag == b'Z':
        body = _inflate(body)
    elif tag != b'J':
        raise Malformed('unknown payload format %r' % tag)
    try:
        return json.loads(body.decode('utf-8'))
    except (UnicodeDecodeError, ValueError) as e:
        raise Malformed('bad JSON payload: %s' % e)


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
            raise Malformed('truncated bitmap header')
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
        raise Malformed('feature catalogue %d is newer than this migcompat '
                        'knows (%d); upgrade migcompat'
                        % (version, CATALOGUE_VERSION))
    catalogue = FEATURE_CATALOGUE[:CATALOGUE_SIZES[version]]
    count, pos = _read_varint(data, pos)
    bitmaps = []
    for _i in range(count):
        length, pos = _read_varint(data, pos)
        bits = data[pos:pos + length]
        if len(bits) != length:
            raise Malformed('truncated bitmap')
        bitmaps.append(bits)
        pos += length
    tail = data[pos:]
    doc = _unpack_json(tail)
    if not isinstance(doc, dict) or set(doc) != {'v', 'x'} or not \
            isinstance(doc['x'], dict):
        raise Malformed('bad feature payload')
    value, extras = doc['v'], doc['x']
    fields = [f for f in kind.fields if f in extras]
    if len(fields) != len(extras) or len(fields) != len(bitmaps):
        raise Malformed('feature bitmaps do not match their fields')
    if fields and not isinstance(value, dict):
        raise Malformed('bad feature payload')
    for field, bits in zip(fields, bitmaps):
        if bits[-1:] == b'\0':
            raise Malformed('non-canonical feature bitmap')
        feats = set(extras[field])
        if feats & set(catalogue):
            raise Malformed('a catalogue feature listed as extra')
        number = int.from_bytes(bits, 'little')  # bit i = catalogue[i]
        if number >> len(catalogue):
            raise Malformed('feature bits beyond catalogue %d' % version)
        i = 0
        while number:
            if number & 1:
                feats.add(catalogue[i])
            number >>= 1
            i += 1
        value[field] = sorted(feats)
    return value


# -- values <-> payload strings ---------------------------------------------

def value_payload(name, kind, value):
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


def payload_value(kind, payload):
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
            raise Malformed('not an integer')
        return int(text)
    if isinstance(kind, Features):
        return _unpack_features(_unb32(payload), kind)
    return _unpack_json(_unb32(payload))


# -- compact payloads of schema 2 -------------------------------------------

def pack(value, factor):
    """A JSON value as a base32 payload (deflated when that is shorter)."""
    return _b32(_pack_json(value, factor))


def unpack(payload):
    """Inverse of :func:`pack` (a jsonable value); raises Malformed."""
    return _unpack_json(_unb32(payload))
