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

"""The scheduler's profile refresher in steady state: its CPU and the
placement server's CPU per scheduler worker, with no change (polls of the
change marker only) and with one change per minute, and the freshness
window.

A REAL placement server (tests/functional/placement_server: gunicorn, two
workers, sqlite, its own processes) holds N hosts of the realistic fleet
of bench_scheduler.py (17 profiles: a rolling kernel and microcode update
on the main AMD generation, this machine, Intel and AMD generations),
written straight into its database with the trait names
``traits.encode`` gives. nova's own SchedulerReportClient reads it. This
process runs only the refresher thread (profile_change_poll_interval =
--poll, profile_refresh_interval = --interval) for --seconds per scenario
after its first read, so its CPU time over that span
(time.process_time) is the refresher's own; placement's CPU (its gunicorn
processes, from /proc) is the other side of the same cost. In the second
scenario a reporter's bump of the change marker (change_marker.bump, what
"migcompat report" does after a write) comes every --change-every
seconds; the freshness window is from a bump to the end of the read it
started.

Target (issue 21): <= 2 % of one core at 10,000 hosts, and a footprint
in Placement nobody notices.

Usage: python tools/bench_refresher.py [--hosts 10000] [--poll 5]
           [--interval 300] [--seconds 120] [--change-every 60]
"""

import argparse
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))


def _proc_cpu(pids):
    """CPU seconds (user + system) of pids and their children, /proc."""
    tick = os.sysconf('SC_CLK_TCK')
    total = 0.0
    for pid in pids:
        try:
            with open('/proc/%d/stat' % pid) as f:
                fields = f.read().rsplit(')', 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def _server_pids(root):
    pids = [root]
    for entry in os.listdir('/proc'):
        if entry.isdigit():
            try:
                with open('/proc/%s/stat' % entry) as f:
                    ppid = int(f.read().rsplit(')', 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            if ppid == root:
                pids.append(int(entry))
    return pids


def _measure(cache, pids, seconds, bump=None, every=None):
    """(refresher CPU %, placement CPU %, full reads, polls, windows) over
    seconds; bump() every `every` seconds, the first after every / 2.
    """
    windows = []
    reads, polls = cache.reads_done, cache.polls_done
    cpu0, srv0, w0 = time.process_time(), _proc_cpu(pids), \
        time.perf_counter()
    end = w0 + seconds
    next_change = w0 + every / 2 if bump else None
    while True:
        now = time.perf_counter()
        if next_change is None or next_change >= end:
            time.sleep(max(0.0, end - now))
            break
        time.sleep(max(0.0, next_change - now))
        done = cache.reads_done
        t = time.perf_counter()
        bump()
        if cache.wait_for_read(done, 600):
            windows.append(time.perf_counter() - t)
        next_change += every
    cpu1, srv1, w1 = time.process_time(), _proc_cpu(pids), \
        time.perf_counter()
    wall = w1 - w0
    return (100.0 * (cpu1 - cpu0) / wall, 100.0 * (srv1 - srv0) / wall,
            cache.reads_done - reads, cache.polls_done - polls, windows,
            wall)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--hosts', type=int, default=10000)
    parser.add_argument('--poll', type=float, default=5.0)
    parser.add_argument('--interval', type=float, default=300.0)
    parser.add_argument('--seconds', type=float, default=120.0)
    parser.add_argument('--change-every', type=float, default=60.0)
    args = parser.parse_args()

    import logging
    logging.disable(logging.INFO)
    from nova import objects
    objects.register_all()
    import nova.conf
    nova.conf.CONF([], project='nova', default_config_files=[])
    from nova.scheduler.client import report

    import bench_scheduler as bench
    from migcompat_filter.placement import change_marker
    from migcompat_filter.placement import client as placement
    from migcompat_filter.scheduler import state
    from tests.functional import placement_server

    _hosts, provider_traits, _source, counts, _r = bench.build(args.hosts,
                                                               schema=2)
    server = placement_server.PlacementServer(workers=2)
    server.setUp()
    try:
        placement_server.write_providers(
            server.db, [(u, 'host-%s' % u[:8], sorted(names), False)
                        for u, names in provider_traits.items()])
        adapter = placement.adapter_noauth(server.url, timeout=None)
        client = report.SchedulerReportClient(adapter=adapter)
        cache = state.reset_shared(lambda: client).profiles
        cache.ttl = args.interval
        cache.poll_interval = args.poll
        reporter = placement.PlacementClient(
            placement.adapter_noauth(server.url))
        change_marker.bump(reporter)  # it exists, as after any report
        cache.read_timeout = 60.0
        t0 = time.perf_counter()
        cache.start()
        if not cache.wait_for_read(0, 600):
            print('the first read did not end in 600 s')
            return 1
        snap = cache.snapshot(wait=False)
        print('%d hosts in %d profiles on a real placement (2 gunicorn '
              'workers); first read %.2f s, %d requests; %r' % (
                  args.hosts, len(counts), time.perf_counter() - t0,
                  snap.grouping.requests, snap))
        pids = _server_pids(server.process.pid)
        print('profile_change_poll_interval %g s, profile_refresh_interval '
              '%g s, %.0f s per scenario' % (args.poll, args.interval,
                                             args.seconds))
        ours, theirs, reads, polls, _w, wall = _measure(
            cache, pids, args.seconds)
        print('no change:        refresher CPU %.3f %% of one core, '
              'placement CPU %.3f %% of one core per scheduler worker; '
              '%d polls, %d full reads in %.0f s' % (
                  ours, theirs, polls, reads, wall))
        ours2, theirs2, reads, polls, windows, wall = _measure(
            cache, pids, args.seconds, lambda: change_marker.bump(reporter),
            args.change_every)
        print('1 change / %.0f s: refresher CPU %.3f %% of one core, '
              'placement CPU %.3f %% of one core per scheduler worker; '
              '%d polls, %d full reads in %.0f s' % (
                  args.change_every, ours2, theirs2, polls, reads, wall))
        if windows:
            print('freshness window (bump -> end of the read it started): '
                  '%s s, longest %.2f s (at most one poll interval, %g s, '
                  'plus one read)' % (', '.join('%.2f' % w for w in windows),
                                      max(windows), args.poll))
        cache.stop()
        return 0 if max(ours, ours2) <= 2.0 else 1
    finally:
        server.cleanUp()


if __name__ == '__main__':
    sys.exit(main())
