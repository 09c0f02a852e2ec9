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

"""Readable, reversible spelling of text in trait names (schema 2).

Placement trait names allow only ``[A-Z0-9_]``, so a value such as
``6.8.0-50`` has to be spelt in that alphabet. Plain spelling (upper case,
punctuation as ``_``) is what an operator wants to read, but it merges
values: ``6.8.0-50`` and ``6.8.0.50``, ``sse4.1`` and ``sse4_1``,
``EPYC-Milan`` and ``epyc.milan``. This spelling keeps the plain look for
the common case and makes every other character a *visible escape*:

* ``a``-``z`` are written ``A``-``Z`` and digits as they are (a field may
  declare upper case its default instead: then ``A``-``Z`` are upper case);
* the field's separator (``.`` in versions, ``-`` in CPU model and
  machine type names, ``_`` in the architecture, `` `` in free text) is
  ``_`` when it stands between two letters or digits;
* everything else is an escape ``__`` + one letter (:data:`ESCAPES`):
  ``__D`` ``-``, ``__P`` ``.``, ``__U`` ``_``, ``__S`` space, ``__C``
  ``,``, ``__E`` ``=``, ``__L`` ``/``, ``__K`` ``:``, ``__A`` ``+``,
  ``__T`` ``~``, ``__O`` ``(``, ``__Q`` ``)``, ``__R`` ``@``, ``__H``
  switches between lower and upper case, ``__X`` + six hex digits any
  other code point, ``__N`` is nothing at all (see vocabularies), and
  ``__V``, ``__Y`` are left to the layouts (a key/value boundary, a bare
  flag).

So ``6.8.0-50`` is ``6_8_0__D50`` and ``6.8.0.50`` is ``6_8_0_50``. A plain
``_`` is followed by a letter, a digit or (``___H``) a case switch, so
``__`` always starts an escape.

A *vocabulary* (the feature catalogue, libvirt's CPU model names, ...)
makes the plain spelling exact for the names it knows: a known name is
spelt upper case with each run of punctuation as ``_`` (``sse4.1`` is
``SSE4_1``, ``EPYC-Milan`` is ``EPYC_MILAN``) and decodes back through
the vocabulary. The first name of a vocabulary to claim a spelling keeps
it; a name whose general spelling is a vocabulary spelling gets ``__N``
appended (``haswell`` beside the model ``Haswell`` is ``HASWELL__N``).
"""

import re

from migcompat_filter.traits.payloads import Malformed

#: Escape letter -> the character it stands for.
ESCAPES = {'D': '-', 'P': '.', 'U': '_', 'S': ' ', 'C': ',', 'E': '=',
           'L': '/', 'K': ':', 'A': '+', 'T': '~', 'O': '(', 'Q': ')',
           'R': '@'}
_CHAR_ESCAPE = {c: '__' + k for k, c in ESCAPES.items()}
CASE = '__H'
NOTHING = '__N'
#: Reserved for the layouts (never produced by :func:`spell`).
BOUNDARY = '__V'
FLAG = '__Y'


def _alnum(ch):
    return ch.isascii() and ch.isalnum()


def plain(name):
    """The vocabulary spelling of a name: upper case, punctuation runs as
    ``_``; None when that is not a clean spelling (leading, trailing or
    no alphanumerics).
    """
    spelt = re.sub('[^A-Z0-9]+', '_', name.upper()) if name.isascii() else ''
    if not spelt or spelt.startswith('_') or spelt.endswith('_'):
        return None
    return spelt


class Vocabulary(object):
    """Known names whose plain spelling decodes back to them."""

    def __init__(self, names):
        self.by_spelling = {}
        self.spelling = {}
        for name in names:
            spelt = plain(name)
            if spelt and spelt not in self.by_spelling:
                self.by_spelling[spelt] = name
                self.spelling[name] = spelt


EMPTY_VOCABULARY = Vocabulary(())


def spell_general(text, sep, upper=False):
    """``text`` in the general escaped spelling (no vocabulary)."""
    out = []
    mode_upper = upper
    n = len(text)
    for i, ch in enumerate(text):
        if _alnum(ch):
            if ch.isalpha() and ch.isupper() != mode_upper:
                out.append(CASE)
                mode_upper = not mode_upper
            out.append(ch.upper())
        elif (ch == sep and 0 < i < n - 1 and _alnum(text[i - 1])
              and _alnum(text[i + 1])):
            out.append('_')
        elif ch in _CHAR_ESCAPE:
            out.append(_CHAR_ESCAPE[ch])
        else:
            out.append('__X%06X' % ord(ch))
    return ''.join(out)


def spell(text, sep, vocabulary=EMPTY_VOCABULARY, upper=False):
    """The trait spelling of ``text`` (see the module docstring)."""
    known = vocabulary.spelling.get(text)
    if known is not None:
        return known
    spelt = spell_general(text, sep, upper)
    if spelt in vocabulary.by_spelling:
        spelt += NOTHING
    return spelt


def read(payload, sep, vocabulary=EMPTY_VOCABULARY, upper=False):
    """Inverse of :func:`spell`; raises Malformed."""
    if '__' not in payload and payload in vocabulary.by_spelling:
        return vocabulary.by_spelling[payload]
    out = []
    mode_upper = upper
    i = 0
    n = len(payload)
    while i < n:
        ch = payload[i]
        if ch != '_':
            if not ('A' <= ch <= 'Z' or '0' <= ch <= '9'):
                raise Malformed('character %r' % ch)
            out.append(ch if mode_upper or not ch.isalpha()
                       else ch.lower())
            i += 1
            continue
        if payload.startswith('__', i) and not payload.startswith('___', i):
            code = payload[i + 2:i + 3]
            if code in ESCAPES:
                out.append(ESCAPES[code])
                i += 3
            elif code == 'H':
                mode_upper = not mode_upper
                i += 3
            elif code == 'N':
                i += 3
            elif code == 'X':
                hexa = payload[i + 3:i + 9]
                if not re.match('^[0-9A-F]{6}$', hexa) or \
                        int(hexa, 16) > 0x10FFFF:
                    raise Malformed('bad "__X" escape at offset %d' % i)
                out.append(chr(int(hexa, 16)))
                i += 9
            else:
                raise Malformed('unknown escape "__%s"' % code)
            continue
        if i == 0 or i == n - 1 or sep is None:
            raise Malformed('a lone "_" at offset %d' % i)
        out.append(sep)
        i += 1
    return ''.join(out)
