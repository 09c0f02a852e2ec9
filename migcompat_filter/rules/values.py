"""Small helpers to read factor values that may be (partly) Unknown.

Profiles come from a host reader or from Placement traits; either may leave
any factor, or any part of one, Unknown or absent. These helpers turn every
such gap into an :class:`Unknown` with a reason, so that no rule can treat
a missing value as equal or as empty.
"""

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
    """An int or float (not a bool), or Unknown."""
    if is_unknown(value):
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return Unknown('%s is not a number: %r' % (what, value))
    return value


def short_list(names, limit=12):
    names = sorted(names)
    if len(names) <= limit:
        return ', '.join(names)
    return '%s and %d more' % (', '.join(names[:limit]), len(names) - limit)
