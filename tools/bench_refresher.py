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

"""The scheduler's profile refresher in steady state: its CPU, its
Placement requests per refresh, and the freshness window it gives.

A REAL placement server (tests/functional/placement_server: gunicorn, two
workers, sqlite, its own processes) holds N hosts of the realistic fleet
of bench_scheduler.py (17 profiles: a rolling kernel and microcode update
on the main AMD generation, this machine, Intel and AMD generations),
written straight into its database with the trait names
``traits.encode`` gives. nova's own SchedulerReportClient reads it. This
process runs only the refresher thread (profile_refresh_interval =
--interval) for --seconds after its first read, with nothing else to do,
so its CPU time over that span (time.process_time) is the refresher's
own. Placement's CPU (its gunicorn processes, from /proc) is printed
beside it: the other side of the same cost.

Target (issue 21): <= 2 % of one core at 10,000 hosts.

Usage: python tools/bench_refresher.py [--hosts 10000] [--interval 10]
                                       [--seconds 120]
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


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--hosts', type=int, default=10000)
    parser.add_argument('--interval', type=float, default=10.0)
    parser.add_argument('--seconds', type=float, default=120.0)
    args = parser.parse_args()

    import logging
    logging.disable(logging.INFO)
    from nova import objects
    objects.register_all()
    import nova.conf
    nova.conf.CONF([], project='nova', default_config_files=[])
    from nova.scheduler.client import report

    import bench_scheduler as bench
    from migcompat_filter.placement import client as placement
    from migcompat_filter.scheduler import state
    from tests.functional import placement_server

    _hosts, provider_traits, _source, counts = bench.build(args.hosts)
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
        # Steady state: what the refresher costs while nothing changes.
        durations = []
        plain = cache.refresh_now

        def timed_refresh():
            t = time.perf_counter()
            try:
                return plain()
            finally:
                durations.append(time.perf_counter() - t)
        cache.refresh_now = timed_refresh
        pids = _server_pids(server.process.pid)
        done = cache.reads_done
        cpu0, srv0, w0 = time.process_time(), _proc_cpu(pids), \
            time.perf_counter()
        time.sleep(args.seconds)
        cpu1, srv1, w1 = time.process_time(), _proc_cpu(pids), \
            time.perf_counter()
        reads = cache.reads_done - done
        snap = cache.snapshot(wait=False)
        wall = w1 - w0
        ours = 100.0 * (cpu1 - cpu0) / wall
        print('steady state over %.0f s, profile_refresh_interval %g s: '
              '%d reads, %d Placement requests per read' % (
                  wall, args.interval, reads, snap.grouping.requests))
        print('refresher CPU: %.2f %% of one core (%.0f ms per read); '
              'placement server CPU: %.1f %% of one core (%.0f ms per '
              'read)' % (ours, 1000 * (cpu1 - cpu0) / max(reads, 1),
                         100.0 * (srv1 - srv0) / wall,
                         1000 * (srv1 - srv0) / max(reads, 1)))
        longest = max(durations) if durations else 0.0
        print('read wall time: median %.2f s, longest %.2f s; freshness '
              'window: a write is judged at most %g s (the interval) + one '
              'read after it = %.1f s here' % (
                  sorted(durations)[len(durations) // 2] if durations
                  else 0.0, longest, args.interval,
                  args.interval + longest))
        cache.stop()
        return 0 if ours <= 2.0 else 1
    finally:
        server.cleanUp()


if __name__ == '__main__':
    sys.exit(main())
