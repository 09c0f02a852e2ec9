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

"""The host factor profile: plain data that every other part consumes.

Data flows one way: a host source is read into a :class:`Profile`, a profile
is encoded as traits, traits are decoded back into a profile, and the rules
engine compares two profiles. This module is the contract between them.

A profile maps a factor name (see ``FACTOR_SCHEMA`` below) to the factor's
value. Any value, or any part of a value, may be :class:`Unknown`: a value
that could not be read, carrying the reason. Unknown is never equal to
anything, including another Unknown.

JSON form (``migcompat profile show -f json``)::

    {"schema_version": 1,
     "kernel_version": "6.18.44-fc-v595",
     "firmware_version": {"unknown": true, "reason": "no DMI data: ..."},
     ...}
"""

import json
import math

from migcompat_filter import bounds
from migcompat_filter.exception import InputError
from migcompat_filter.factors import catalogue

#: Bumped when a factor's value changes shape. Readers refuse a newer one.
SCHEMA_VERSION = 1

#: factor -> the shape of its value, from the factor catalogue
#: (documentation as data: ``migcompat factor list`` prints it, and tests check
#: readers against it). A plugin factor's value must be JSON data.
FACTOR_SCHEMA = catalogue.Derived(catalogue.schema)


class Unknown(object):
    """A factor value that could not be read, and why.

    Deliberately unequal to everything (itself included) so that no code
    path can ever treat two unknowns as "the same".
    """

    __slots__ = ('reason', 'transient')

    def __init__(self, reason, transient=False):
        self.reason = str(reason)
        #: Whether the cause may pass by itself (libvirt unreachable, a
        #: timeout, permission denied): the reporter then keeps the last
        #: good value. Not part of the JSON form.
        self.transient = transient

    def __eq__(self, other):
        return False

    def __ne__(self, other):
        return True

    __hash__ = None

    def __repr__(self):
        return 'Unknown(%r)' % self.reason

    def to_json(self):
        return {'unknown': True, 'reason': self.reason}


def is_unknown(value):
    return isinstance(value, Unknown)


