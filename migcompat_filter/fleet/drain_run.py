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

"""Carry a drain plan out through nova's API, and resume it.

Each planned server is live-migrated to its planned host without forcing
it (nova's scheduler, our filter included, still decides), N at a time.
Each request is followed by polling the server's live migration until
nova says it completed or failed (or the timeout passes). The first
failure stops the run: nothing new starts, what is in flight finishes.

A small JSON state file records what moved, what failed and what was in
flight; it is rewritten atomically (a temporary file renamed over it)
after every change. The next run reads it: a migration still in flight
is polled again (not requested twice; one that landed meanwhile is
recorded), the server that failed is tried first, then the rest of the
plan.
"""

import concurrent.futures
import json
import os
import tempfile
import threading
import time

from migcompat_filter.exception import InputError
from migcompat_filter.fleet import nova_api

STATE_VERSION = 1
DEFAULT_TIMEOUT = 1800.0
DEFAULT_POLL = 2.0


def default_state_path(host):
    """$XDG_STATE_HOME/migcompat/drain-HOST.json (~/.local/state when
    unset).
    """
    base = os.environ.get('XDG_STATE_HOME') or os.path.join(
        os.path.expanduser('~'), '.local', 'state')
    safe = ''.join(c if c.isalnum() or c in '.-_' else '_' for c in host)
    return os.path.join(base, 'migcompat', 'drain-%s.json' % safe)


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
        state = cls(path, host)
        if not os.path.lexists(path):
            return state
        if not os.path.isfile(path):
            raise InputError('--state-file %s: not a regular file' % path)
        try:
            with open(path, encoding='utf-8') as f:
                data = json.load(f)
        except (OSError, ValueError) as e:
            raise InputError('--state-file %s: not a drain state file: %s'
                             % (path, e))
        if not isinstance(data, dict) or data.get('version') != \
                STATE_VERSION:
            raise InputError('--state-file %s: not a version %d drain '
                             'state file' % (path, STATE_VERSION))
        if data.get('host') != host:
            raise InputError('--state-file %s: records a drain of %r, not '
                             'of %r' % (path, data.get('host'), host))
        for key in ('migrated', 'failed', 'in_flight'):
            if not isinstance(data.get(key, {}), dict):
                raise InputError('--state-file %s: %r is not an object'
                                 % (path, key))
        state.migrated = dict(data.get('migrated') or {})
        state.failed = dict(data.get('failed') or {})
        state.in_flight = dict(data.get('in_flight') or {})
        return state

    def to_dict(self):
        return {'version': STATE_VERSION, 'host': self.host,
                'migrated': self.migrated, 'failed': self.failed,
                'in_flight': self.in_flight}

    def save(self):
        with self._lock:
            directory = os.path.dirname(os.path.abspath(self.path))
            os.makedirs(directory, exist_ok=True)
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


class Result(object):
    def __init__(self):
        self.moved = []          # (server id, name, host)
        self.failed = []         # (server id, name, why)
        self.not_started = []    # (server id, name, planned host)


class Runner(object):
    """Live-migrates planned servers off one host."""

    def __init__(self, nova, source_node, state, parallel=1,
                 timeout=DEFAULT_TIMEOUT, poll=DEFAULT_POLL, progress=None,
                 clock=time.monotonic, sleep=time.sleep):
        self.nova = nova
        self.source_node = source_node
        self.state = state
        self.parallel = max(1, int(parallel))
        self.timeout = timeout
        self.poll = poll
        self.progress = progress or (lambda text: None)
        self.clock = clock
        self.sleep = sleep

    def order(self, moves):
        """moves [(server id, name, target)] in the order to run them:
        in flight first, then the one that failed, then the plan's.
        """
        first = [m for m in moves if m[0] in self.state.in_flight]
        then = [m for m in moves if m[0] in self.state.failed
                and m not in first]
        return first + then + [m for m in moves
                               if m not in first and m not in then]

    def run(self, moves):
        result = Result()
        # A migration an earlier run started for a server no longer on
        # the host (it landed while no run was watching): record it.
        planned = {m[0] for m in moves}
        landed = [(sid, sid, flight.get('target'))
                  for sid, flight in sorted(self.state.in_flight.items())
                  if sid not in planned]
        pending = landed + list(self.order(moves))
        stop = False
        total = len(pending)
        with concurrent.futures.ThreadPoolExecutor(self.parallel) as pool:
            running = {}
            while pending or running:
                while pending and not stop and len(running) < self.parallel:
                    move = pending.pop(0)
                    running[pool.submit(self.one, *move)] = move
                if not running:
                    break
                done, _ = concurrent.futures.wait(
                    running, return_when=concurrent.futures.FIRST_COMPLETED)
                for fut in done:
                    sid, name, target = running.pop(fut)
                    ok, info = fut.result()
                    if ok:
                        result.moved.append((sid, name, info))
                        self.progress('[%d/%d] %s (%s): on %s'
                                      % (len(result.moved), total, name,
                                         sid, info))
                    else:
                        result.failed.append((sid, name, info))
                        self.progress('FAILED %s (%s) to %s: %s'
                                      % (name, sid, target, info))
                        stop = True
        result.not_started = [m for m in pending]
        return result

    def one(self, server_id, name, target):
        """(True, host it is on) or (False, why); never raises."""
        try:
            return self._one(server_id, name, target)
        except nova_api.NovaError as e:
            why = str(e)
        except Exception as e:  # a run must end with its summary
            why = 'unexpected %s: %s' % (type(e).__name__, e)
        self.state.update(server_id, failed=why)
        return False, why

    def _one(self, server_id, name, target):
        flight = self.state.in_flight.get(server_id)
        if flight is None:
            known = self.nova.live_migrations(server_id)
            after = max([m.get('id') or 0 for m in known] or [0])
            flight = {'target': target, 'after': after}
            self.state.update(server_id, in_flight=flight)
            self.progress('%s (%s): live-migrating to %s'
                          % (name, server_id, target))
            self.nova.live_migrate(server_id, target)
        else:
            self.progress('%s (%s): polling the migration to %s started '
                          'by an earlier run' % (name, server_id,
                                                 flight['target']))
        return self._wait(server_id, flight)

    def _wait(self, server_id, flight):
        deadline = self.clock() + self.timeout
        status = 'not created yet'
        while True:
            migs = [m for m in self.nova.live_migrations(server_id)
                    if (m.get('id') or 0) > flight['after']]
            if migs:
                mig = migs[-1]
                status = mig.get('status')
                if status in nova_api.MIGRATION_DONE:
                    return self._landed(server_id, mig)
                if status in nova_api.MIGRATION_FAILED:
                    why = ('nova\'s migration %s to %s ended %s'
                           % (mig.get('id'), mig.get('dest_compute') or
                              flight['target'], status))
                    self.state.update(server_id, failed=why)
                    return False, why
            if self.clock() >= deadline:
                # Left in flight: the next run polls it again.
                return False, ('migration still %s after %.0f s (--timeout);'
                               ' the next run polls it again'
                               % (status, self.timeout))
            self.sleep(self.poll)

    def _landed(self, server_id, mig):
        server = self.nova.server_by_id(server_id)
        node = server.get('OS-EXT-SRV-ATTR:hypervisor_hostname')
        if node == self.source_node:
            why = ('nova\'s migration %s completed but the server is still '
                   'on %s' % (mig.get('id'), node))
            self.state.update(server_id, failed=why)
            return False, why
        self.state.update(server_id, migrated=node)
        return True, node
