"""The host factor profile: plain data that every other part consumes.

Data flows one way: a host source is read into a :class:`Profile`, a profile
is encoded as traits, traits are decoded back into a profile, and the rules
engine compares two profiles. This module is the contract between them.

A profile maps a factor name (see ``FACTOR_SCHEMA`` below) to the factor's
value. Any value, or any part of a value, may be :class:`Unknown`: a value
that could not be read, carrying the reason. Unknown is never equal to
anything, including another Unknown.

JSON form (``migcompat profile -f json``)::

    {"schema_version": 1,
     "kernel_version": "6.18.44-fc-v595",
     "firmware_version": {"unknown": true, "reason": "no DMI data: ..."},
     ...}
"""

import json

from migcompat_filter.exception import InputError
from migcompat_filter.factors import catalogue

#: Bumped when a factor's value changes shape. Readers refuse a newer one.
SCHEMA_VERSION = 1

#: factor -> the shape of its value, from the factor catalogue
#: (documentation as data: ``migcompat factors`` prints it, and tests check
#: readers against it). A plugin factor's value must be JSON data.
FACTOR_SCHEMA = catalogue.Derived(catalogue.schema)


class Unknown(object):
    """A factor value that could not be read, and why.

    Deliberately unequal to everything (itself included) so that no code
    path can ever treat two unknowns as "the same".
    """

    __slots__ = ('reason',)

    def __init__(self, reason):
        self.reason = str(reason)

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
        return cls(factors, schema_version=version)

    @classmethod
    def from_json(cls, text, origin='profile'):
        try:
            data = json.loads(text)
        except ValueError as e:
            raise ProfileError('%s: not valid JSON: %s' % (origin, e))
        return cls.from_dict(data, origin=origin)

    def __eq__(self, other):
        # Profiles compare by their JSON form: two profiles are equal when
        # they say the same thing, unknown reasons included.
        return isinstance(other, Profile) and self.to_dict() == other.to_dict()

    def __ne__(self, other):
        return not self == other

    __hash__ = None

    def __repr__(self):
        return 'Profile(%r)' % sorted(self.factors)
