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

A small JSON state file (migcompat_filter.fleet.drain_state) records
what moved, what failed and which migrations nova accepted; it is
rewritten atomically after every change. A request is recorded only
after nova accepted it (HTTP 202). The next run reads it: a migration
still in flight is polled again (not requested twice; one that landed
meanwhile is recorded); a recorded one that nova does not know (no
migration for that server newer than the record, and the server still on
the source and not migrating) is treated as not started; a server nova
is already migrating when no record says so (the run that asked was
stopped before it could write) is followed, not asked again. The server
that failed is tried first, then the rest of the plan.

``Runner.stop()`` (the command calls it on SIGTERM) lets the request in
progress finish and be recorded, starts nothing new and stops polling:
the migrations nova is running stay recorded in flight for the next run.
"""

import concurrent.futures
import threading
import time

from migcompat_filter.fleet import drain_state
from migcompat_filter.fleet import nova_api

DEFAULT_TIMEOUT = 1800.0
DEFAULT_POLL = 2.0

# The state file and its lock live in drain_state; these names stay here.
STATE_VERSION = drain_state.STATE_VERSION
State = drain_state.State
default_state_path = drain_state.default_state_path

#: Seconds between two looks of the main thread at a stop request.
_WAKE = 0.5

#: A server task state of a live migration under way (nova sets it before
#: it answers the request, and clears it when the migration ends or
#: fails).
MIGRATING = 'migrating'


class Result(object):
    def __init__(self):
        self.moved = []          # (server id, name, host)
        self.failed = []         # (server id, name, why)
        self.not_started = []    # (server id, name, planned host)
        self.left_running = []   # (server id, name, target): stop()ped
        self.stopped = False


class _Stopped(Exception):
    """The run was stopped while this migration was still running."""


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
        self._stop = threading.Event()

    def stop(self):
        """Stop soon: the request in progress is finished and recorded,
        nothing new starts, no migration is waited for. Safe to call
        from a signal handler.
        """
        self._stop.set()

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
                while (pending and not stop and not self._stop.is_set()
                       and len(running) < self.parallel):
                    move = pending.pop(0)
                    running[pool.submit(self.one, *move)] = move
                if not running:
                    break
                # Wake up now and then: Python runs a signal handler (SIGTERM
                # -> stop()) only when the main thread runs.
                done, _ = concurrent.futures.wait(
                    running, timeout=_WAKE,
                    return_when=concurrent.futures.FIRST_COMPLETED)
                for fut in done:
                    sid, name, target = running.pop(fut)
                    ok, info = fut.result()
                    if ok is None:
                        result.left_running.append((sid, name, target))
                        self.progress('%s (%s): left migrating to %s (the '
                                      'next run polls it)'
                                      % (name, sid, target))
                    elif ok:
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
        result.stopped = self._stop.is_set()
        return result

    def one(self, server_id, name, target):
        """(True, host it is on), (False, why) or (None, why) when the run
        was stopped while nova still migrates it; never raises.
        """
        try:
            return self._one(server_id, name, target)
        except _Stopped as e:
            return None, str(e)
        except nova_api.NovaError as e:
            why = str(e)
        except Exception as e:  # a run must end with its summary
            why = 'unexpected %s: %s' % (type(e).__name__, e)
        self.state.update(server_id, failed=why)
        return False, why

    def _one(self, server_id, name, target):
        flight = self.state.in_flight.get(server_id)
        if flight is not None:
            if self._lost(server_id, flight):
                self.progress('%s (%s): the migration an earlier run asked '
                              'for was never started by nova; asking again'
                              % (name, server_id))
                self.state.update(server_id)
                flight = None
            else:
                self.progress('%s (%s): polling the migration to %s '
                              'started by an earlier run'
                              % (name, server_id, flight['target']))
        if flight is None:
            server = self.nova.server_by_id(server_id)
            node = server.get('OS-EXT-SRV-ATTR:hypervisor_hostname')
            if node and node != self.source_node:
                # Moved since the plan was made (a migration a stopped run
                # asked for has landed): nothing to ask.
                self.state.update(server_id, migrated=node)
                return True, node
            flight = self._request(server_id, name, target)
        return self._wait(server_id, flight)

    def _request(self, server_id, name, target):
        """Ask nova to move the server, unless nova already is (a run
        stopped between nova's answer and its record); the flight
        record, written once nova accepted.
        """
        known = self.nova.live_migrations(server_id)
        running = [m for m in known
                   if m.get('status') not in nova_api.MIGRATION_DONE
                   and m.get('status') not in nova_api.MIGRATION_FAILED]
        if running:
            mig = running[-1]
            flight = {'target': mig.get('dest_compute') or target,
                      'after': max(0, (mig.get('id') or 1) - 1)}
            self.progress('%s (%s): nova is already migrating it (migration '
                          '%s, asked by a run that was stopped); following '
                          'it' % (name, server_id, mig.get('id')))
            self.state.update(server_id, in_flight=flight)
            return flight
        after = max([m.get('id') or 0 for m in known] or [0])
        flight = {'target': target, 'after': after}
        self.progress('%s (%s): live-migrating to %s'
                      % (name, server_id, target))
        self.nova.live_migrate(server_id, target)
        # Only now: a record of a request nova never accepted would be
        # polled for nothing by every later run.
        self.state.update(server_id, in_flight=flight)
        return flight

    def _lost(self, server_id, flight):
        """Whether a recorded request is unknown to nova: no migration
        newer than the record, and the server on the source, not
        migrating.
        """
        if any((m.get('id') or 0) > flight['after']
               for m in self.nova.live_migrations(server_id)):
            return False
        server = self.nova.server_by_id(server_id)
        return (server.get('OS-EXT-SRV-ATTR:hypervisor_hostname') ==
                self.source_node and
                server.get('OS-EXT-STS:task_state') != MIGRATING and
                server.get('status') != 'MIGRATING')

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
            elif self._lost(server_id, flight):
                why = ('nova accepted the live migration to %s but never '
                       'started it (no migration record; the server is '
                       'still on %s and not migrating)'
                       % (flight['target'], self.source_node))
                self.state.update(server_id, failed=why)
                return False, why
            if self._stop.is_set():
                raise _Stopped('stopped while nova migrates it (%s)'
                               % status)
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
