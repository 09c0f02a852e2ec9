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

"""The reporter's kept values: never publish unknown over a known value.

A libvirtd restart, a timeout or a permission error makes a factor
unreadable for a moment. Publishing it as unknown would make the host
refuse every migration until the next report, exactly during an upgrade.
So ``migcompat profile publish`` keeps, in a small state file, the last
good value of every factor of this host, and when a factor is unknown *for a
transient cause* (:attr:`migcompat_filter.profile.Unknown.transient`) it
publishes the kept value instead and exits 1 naming the factor and the
cause.

The rule for a factor that is really gone (libvirt removed, not
restarting): its value is kept for at most ``max_runs`` consecutive
reports (``[migcompat] kept_value_max_runs``); the next report publishes
it as unknown. ``report --forget-kept`` publishes what is read now at
once. An unknown with a cause that does not pass by itself (a file that
says something impossible) is published as unknown at once and its kept
value dropped.

The state file is JSON, written atomically; an unreadable or malformed
one is named in a warning and treated as empty (the next good read
rewrites it), never trusted in part.
"""

import datetime
import json
import os
import tempfile

from migcompat_filter import profile as profile_mod

STATE_VERSION = 1
#: A state file holds one value per factor: a few KiB. Larger is not ours.
MAX_STATE_BYTES = 4 * 1024 * 1024
DEFAULT_MAX_RUNS = 24


class StateProblem(Exception):
    """The state file cannot be read or written; str() names it."""


def _iso(when):
    return when.strftime('%Y-%m-%dT%H:%M:%SZ')


def _parse_iso(text):
    return datetime.datetime.strptime(text, '%Y-%m-%dT%H:%M:%SZ').replace(
        tzinfo=datetime.timezone.utc)


def bucket(since, unit='hour'):
    """``since`` (ISO text) truncated to the hour (or day): the form
    published, so that hosts kept since the same hour share a note.
    """
    when = _parse_iso(since)
    if unit == 'day':
        return when.strftime('%Y-%m-%d')
    return when.strftime('%Y-%m-%dT%H:00Z')