def has_unknown(value):
    """Whether value is Unknown or holds one (in a dict or list)."""
    if isinstance(value, Unknown):
        return True
    if isinstance(value, dict):
        return any(has_unknown(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(has_unknown(v) for v in value)
    return False


class ProfileError(InputError):
    """A profile document is unusable; the message names what is wrong."""


def to_jsonable(value):
    """Return value with every Unknown turned into its JSON form."""
    if isinstance(value, Unknown):
        return value.to_json()
    if isinstance(value, dict):
        return {k: to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    return value


def is_unknown_json(value):
    """True for the JSON form of an Unknown: {"unknown": true, ...}."""
    return (isinstance(value, dict) and value.get('unknown') is True
            and set(value) <= {'unknown', 'reason'})


def from_jsonable(value):
    """Inverse of :func:`to_jsonable`."""
    if isinstance(value, dict):
        if is_unknown_json(value):
            return Unknown(value.get('reason', 'no reason given'))
        return {k: from_jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [from_jsonable(v) for v in value]
    return value


def _refuse_constant(name):
    raise ValueError('%s is not a number a profile can hold' % name)


#: The first word of a catalogue schema ("int: physical address bits")
#: -> the JSON types a value of that shape may have.
_SHAPES = {'str': (str,), 'int': (int,), 'dict': (dict,),
           'list': (list,)}

#: Fields whose type the rules rely on: (factor, field) -> types.
_FIELDS = {
    ('tsc', 'frequency'): (int,),
    ('tsc', 'scaling'): (bool, type(None)),
    ('cpu_model', 'family'): (int,),
    ('cpu_model', 'model'): (int,),
    ('cpu_model', 'stepping'): (int,),
    ('running_guests', 'count'): (int,),
    ('firmware_settings', 'threads_per_core'): (int,),
    ('running_guests', 'invtsc_unpinned'): (int,),
    ('host_model', 'features'): (list,),
    ('cpu_features', 'features'): (list,),
}

#: Numbers no real host has: (factor, field or None) -> their kind in
#: migcompat_filter.bounds (the readers' range check, the one helper).
_RANGES = {
    ('tsc', 'frequency'): 'tsc_hz',
    ('phys_bits', None): 'phys_bits',
    ('cpu_model', 'family'): 'cpu_family',
    ('cpu_model', 'model'): 'cpu_model_number',
    ('cpu_model', 'stepping'): 'cpu_stepping',
    ('firmware_settings', 'threads_per_core'): 'threads_per_core',
}

#: Lists of numbers: (factor, field) -> the kind of each item.
_LIST_RANGES = {
    ('running_guests', 'invtsc_frequencies'): 'tsc_hz',
    ('running_guests', 'phys_bits'): 'phys_bits',
}

_TYPE_NAMES = {str: 'a string', int: 'an integer', dict: 'a mapping',
               list: 'a list', bool: 'true or false', type(None): 'null'}


def _type_ok(value, types):
    if isinstance(value, bool) and bool not in types:
        return False  # JSON true is not the integer 1
    return isinstance(value, types)


def _describe(types):
    return ' or '.join(_TYPE_NAMES.get(t, t.__name__) for t in types)


def _non_finite(value):
    """The first NaN/infinite float inside value, or None."""
    if isinstance(value, float) and not math.isfinite(value):
        return value
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list):
        for v in value:
            found = _non_finite(v)
            if found is not None:
                return found
    return None


def shape_problem(name, value):
    """What is wrong with ``value`` as the factor ``name``'s value, as
    the catalogue's schema describes it ('' if nothing). An Unknown,
    anywhere, is fine; a non-finite number never is.
    """
    bad = _non_finite(value)
    if bad is not None:
        return 'holds %r, which is not a finite number' % bad
    if is_unknown(value):
        return ''
    schema = FACTOR_SCHEMA.get(name) or ''
    types = _SHAPES.get(schema.partition(':')[0].strip())
    if types and not _type_ok(value, types):
        return 'expected %s, got %s' % (_describe(types),
                                        _json_kind(value))
    problem = _range_problem(value, _RANGES.get((name, None)))
    if problem:
        return problem
    if isinstance(value, dict):
        for (factor, field), ftypes in sorted(_FIELDS.items()):
            if factor != name or field not in value:
                continue
            v = value[field]
            if is_unknown(v):
                continue
            if not _type_ok(v, ftypes):
                return '%s: expected %s, got %s' % (
                    field, _describe(ftypes), _json_kind(v))
            problem = _range_problem(v, _RANGES.get((name, field)))
            if problem:
                return '%s: %s' % (field, problem)
        for (factor, field), kind in sorted(_LIST_RANGES.items()):
            items = value.get(field) if factor == name else None
            if not isinstance(items, list):
                continue
            for v in items:
                problem = (bounds.problem(v, kind)
                           if not is_unknown(v) else '')
                if problem:
                    return '%s: %s' % (field, problem)
    return ''


def _range_problem(value, kind):
    if kind is None or isinstance(value, bool) or not isinstance(
            value, (int, float)):
        return ''
    low, high = bounds.RANGES[kind]
    if low <= value <= high:
        return ''
    return '%s is out of range (%d..%g)' % (_json_kind(value), low, high)


def _json_kind(value):
    try:
        text = json.dumps(to_jsonable(value))
    except ValueError:  # an int beyond the str conversion limit
        text = '(too long to show)'
    if len(text) > 40:
        text = text[:40] + '...'
    return '%s %s' % (type(value).__name__, text)


class Profile(object):
    """The factors of one host: name -> value (possibly Unknown)."""

    def __init__(self, factors=None, schema_version=SCHEMA_VERSION):
        self.factors = dict(factors or {})
        self.schema_version = schema_version

    def __getitem__(self, name):
        return self.factors.get(
            name, Unknown('factor %s was not reported' % name))

    def __contains__(self, name):
        return name in self.factors

    def get(self, name):
        return self[name]

    def to_dict(self):
        out = {'schema_version': self.schema_version}
        for name in sorted(self.factors):
            out[name] = to_jsonable(self.factors[name])
        return out

    def to_json(self, indent=2):
        return json.dumps(self.to_dict(), indent=indent, sort_keys=True)

    @classmethod
    def from_dict(cls, data, origin='profile'):
        if not isinstance(data, dict):
            raise ProfileError('%s: a profile is a JSON object, not %s'
                               % (origin, type(data).__name__))
        version = data.get('schema_version')
        if not isinstance(version, int) or isinstance(version, bool):
            raise ProfileError('%s: schema_version is missing or not an '
                               'integer' % origin)
        if version > SCHEMA_VERSION:
            raise ProfileError(
                '%s: profile schema version %d is newer than this migcompat '
                'understands (%d); upgrade migcompat'
                % (origin, version, SCHEMA_VERSION))
        factors = {k: from_jsonable(v) for k, v in data.items()
                   if k != 'schema_version'}
        for name, value in sorted(factors.items()):
            problem = shape_problem(name, value)
            if problem:
                raise ProfileError('%s: factor %s: %s' % (origin, name,
                                                          problem))
        return cls(factors, schema_version=version)

    @classmethod
    def from_json(cls, text, origin='profile'):
        """Parse a profile document; ProfileError (bad input) naming
        origin when it is not JSON, nests too deeply, holds NaN or an
        infinity, or a factor's value is not of its catalogue shape.
        """
        try:
            data = json.loads(text, parse_constant=_refuse_constant)
        except RecursionError:
            raise ProfileError('%s: not valid JSON: nested too deeply'
                               % origin)
        except ValueError as e:
            raise ProfileError('%s: not valid JSON: %s' % (origin, e))
        try:
            json.dumps(data, ensure_ascii=False).encode('utf-8')
        except UnicodeEncodeError as e:
            raise ProfileError('%s: holds a string that is not Unicode text '
                               '(%s at position %d: a lone surrogate)'
                               % (origin, repr(e.object[e.start:e.end]),
                                  e.start))
        except RecursionError:
            raise ProfileError('%s: not valid JSON: nested too deeply'
                               % origin)
        try:
            return cls.from_dict(data, origin=origin)
        except RecursionError:
            raise ProfileError('%s: not a profile: values nested too deeply'
                               % origin)

    def __eq__(self, other):
        # Profiles compare by their JSON form: two profiles are equal when
        # they say the same thing, unknown reasons included.
        return isinstance(other, Profile) and self.to_dict() == other.to_dict()

    def __ne__(self, other):
        return not self == other

    __hash__ = None

    def __repr__(self):
        return 'Profile(%r)' % sorted(self.factors)
