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

"""When the scheduler re-reads the host profiles, which process reads,
and which answers it does not believe at once.

**When.** One daemon thread per serving process (the *refresher*) polls
the change marker (placement/change_marker.py: one small GET of one
resource provider) every ``profile_change_poll_interval`` seconds
(default 5) and reads the whole fleet only when the marker's name or
generation moved since its last read (every reporter renames it after it
wrote a host's traits); so a new or changed profile is judged within one poll
interval plus one read of the reporter's write. A full read also starts
every ``profile_refresh_interval`` seconds (default 300: the safety net
for writes that bumped nothing) by the cache's clock, at least
MIN_INTERVAL after the last one ended. A failed poll changes nothing (the
next tick polls again). Requests never wait for either. ``wake()`` asks
for a read now; ``tick()`` only makes the refresher look at its clock
again (tests drive it with a fake clock that way).

**Who.** nova-scheduler builds its filters (and starts the refresher) in
its parent process, then forks its workers. A fork alone changes nothing:
a helper subprocess (``uptime``, a ``privsep`` helper, anything run with
``subprocess``) never serves a request, and the process that forked it
keeps reading on time. A forked child starts its own refresher at its
first request (any request nova's filter sees, live migration or not) and
records in a page of memory shared with every process forked from the
same start that it serves; the process that started the refresher stops
reading only once some *other* process of that family served a request
while it served none itself, and reads again at its own next request.

**Which answers.** A complete read that would make most of the hosts the
last reading grouped vanish (their traits gone), or leave no host with
traits of ours where there were some (a valid ``{"traits": []}``), is
*suspicious*: the previous snapshot stays in use, a WARNING names the
requests whose answers shrank, and the refresher reads again after
``RETRY_AFTER`` at most. A second complete read with the same answer is
believed (the fleet really changed, e.g. every reporter was removed).
"""

import mmap
import os
import struct
import threading
import weakref

from oslo_log import log as logging

from migcompat_filter.placement import change_marker
from migcompat_filter.scheduler import reads

LOG = logging.getLogger('migcompat_filter.scheduler.profiles')

#: A reading that keeps fewer than this share of the hosts the previous
#: reading grouped is suspicious.
KEEP_AT_LEAST = 0.5

#: The change marker's URL, and its generation when it does not exist.
MARKER_URL = '/resource_providers/%s' % change_marker.UUID
ABSENT = 'absent'


class ServingMark(object):
    """A few bytes of memory shared by a process and every process it
    forks afterwards: the pid of the last forked process that served a
    request (0: none).
    """

    _FORMAT = '=q'

    def __init__(self):
        self._page = mmap.mmap(-1, struct.calcsize(self._FORMAT))

    def mark(self, pid):
        self._page[:] = struct.pack(self._FORMAT, pid)

    def last(self):
        return struct.unpack(self._FORMAT, self._page[:])[0]


def fingerprint(fleet):
    """What two readings must share to be "the same answer"."""
    return (frozenset(fleet.traited), frozenset(fleet.members))


def suspicious(previous, fleet):
    """Why a complete reading fleet is not believed at once after the
    reading previous, or None.
    """
    if not previous.complete or not previous.traited:
        return None
    if not fleet.traited:
        return ('no host carries traits of ours any more (%d did in the '
                'last reading)' % len(previous.traited))
    grouped = previous.host_key
    if not grouped:
        return None
    gone = sum(1 for u in grouped if u not in fleet.traited)
    if gone > len(grouped) * (1 - KEEP_AT_LEAST):
        return ('%d of the %d hosts the last reading grouped have no '
                'traits of ours any more' % (gone, len(grouped)))
    return None


def shrunk(before, now, shown=3):
    """The listing requests (URLs) whose answers listed fewer items than
    in the previous reading, then those not sent again (at most shown).
    """
    urls = [url for url, n in sorted(before.items())
            if url in now and now[url] < n]
    urls += [url for url in sorted(before) if url not in now]
    text = ', '.join('GET %s' % u for u in urls[:shown])
    if len(urls) > shown:
        text += ' and %d more' % (len(urls) - shown)
    return text or 'every request answered as before'


