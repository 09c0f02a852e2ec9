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

"""Small helpers to read factor values that may be (partly) Unknown.

Profiles come from a host reader or from Placement traits; either may leave
any factor, or any part of one, Unknown or absent. These helpers turn every
such gap into an :class:`Unknown` with a reason, so that no rule can treat
a missing value as equal or as empty.
"""

import math
import re

from migcompat_filter.profile import is_unknown
from migcompat_filter.profile import Unknown


def part(value, key, factor):
    """value[key], or Unknown saying why it is not there."""
    if is_unknown(value):
        return value
    if not isinstance(value, dict):
        return Unknown('%s is not a mapping (%s)'
                       % (factor, type(value).__name__))
    if key not in value or value[key] is None:
        return Unknown('%s has no %s' % (factor, key))
    return value[key]


def feature_set(value, what):
    """A set of feature/model names, or Unknown."""
    if is_unknown(value):
        return value
    if not isinstance(value, (list, tuple, set, frozenset)):
        return Unknown('%s is not a list' % what)
    if any(is_unknown(v) for v in value):
        return Unknown('%s holds unknown entries' % what)
    return frozenset(str(v) for v in value)


def contains_unknown(value):
    if is_unknown(value):
        return True
    if isinstance(value, dict):
        return any(contains_unknown(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(contains_unknown(v) for v in value)
    return False


def same(a, b):
    """Deep equality in which Unknown (anywhere) is never equal.

    Plain ``==`` on containers shortcuts on identity, so a dict holding an
    Unknown would compare equal to itself; this never does.
    """
    if contains_unknown(a) or contains_unknown(b):
        return False
    return a == b


def unknown_reason(value):
    """The first Unknown reason inside value ('' if none)."""
    if is_unknown(value):
        return value.reason
    if isinstance(value, dict):
        for k in sorted(value, key=str):
            r = unknown_reason(value[k])
            if r:
                return r
    if isinstance(value, (list, tuple)):
        for v in value:
            r = unknown_reason(v)
            if r:
                return r
    return ''


def differing_keys(a, b, prefix=''):
    """Dotted paths where two nested dicts differ (Unknown always differs)."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for key in sorted(set(a) | set(b), key=str):
            path = '%s%s' % (prefix, key)
            if key not in a or key not in b:
                out.append(path)
            else:
                out.extend(differing_keys(a[key], b[key], path + '.'))
        return out
    if same(a, b):
        return []
    return [prefix.rstrip('.') or '(value)']


def lookup(value, dotted):
    for key in dotted.split('.'):
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


# An optional Debian epoch ("1:") and "v", then dotted numbers.
_VERSION_RE = re.compile(r'^\s*(?:\d+:)?v?(\d+(?:\.\d+)*)')


def parse_version(value, what):
    """'7.2.22' -> (7, 2, 22); libvirt's packed int also accepted."""
    if is_unknown(value):
        return value
    if isinstance(value, bool):
        return Unknown('%s is not a version: %r' % (what, value))
    if isinstance(value, int):
        return (value // 1000000, (value // 1000) % 1000, value % 1000)
    m = _VERSION_RE.match(str(value))
    if not m:
        return Unknown('%s is not a version number: %r' % (what, value))
    parts = [int(p) for p in m.group(1).split('.')]
    while len(parts) < 3:
        parts.append(0)
    return tuple(parts)


def number(value, what):
    """A finite int or float (not a bool), or Unknown.

    NaN and the infinities are Unknown (they compare true or false with
    everything in ways no rule means), and so is an int too large to
    become a float (arithmetic with it raises OverflowError). Never
    raises.
    """
    if is_unknown(value):
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return Unknown('%s is not a number: %s' % (what, short(value)))
    try:
        finite = math.isfinite(value)
    except OverflowError:  # an int beyond float range
        finite = False
    if not finite:
        return Unknown('%s is not a finite number: %s'
                       % (what, short(value)))
    return value


def bounded(value, what, low, high):
    """:func:`number` within [low, high], else Unknown saying so."""
    value = number(value, what)
    if is_unknown(value):
        return value
    if not low <= value <= high:
        return Unknown('%s %s is out of range (%s..%s)'
                       % (what, short(value), _num(low), _num(high)))
    return value


#: Physical TSC frequencies lie far inside this range (Hz).
TSC_HZ_RANGE = (1, 10 ** 11)
#: x86 and ARM physical address widths.
PHYS_BITS_RANGE = (1, 64)


def _num(x):
    return '%g' % x if isinstance(x, float) or x >= 10 ** 6 else str(x)


def short(value, limit=40):
    """repr of value, cut (a 400-digit number stays readable)."""
    try:
        text = repr(value)
    except ValueError:  # int beyond the str conversion limit
        return 'a number of more than 4300 digits'
    if len(text) > limit:
        return '%s... (%d characters)' % (text[:limit], len(text))
    return text


def short_list(names, limit=12):
    names = sorted(names)
    if len(names) <= limit:
        return ', '.join(names)
    return '%s and %d more' % (', '.join(names[:limit]), len(names) - limit)
