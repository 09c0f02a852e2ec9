#!/usr/bin/env python3
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

"""Benchmark what the running guests add to a report, with real guests.

Starts N real tiny KVM guests on qemu:///system
(tests/functional/guests.py: transient, diskless, 16 MiB, host-model)
and a real placement server, then for each N measures one reporter run
the way ``migcompat profile publish`` makes it on this host (the live profile
read through libvirt, encoded, synced):

* the libvirt calls the running_guests factor makes (target: one
  listAllDomains plus one XMLDesc per guest);
* the wall time of that factor alone and of the whole profile read;
* the Placement requests and writes of the sync: the run after the
  guests changed, then an unchanged run (target: 1 request, no write);
* whether the digest trait changed (it must not: guests are per host).

Prints numbers only; no pass/fail. Every guest is destroyed at the end,
also on failure. Usage::

    python tools/bench_guests.py [--counts 0,10,200] [--runs 3]
"""

import argparse
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from migcompat_filter.host import reader  # noqa: E402
from migcompat_filter.host import source as hostsource  # noqa: E402
from migcompat_filter.placement import client as placement  # noqa: E402
from migcompat_filter.placement import reporter  # noqa: E402
from migcompat_filter.traits import codec as traits  # noqa: E402
from tests.functional import guests  # noqa: E402
from tests.functional import placement_server  # noqa: E402


def live_source(conn):
    """A LiveSource whose libvirt connection counts the calls made."""
    source = hostsource.LiveSource('/', guests.URI)
    counting = guests.CountingConnection(conn)
    source._cache['conn'] = counting
    return source, counting


def one_run(conn):
    """(factor seconds, profile seconds, libvirt calls, profile)."""
    source, counting = live_source(conn)
    start = time.perf_counter()
    reader.read_profile(source, ['running_guests'])
    factor = time.perf_counter() - start
    calls = list(counting.calls)
    source, _counting = live_source(conn)
    start = time.perf_counter()
    profile = reader.read_profile(source)
    whole = time.perf_counter() - start
    return factor, whole, calls, profile


def digest(names):
    return [t for t in names if t.startswith(traits.DIGEST_PREFIX)][0]


def measure(conn, client, rp, runs, label):
    factor_times, whole_times = [], []
    for _ in range(runs):
        factor, whole, calls, profile = one_run(conn)
        factor_times.append(factor)
        whole_times.append(whole)
    lists = sum(1 for c in calls if c[0] == 'listAllDomains')
    reads = sum(1 for c in calls if c[0] == 'XMLDesc')
    wanted = traits.encode(profile)
    before = client.requests
    first = reporter.sync(client, rp, wanted)
    changed_requests = client.requests - before
    before = client.requests
    again = reporter.sync(client, rp, wanted)
    print('%-12s guests=%-4d libvirt: %d list + %d XMLDesc | '
          'running_guests factor %.3f s (median of %d), whole profile '
          '%.3f s | sync after the change: %d requests, written=%s; '
          'unchanged: %d requests, written=%s | %d traits, %d of them '
          'GUESTS'
          % (label, profile['running_guests']['count'], lists, reads,
             statistics.median(factor_times), runs,
             statistics.median(whole_times), changed_requests,
             first.written, client.requests - before, again.written,
             len(wanted), sum(1 for t in wanted if traits.is_per_host(t))))
    return digest(wanted)


def start_guests(conn, n, started, budget):
    """Start guests until n run or budget seconds passed (a small,
    shared machine slows down as guests pile up: measure what runs).
    """
    t0 = time.perf_counter()
    while len(started) < n and time.perf_counter() - t0 < budget:
        g = guests.RunningGuest(conn)
        started.append(g)  # before setUp: an interrupt may land in it
        g.setUp()
    return time.perf_counter() - t0


def destroy(conn, g):
    """Destroy one guest, also one whose start was interrupted after
    libvirt created it (looked up by its UUID).
    """
    libvirt = guests._libvirt()
    try:
        (g.domain or conn.lookupByUUIDString(g.uuid)).destroy()
    except libvirt.libvirtError as e:
        if e.get_error_code() != libvirt.VIR_ERR_NO_DOMAIN:
            raise


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--counts', default='0,10,200',
                        help='comma-separated guest counts (ascending)')
    parser.add_argument('--runs', type=int, default=3)
    parser.add_argument('--start-budget', type=float, default=600,
                        help='seconds to spend starting guests per count; '
                             'the count measured is what runs by then')
    args = parser.parse_args()
    counts = sorted(int(c) for c in args.counts.split(','))

    libvirt = guests._libvirt()
    conn = libvirt.open(guests.URI)
    already = len(conn.listAllDomains(libvirt.VIR_CONNECT_LIST_DOMAINS_ACTIVE))
    if already:
        print('note: %d guests were already running; counts include them'
              % already)
    server = placement_server.PlacementServer()
    server.setUp()
    started = []
    digests = set()
    try:
        client = placement.PlacementClient(
            placement.adapter_noauth(server.url))
        rp = server.create_provider()['uuid']
        # A first report with no guest of ours, so that each measured
        # sync is "the guests changed", not "every trait is new".
        reporter.sync(client, rp, traits.encode(one_run(conn)[3]))
        for n in counts:
            before = len(started)
            took = start_guests(conn, n, started, args.start_budget)
            if len(started) > before:
                print('started %d more guests in %.1f s (%.2f s each)'
                      % (len(started) - before, took,
                         took / (len(started) - before)))
            digests.add(measure(conn, client, rp, args.runs,
                                '%d started' % len(started)))
        print('digest traits seen across the guest counts: %d (1 = '
              'guests never changed the digest)' % len(digests))
    finally:
        t0 = time.perf_counter()
        for g in started:
            destroy(conn, g)
        print('destroyed %d guests in %.1f s' % (len(started),
                                                 time.perf_counter() - t0))
        server.cleanUp()
        conn.close()


if __name__ == '__main__':
    main()