class Refresher(object):
    """The refresher thread of a ProfileCache (mixed into it): its
    schedule, fork handling and the waits tests use.

    The cache provides clock, ttl (seconds between reads), background,
    read_timeout, _get(), refresh_now() and snapshot serials.
    """

    #: Seconds between refresh attempts while Placement fails, and before
    #: a suspicious answer is read again (at most).
    RETRY_AFTER = 30.0
    #: The shortest pause between two reads.
    MIN_INTERVAL = 1.0

    def _init_refresher(self):
        self._start_lock = threading.Lock()
        self._first = threading.Event()        # a first read has ended
        self._wake = threading.Event()
        self._read_now = False
        self._stopped = threading.Event()
        self._reads = threading.Condition()    # notified after each read
        self._thread = None
        self._pid = None                       # the refresher's process
        self._fork_hooks = False
        self._mark = None                      # ServingMark, from start()
        self._starter = None                   # pid that called start()
        self._served = False                   # this process served
        self._marked = False                   # ... and said so
        self._resting = False
        self._due = None                       # clock() of the next read
        self._poll_due = None                  # ... of the next poll
        self._seen = None     # marker generation before the last read
        self._poll_failing = False
        #: Seconds between two polls of the change marker (0: none).
        self.poll_interval = 5
        #: Reads and polls ended in this process (wait_for_read/_poll).
        self.reads_done = 0
        self.polls_done = 0

    # -- starting, forks --------------------------------------------------

    def start(self):
        """Start the refresher now (nova-scheduler's start-up); a request
        starts it too when nothing did (see the module docstring).
        """
        if self.background and self._mark is None:
            try:
                self._mark = ServingMark()
                self._starter = os.getpid()
            except Exception as e:  # no shared page: every process reads
                LOG.debug('migcompat: no shared page (%s)', e)
        self._ensure_started()
        if not self._fork_hooks and self.background:
            self._fork_hooks = True
            ref = weakref.ref(self)
            os.register_at_fork(
                after_in_child=lambda: _call(ref, '_after_fork_in_child'))

    def _after_fork_in_child(self):
        # The parent's refresher may have held these at the fork; the
        # thread that would release them does not exist here. Nothing
        # starts here: most forks exec another program at once.
        self._renew_locks()
        self._start_lock = threading.Lock()
        self._wake = threading.Event()
        self._reads = threading.Condition()
        first, self._first = self._first, threading.Event()
        snap = self._snapshot
        # What the parent read is this process's until its own first
        # read; a request may wait for that one (initial_profile_wait)
        # when the inherited reading is older than one interval.
        if first.is_set() and snap.read_at is not None and \
                self.clock() - snap.read_at <= max(self.ttl,
                                                   self.MIN_INTERVAL):
            self._first.set()
        self._served = self._marked = self._resting = False
        self._due = self._poll_due = None

    def _renew_locks(self):
        """The cache's own locks, new in a forked child (ProfileCache)."""

    def serving(self):
        """A request in this process: read from now on (a forked worker's
        first request starts its refresher; a resting process reads
        again). Cheap: called for every request nova's filter sees.
        """
        self._served = True
        pid = os.getpid()
        if not self._marked and self._mark is not None and \
                pid != self._starter:
            self._marked = True
            try:
                self._mark.mark(pid)
            except Exception:  # never break a request
                pass
        if self._resting:
            self._resting = False
            self._wake.set()
        self._ensure_started()

    def _others_serve(self):
        """True in the process that started the refresher when another
        process forked from it served a request and this one none.
        """
        if self._served or self._mark is None or \
                os.getpid() != self._starter:
            return False
        last = self._mark.last()
        return last != 0 and last != self._starter

    def _ensure_started(self):
        """Start the refresher thread once per process (never blocks)."""
        if not self.background or self._stopped.is_set():
            return
        pid = os.getpid()
        if self._thread is not None and self._pid == pid:
            return
        # Another request starting it right now: go on without waiting.
        if not self._start_lock.acquire(blocking=False):
            return
        try:
            if self._thread is None or self._pid != pid:  # new, or forked
                thread = threading.Thread(
                    target=self._run, name='migcompat-profile-refresher',
                    daemon=True)
                thread.start()
                self._thread, self._pid = thread, pid
        finally:
            self._start_lock.release()

    # -- the schedule -----------------------------------------------------

    def _run(self):
        while not self._stopped.is_set():
            if self._others_serve():
                if not self._resting:
                    LOG.info('migcompat: worker process %d serves the '
                             'requests; process %d reads the host '
                             'profiles again at its own next request',
                             self._mark.last(), os.getpid())
                self._resting = True
            if self._resting:
                self._wake.wait()
                self._wake.clear()
                continue
            now = self.clock()
            if self._read_now or self._due is None or now >= self._due:
                self._read_now = False
                polled = self.poll_interval > 0
                self._read(self.poll() if polled else None)
                if polled:
                    self._polled()
                continue
            until = self._due
            if self.poll_interval > 0:
                if self._poll_due is None or now >= self._poll_due:
                    self._poll_due = now + self.poll_interval
                    generation = self.poll()
                    if generation is not None and generation != self._seen:
                        self._read(generation)
                    self._polled()
                    continue
                until = min(until, self._poll_due)
            self._wake.wait(until - now)
            self._wake.clear()

    def _read(self, generation):
        """A full read; generation: the marker's, polled just before."""
        if generation is not None:
            self._seen = generation
        started = self.clock()
        try:
            ok = self.refresh_now()
        except Exception:  # never let the thread die
            LOG.exception('migcompat: refreshing the host profiles '
                          'failed')
            ok = False
        # Reads start one interval apart (a write is then seen at
        # most one interval plus one read later), and at least
        # MIN_INTERVAL after the last one ended.
        pause = max(self.ttl, self.MIN_INTERVAL)
        if not ok:
            pause = min(self.RETRY_AFTER, pause)
        self._due = max(started + pause,
                        self.clock() + self.MIN_INTERVAL)
        self._poll_due = self.clock() + self.poll_interval

    def poll(self):
        """The change marker's state now, (generation, name) (ABSENT: no
        marker yet), or None when Placement did not answer (nothing
        changes then). A bump renames the marker (one request for the
        reporter); the generation moves too when anything else writes it.
        """
        try:
            body = self._get(MARKER_URL, '1.14',
                             self.clock() + self.read_timeout)
            if not isinstance(body, dict):
                body = {}
            generation = (body.get('generation'), body.get('name'))
            if not isinstance(generation[0], int) or \
                    not isinstance(generation[1], str):
                raise reads.PlacementFailure(
                    'GET %s: %s (no "generation" or "name")'
                    % (MARKER_URL, reads.BAD_BODY))
        except reads.NotFound:
            generation = ABSENT
        except Exception as e:  # a failed poll changes nothing
            if not self._poll_failing:
                LOG.warning('migcompat: polling the change marker failed '
                            '(%s); the host profiles are read again at the '
                            'next successful poll that sees a change, or '
                            'after profile_refresh_interval', e)
            self._poll_failing = True
            generation = None
        else:
            if self._poll_failing:
                LOG.info('migcompat: polling the change marker works again')
            self._poll_failing = False
        return generation

    def _polled(self):
        # After the poll and the read it started, if any (wait_for_poll).
        with self._reads:
            self.polls_done += 1
            self._reads.notify_all()

    def wake(self):
        """Have the refresher read now instead of at its next interval."""
        self._read_now = True
        self._wake.set()

    def tick(self):
        """Have the refresher look at its clock now (a fake clock moved)."""
        self._wake.set()

    def stop(self):
        """End the refresher thread (reset_shared, tests)."""
        self._stopped.set()
        self._wake.set()

    def _read_ended(self):
        """Called by the cache after every read (success or not)."""
        self._first.set()
        with self._reads:
            self.reads_done += 1
            self._reads.notify_all()

    def wait_for_read(self, after, timeout):
        """Wait until more than after reads (reads_done) have ended, at
        most timeout seconds (tests, tools). True when they have.
        """
        with self._reads:
            return self._reads.wait_for(lambda: self.reads_done > after,
                                        timeout)

    def wait_for_poll(self, after, timeout):
        """Wait until more than after polls (polls_done) have ended, each
        with the read it started, at most timeout seconds (tests, tools).
        True when they have.
        """
        with self._reads:
            return self._reads.wait_for(lambda: self.polls_done > after,
                                        timeout)


def _call(ref, method):
    # An at-fork hook of a cache that may have been dropped since.
    cache = ref()
    if cache is not None:
        try:
            getattr(cache, method)()
        except Exception:  # never break a fork
            pass


def items(body):
    """How many items an answer of the grouped read lists."""
    if isinstance(body, dict):
        for field in ('traits', 'resource_providers'):
            if isinstance(body.get(field), list):
                return len(body[field])
    return 0
