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

"""The resume state of one host's drain, and the lock that makes one
drain of a host run at a time.

The state file is small JSON (what moved, what failed, which live
migrations nova accepted and the run has not seen end), rewritten
atomically (a temporary file renamed over it) after every change. It is
the operator's own file, but it is still read as input: at most
MAX_STATE_BYTES, every key a nova server ID (a UUID: it goes into nova's
URLs), every entry of the expected shape; anything else is an input
error naming the file and the entry.

An exclusive ``flock`` on ``<state file>.lock`` (which holds the pid of
its holder) is taken for the whole run: a second drain of the same host
exits 2 with "another drain of HOST is running (pid N)". The kernel
releases the lock when its holder dies, however it dies.
"""

import errno
import fcntl
import json
import os
import tempfile
import threading

from migcompat_filter.exception import InputError
from migcompat_filter.host import safefile
from migcompat_filter.placement import client as placement

STATE_VERSION = 1
#: A state file holds a few hundred bytes per server of one host.
MAX_STATE_BYTES = 1024 * 1024
_MAX_TEXT = 4096


def default_state_path(host):
    """$XDG_STATE_HOME/migcompat/drain-HOST.json (~/.local/state when
    unset).
    """
    base = os.environ.get('XDG_STATE_HOME') or os.path.join(
        os.path.expanduser('~'), '.local', 'state')
    safe = ''.join(c if c.isalnum() or c in '.-_' else '_' for c in host)
    return os.path.join(base, 'migcompat', 'drain-%s.json' % safe)


def _text_problem(value):
    if not isinstance(value, str):
        return 'expected a string, not %s' % type(value).__name__
    if len(value) > _MAX_TEXT:
        return 'longer than %d characters' % _MAX_TEXT
    return None


def _flight_problem(value):
    if not isinstance(value, dict):
        return ('expected {"target": HOST, "after": MIGRATION ID}, not %s'
                % type(value).__name__)
    extra = set(value) - {'target', 'after'}
    if extra:
        return 'unknown key(s) %s' % ', '.join(sorted(map(repr, extra)))
    problem = _text_problem(value.get('target'))
    if problem:
        return '"target": %s' % problem
    after = value.get('after')
    if (not isinstance(after, int) or isinstance(after, bool) or
            not 0 <= after < 2 ** 63):
        return '"after": expected a migration id (an integer >= 0)'
    return None


#: key -> (what each value must be, its check)
_SECTIONS = (('migrated', _text_problem), ('failed', _text_problem),
             ('in_flight', _flight_problem))


class State(object):
    """The resume state of one host's drain."""

    def __init__(self, path, host):
        self.path = path
        self.host = host
        self.migrated = {}     # server id -> destination
        self.failed = {}       # server id -> why
        self.in_flight = {}    # server id -> {target, after}
        self._lock = threading.Lock()

    @classmethod
    def load(cls, path, host):
        """The state at path (empty when the file does not exist yet);
        InputError naming --state-file and what is wrong.
        """
        state = cls(path, host)
        check_directory(path)
        if not os.path.lexists(path):
            return state
        try:
            data = safefile.read_regular(path, MAX_STATE_BYTES,
                                         name='--state-file %s' % path)
            data = json.loads(data.decode('utf-8'))
        except safefile.FileRefused as e:
            raise InputError(str(e))
        except (ValueError, RecursionError) as e:
            raise InputError('--state-file %s: not a drain state file: %s'
                             % (path, e))
        if not isinstance(data, dict) or data.get('version') != \
                STATE_VERSION:
            raise InputError('--state-file %s: not a version %d drain '
                             'state file' % (path, STATE_VERSION))
        if data.get('host') != host:
            raise InputError('--state-file %s: records a drain of %r, not '
                             'of %r' % (path, str(data.get('host'))[:200],
                                        host))
        for key, check in _SECTIONS:
            section = data.get(key, {})
            if not isinstance(section, dict):
                raise InputError('--state-file %s: %r is not an object'
                                 % (path, key))
            for sid, value in section.items():
                if not placement.is_uuid(sid):
                    raise InputError(
                        '--state-file %s: %s: %r is not a nova server ID '
                        '(a UUID)' % (path, key, sid[:80]))
                problem = check(value)
                if problem:
                    raise InputError('--state-file %s: %s[%s]: %s'
                                     % (path, key, sid, problem))
            setattr(state, key, dict(section))
        return state

    def to_dict(self):
        return {'version': STATE_VERSION, 'host': self.host,
                'migrated': self.migrated, 'failed': self.failed,
                'in_flight': self.in_flight}

    def save(self):
        with self._lock:
            directory = os.path.dirname(os.path.abspath(self.path))
            fd, tmp = tempfile.mkstemp(prefix='.drain-', dir=directory)
            try:
                with os.fdopen(fd, 'w', encoding='utf-8') as f:
                    json.dump(self.to_dict(), f, indent=1, sort_keys=True)
                    f.flush()
                    os.fsync(f.fileno())
                os.replace(tmp, self.path)
            except BaseException:
                if os.path.exists(tmp):
                    os.unlink(tmp)
                raise

    def update(self, server_id, migrated=None, failed=None, in_flight=None):
        with self._lock:
            self.in_flight.pop(server_id, None)
            self.failed.pop(server_id, None)
            if migrated is not None:
                self.migrated[server_id] = migrated
            if failed is not None:
                self.failed[server_id] = failed
            if in_flight is not None:
                self.in_flight[server_id] = in_flight
        self.save()


def check_directory(path):
    """Create the state file's directory; InputError naming --state-file
    when it cannot be (a regular file in the way, no permission).
    """
    directory = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(directory, exist_ok=True)
    except OSError as e:
        why = ('a part of it is a file, not a directory'
               if e.errno in (errno.EEXIST, errno.ENOTDIR)
               else e.strerror or str(e))
        raise InputError('--state-file %s: its directory %s cannot be '
                         'created: %s' % (path, directory, why))
    if not os.path.isdir(directory):
        raise InputError('--state-file %s: %s is not a directory'
                         % (path, directory))


class DrainLock(object):
    """An exclusive flock on ``<state file>.lock`` for one drain run."""

    def __init__(self, state_path, host):
        self.path = state_path + '.lock'
        self.host = host
        self._fd = None

    def __enter__(self):
        check_directory(self.path)
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT |
                         getattr(os, 'O_CLOEXEC', 0) |
                         getattr(os, 'O_NOFOLLOW', 0), 0o600)
        except OSError as e:
            raise InputError('--state-file: lock file %s cannot be opened: '
                             '%s' % (self.path, e.strerror or e))
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            holder = _read_pid(fd)
            os.close(fd)
            if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise InputError(
                    'another drain of %s is running%s (lock %s); wait for '
                    'it to end, or stop it' % (
                        self.host, ' (pid %s)' % holder if holder else '',
                        self.path))
            raise InputError('--state-file: cannot lock %s: %s'
                             % (self.path, e.strerror or e))
        os.ftruncate(fd, 0)
        os.write(fd, b'%d\n' % os.getpid())
        self._fd = fd
        return self

    def __exit__(self, *exc):
        if self._fd is not None:
            os.close(self._fd)  # releases the lock
            self._fd = None
        return False


def _read_pid(fd):
    try:
        text = os.pread(fd, 32, 0).decode('ascii', 'replace').strip()
    except OSError:
        return None
    return text if text.isdigit() else None
