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

"""The one range check for every number migcompat reads.

A number read from the host (libvirt's capabilities, /proc/cpuinfo), a
domain XML, a snapshot, a profile file or a trait goes through
:func:`parse_int` (text) or :func:`problem` (a number already parsed),
with the bounds of its kind from :data:`RANGES`. A value out of range is
refused by the caller in its own terms, always naming where it was read:
an input error for a file the user gave (exit 2), an unknown factor for a
host file. An impossible value is never judged as a number, so it can
never turn a block into a "cannot be compared" warning.

Digit strings are checked for length before ``int()``: Python refuses
more than 4,300 digits with a ValueError, and nothing we read has more
than :data:`MAX_DIGITS`.
"""

import re

#: kind -> (lowest, highest) plausible value, inclusive.
RANGES = {
    # A TSC runs at some MHz to a few GHz.
    'tsc_hz': (1, 10 ** 11),
    # x86-64 physical (and guest maxphysaddr) address bits.
    'phys_bits': (1, 64),
    # SMT threads per core: 1, 2, 4 or 8 on real CPUs.
    'threads_per_core': (1, 64),
    # A guest's <cpu><topology> sockets, dies, clusters and cores: QEMU
    # runs at most 4,096 vCPUs (q35), so no count is larger.
    'guest_topology': (1, 4096),
    # CPUID family (base + extended: at most 15 + 255), model and stepping;
    # on ARM the implementer (8 bits), part number (12 bits) and
    # variant/revision stand in for them.
    'cpu_family': (0, 0x10e),
    'cpu_model_number': (0, 0xfff),
    'cpu_stepping': (0, 0xff),
    'microcode': (0, 2 ** 64 - 1),
}

#: No number we read has more digits than this (2**64 has 20).
MAX_DIGITS = 40

_DIGITS = re.compile(r'\A[0-9]+\Z')
_HEX = re.compile(r'\A0[xX][0-9a-fA-F]+\Z')


class OutOfRange(ValueError):
    """A number is not an integer or not in its kind's range; str() says
    what (the caller adds where).
    """


def _shown(text, limit=40):
    text = repr(str(text))
    if len(text) > limit:
        return '%s... (%d characters)' % (text[:limit], len(text))
    return text


def parse_int(text, what, kind=None, low=None, high=None, hex_ok=False,
              strip=True):
    """The integer that text spells, checked against kind's range (or
    low/high; None: open).

    Only ASCII digits (and ``0x`` hex with hex_ok), with an optional
    ``-``: no ``+``, no space inside, no other script's digits, no
    trailing newline; surrounding whitespace is stripped unless
    ``strip=False`` (libvirt writes none in an attribute). Raises
    :class:`OutOfRange` whose message starts with ``what``.
    """
    if kind is not None:
        low, high = RANGES[kind]
    raw = '' if text is None else str(text)
    raw = raw.strip() if strip else raw
    sign, body = (-1, raw[1:]) if raw.startswith('-') else (1, raw)
    if _DIGITS.match(body):
        digits, base = body, 10
    elif hex_ok and _HEX.match(body):
        digits, base = body[2:], 16
    else:
        raise OutOfRange('%s %s is not an integer' % (what, _shown(text)))
    if len(digits.lstrip('0')) > MAX_DIGITS:
        raise OutOfRange('%s %s is out of range (%s)'
                         % (what, _shown(text), _bounds(low, high)))
    value = sign * int(digits, base)
    found = problem(value, low=low, high=high)
    if found:
        raise OutOfRange('%s %s' % (what, found))
    return value


def problem(value, kind=None, low=None, high=None):
    """What is wrong with an already parsed number ('' if nothing)."""
    if kind is not None:
        low, high = RANGES[kind]
    if isinstance(value, bool) or not isinstance(value, int):
        return '%s is not an integer' % _shown(value)
    if (low is not None and value < low) or (
            high is not None and value > high):
        shown = str(value) if value.bit_length() < 128 else (
            '(a %d-bit number)' % value.bit_length())
        return '%s is out of range (%s)' % (shown, _bounds(low, high))
    return ''


def _bounds(low, high):
    def spell(n):
        return '' if n is None else ('%g' % n if n >= 10 ** 6 else str(n))
    return '%s..%s' % (spell(low), spell(high))
