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

"""Benchmark the trait reporter against a real placement server.

Starts placement (gunicorn on loopback, sqlite, noauth2), then measures:

* sync runs per second and HTTP requests per run for an unchanged host
  (target: 1 request, no write) and for a changed host (a microcode
  update each run; target: at most 1 write plus the trait creations);
* the first report of a host (every trait name new);
* the wall time of one ``migcompat profile publish`` process (what a systemd
  timer pays), unchanged host.

Prints numbers only; no pass/fail. Usage::

    python tools/bench_reporter.py [--seconds 5] [--host DIR]
"""

import argparse
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from migcompat_filter.host import reader  # noqa: E402
from migcompat_filter.host import source as hostsource  # noqa: E402
from migcompat_filter.placement import client as placement  # noqa: E402
from migcompat_filter.placement import reporter  # noqa: E402
from migcompat_filter.profile import Profile  # noqa: E402
from migcompat_filter.traits import codec as traits  # noqa: E402
from tests.functional import placement_server  # noqa: E402

DEFAULT_HOST = os.path.join(os.path.dirname(HERE), 'tests', 'fixtures',
                            'hosts', 'epyc-milan-nested-l1')


def with_microcode(profile, value):
    data = profile.to_dict()
    data['microcode_version'] = value
    return Profile.from_dict(data)


def timed_runs(seconds, run):
    count = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        run(count)
        count += 1
    return count, time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--seconds', type=float, default=5.0)
    parser.add_argument('--host', default=DEFAULT_HOST,
                        help='snapshot directory to report')
    args = parser.parse_args()

    profile = reader.read_profile(hostsource.SnapshotSource(args.host))
    wanted = traits.encode(profile)
    print('host %s: %d traits (%d chars)'
          % (os.path.basename(args.host.rstrip('/')), len(wanted),
             sum(map(len, wanted))))

    server = placement_server.PlacementServer()
    server.setUp()
    try:
        client = placement.PlacementClient(
            placement.adapter_noauth(server.url))
        rp = server.create_provider()['uuid']

        before = client.requests
        start = time.perf_counter()
        result = reporter.sync(client, rp, wanted)
        print('first report: %d requests (%d trait creations, 1 read, '
              '1 write) in %.3f s'
              % (client.requests - before, len(result.created),
                 time.perf_counter() - start))

        before = client.requests
        n, elapsed = timed_runs(
            args.seconds, lambda i: reporter.sync(client, rp, wanted))
        print('unchanged host: %.1f runs/s, %.2f requests/run'
              % (n / elapsed, (client.requests - before) / n))

        variants = [traits.encode(with_microcode(profile, hex(0x1000000 + i)))
                    for i in range(2)]
        reporter.sync(client, rp, variants[0])
        before = client.requests
        writes = [0]

        def changed(i):
            res = reporter.sync(client, rp, variants[(i + 1) % 2])
            writes[0] += res.written
        n, elapsed = timed_runs(args.seconds, changed)
        # Each changed run: 1 read, a create-if-missing PUT /traits/NAME
        # per added name (the new value and the new profile digest), and
        # 1 write.
        print('changed host (trait names exist already): %.1f runs/s, '
              '%.2f requests/run, %.2f writes/run'
              % (n / elapsed, (client.requests - before) / n,
                 writes[0] / n))

        before = client.requests
        created = [0]

        def changed_new(i):
            res = reporter.sync(client, rp, traits.encode(
                with_microcode(profile, hex(0x2000000 + i))))
            created[0] += len(res.created)
        n, elapsed = timed_runs(args.seconds, changed_new)
        print('changed host (new trait name each run): %.1f runs/s, '
              '%.2f requests/run (%.2f of them trait creations)'
              % (n / elapsed, (client.requests - before) / n,
                 created[0] / n))

        times = []
        for _ in range(3):
            start = time.perf_counter()
            subprocess.run(
                [sys.executable, '-m', 'migcompat_filter.cmd.shell',
                 'report', '--root', args.host, '--placement-url',
                 server.url, '--provider', rp], check=True,
                capture_output=True)
            times.append(time.perf_counter() - start)
        print('one "migcompat profile publish" process (snapshot, changed '
              'then unchanged): %s s' % ', '.join('%.2f' % t for t in times))
    finally:
        server.cleanUp()


if __name__ == '__main__':
    main()