def age_text(since, now):
    """'3 h', '2 d', 'under 1 h': how old a kept value is."""
    hours = int((now - _parse_iso(since)).total_seconds() // 3600)
    if hours < 1:
        return 'under 1 h'
    if hours < 48:
        return '%d h' % hours
    return '%d d' % (hours // 24)


def load(path):
    """{factor: entry} of the state file; {} when it does not exist.

    StateProblem naming the file when it is unreadable or not a state
    file (the caller warns and starts afresh).
    """
    from migcompat_filter.host import safefile
    if not os.path.lexists(path):
        return {}
    try:
        data = safefile.read_regular(path, MAX_STATE_BYTES, name=path)
        doc = json.loads(data.decode('utf-8'))
    except safefile.FileRefused as e:
        raise StateProblem(str(e))
    except (ValueError, RecursionError) as e:
        raise StateProblem('%s: not a kept-values file: %s' % (path, e))
    if (not isinstance(doc, dict) or doc.get('version') != STATE_VERSION or
            not isinstance(doc.get('factors'), dict)):
        raise StateProblem('%s: not a kept-values file (version %d)'
                           % (path, STATE_VERSION))
    out = {}
    for name, entry in doc['factors'].items():
        problem = _entry_problem(name, entry)
        if problem:
            raise StateProblem('%s: factor %s: %s' % (path, name, problem))
        out[name] = entry
    return out


def _entry_problem(name, entry):
    if not isinstance(entry, dict) or set(entry) != {'value', 'read_at',
                                                     'misses'}:
        return 'expected {"value", "read_at", "misses"}'
    if not isinstance(entry['read_at'], str):
        return 'read_at is not a time'
    try:
        _parse_iso(entry['read_at'])
    except ValueError:
        return 'read_at %r is not a UTC time' % entry['read_at'][:40]
    misses = entry['misses']
    if not isinstance(misses, int) or isinstance(misses, bool) or not (
            0 <= misses <= 10 ** 6):
        return 'misses is not a count'
    value = profile_mod.from_jsonable(entry['value'])
    if profile_mod.is_unknown(value):
        return 'the kept value is unknown'
    return profile_mod.shape_problem(name, value)


def save(path, state):
    """Write the state atomically (a temporary file, then a rename)."""
    directory = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(directory, mode=0o755, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix='.last-good-', dir=directory)
        with os.fdopen(fd, 'w') as f:
            json.dump({'version': STATE_VERSION, 'factors': state}, f,
                      sort_keys=True, indent=1)
        os.replace(tmp, path)
    except OSError as e:
        raise StateProblem('%s: cannot be written: %s'
                           % (path, e.strerror or e))


class Outcome(object):
    """What apply() did.

    ``profile``: the profile to publish; ``kept``: {factor: (read_at,
    cause)} published from the state; ``unread``: {factor: cause},
    transiently unknown with nothing to keep (published unknown);
    ``expired``: {factor: (cause, why the kept value was dropped)},
    now published unknown;
    ``state``: the new state to save.
    """

    def __init__(self):
        self.profile = None
        self.kept = {}
        self.unread = {}
        self.expired = {}
        self.state = {}

    @property
    def failed(self):
        """Whether any factor could not be read for a transient cause."""
        return bool(self.kept or self.unread or self.expired)

    def note(self, unit='hour'):
        """The ``kept`` entry of the host's schema-3 note: {factor: since,
        bucketed}; {} when nothing is kept.
        """
        return {name: bucket(read_at, unit)
                for name, (read_at, _) in sorted(self.kept.items())}

    def messages(self, now):
        """One line per factor not read this time, for stderr."""
        lines = []
        for name, (read_at, cause) in sorted(self.kept.items()):
            lines.append('factor %s: not read (%s); published the value '
                         'read at %s (%s old) instead of unknown'
                         % (name, cause, read_at, age_text(read_at, now)))
        for name, cause in sorted(self.unread.items()):
            lines.append('factor %s: not read (%s); no earlier value to '
                         'keep, published as unknown' % (name, cause))
        for name, (cause, why) in sorted(self.expired.items()):
            lines.append('factor %s: not read (%s); its kept value was '
                         'dropped (%s), published as unknown'
                         % (name, cause, why))
        return lines


def apply(profile, state, now, max_runs=DEFAULT_MAX_RUNS, forget=False):
    """Replace transiently unknown factors of profile by their kept value.

    ``state``: {factor: {"value", "read_at", "misses"}} from load();
    ``now``: an aware datetime; ``max_runs``: how many consecutive
    reports a value is kept for; ``forget``: publish what was read (the
    operator says the missing factors are really gone).
    """
    out = Outcome()
    factors = {}
    transient = dict(getattr(profile, 'transient', None) or {})
    for name, value in sorted(profile.factors.items()):
        if profile_mod.is_unknown(value) and value.transient:
            transient.setdefault(name, value.reason)
    for name, value in sorted(profile.factors.items()):
        entry = state.get(name)
        factors[name] = value
        if name not in transient:
            if not profile_mod.has_unknown(value):
                out.state[name] = {'value': profile_mod.to_jsonable(value),
                                   'read_at': _iso(now), 'misses': 0}
            continue  # read, or honestly unknown: its old value goes
        cause = transient[name]
        if entry is None:
            out.unread[name] = cause
        elif forget:
            out.expired[name] = (cause, 'report --forget-kept')
        elif entry['misses'] + 1 > max_runs:
            out.expired[name] = (
                cause, 'kept for %d reports in a row, [migcompat] '
                'kept_value_max_runs' % entry['misses'])
        else:
            factors[name] = profile_mod.from_jsonable(entry['value'])
            out.kept[name] = (entry['read_at'], cause)
            out.state[name] = dict(entry, misses=entry['misses'] + 1)
    out.profile = profile_mod.Profile(factors, profile.schema_version)
    return out
