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

"""A destination's own TSC frequency, read when the migrating guest needs it.

The TSC frequency is calibrated per host (often per boot), so the profile
digest leaves it out (the catalogue's ``tsc`` row: ``per_host_fields``)
and a digest group's profile says nothing about it. Only a guest with an
invariant TSC at a pinned frequency cares: QEMU then needs the destination
to run the TSC at that frequency (within ``tsc_tolerance_ppm``) or to scale
it. For such a guest, each candidate whose group does not scale the TSC is
read by its own traits (1 Placement call per host, concurrently, bounded by
the request's deadline, memoised per host and snapshot), so the TscRule
judges its exact frequency. A host that cannot be read in time is
"unjudged" (``placement_error_action``).

A host read by its own traits (a reporter that publishes no digest: the
refresher reads it alone) keeps its frequency, which is exact: nothing
more is read for it.
"""

import queue
import threading

from migcompat_filter.placement import hoststate
from migcompat_filter import profile as profile_mod
from migcompat_filter.rules import guest_cpu
from migcompat_filter.scheduler import reads

#: Concurrent per-host reads of one request.
WORKERS = 8


def needs_exact_tsc(guest, mode, source_profile):
    """True when the guest (completed from the source's running guests, as
    the engine does) has an invariant TSC at a pinned frequency, or invtsc
    from nova with nothing saying how it runs; False when no destination
    frequency matters (no invtsc) or none can help (unpinned invtsc
    guests block everywhere).
    """
    guest = guest_cpu.with_running(guest, source_profile['running_guests'],
                                   mode)
    if guest is None or guest.invtsc_unpinned:
        return False
    if guest.invtsc_frequencies:
        return True
    return 'invtsc' in guest.given() and guest.invtsc_unpinned is None


def group_is_exact(hp):
    """True when a snapshot's profile judges TSC exactly for its hosts:
    they scale the TSC, or it still carries a frequency (a host read by
    its own traits; a digest group's profile has none).
    """
    tsc = hp.profile['tsc']
    return isinstance(tsc, dict) and (tsc.get('scaling') is True or
                                      'frequency' in tsc)


def exact(group_hp, own_hp):
    """The group's HostProfile with the host's own TSC (from own_hp, the
    host's traits read now); its key tells hosts of other frequencies
    apart, so verdicts are cached per (group, frequency).
    """
    if own_hp.state != hoststate.TRAITED:
        return own_hp
    base = group_hp if own_hp.key == group_hp.key else own_hp
    tsc = own_hp.profile['tsc']
    factors = dict(base.profile.factors)
    factors['tsc'] = tsc
    freq = tsc.get('frequency') if isinstance(tsc, dict) else None
    return hoststate.HostProfile(
        hoststate.TRAITED, profile_mod.Profile(factors),
        '%s+TSC_%s' % (base.key, freq), problems=own_hp.problems)


class HostReads(object):
    """(rp_uuid, snapshot serial) -> HostProfile from the host's own traits.

    A bounded memo behind its lock, shared by concurrent requests: within
    one snapshot a host is read once, by whichever request needs it first.
    """

    def __init__(self, size=20000):
        self.size = size
        self._data = {}
        self._lock = threading.Lock()

    def get(self, rp_uuid, serial):
        with self._lock:
            return self._data.get((rp_uuid, serial))

    def _put(self, key, hp):
        with self._lock:
            if len(self._data) >= self.size:
                # Entries of older snapshots are never asked for again.
                self._data = {k: v for k, v in self._data.items()
                              if k[1] == key[1]}
                if len(self._data) >= self.size:
                    self._data.clear()
            self._data[key] = hp

    def read(self, cache, uuids, serial, deadline, request_id=None):
        """Read the hosts of uuids not memoised yet, WORKERS at a time,
        until the deadline; returns rp_uuid -> HostProfile of those read
        (a failed read is an UNJUDGED HostProfile, not memoised).
        """
        found = {}
        todo = queue.Queue()
        for uuid in uuids:
            hp = self.get(uuid, serial)
            if hp is not None:
                found[uuid] = hp
            else:
                todo.put(uuid)
        if todo.empty():
            return found
        lock = threading.Lock()

        def work():
            while cache.clock() < deadline:
                try:
                    uuid = todo.get_nowait()
                except queue.Empty:
                    return
                try:
                    names = cache.provider_traits(uuid, deadline, request_id)
                    hp = hoststate.classify(names, cache.records_for(
                        names, deadline, request_id), uuid)
                    self._put((uuid, serial), hp)
                except reads.PlacementFailure as e:
                    hp = hoststate.HostProfile(hoststate.UNJUDGED,
                                               reason=str(e))
                with lock:
                    found[uuid] = hp

        threads = [threading.Thread(target=work, daemon=True,
                                    name='migcompat-host-read')
                   for _ in range(min(WORKERS, todo.qsize()))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(max(0.0, deadline - cache.clock()) + 0.05)
        with lock:
            return dict(found)
