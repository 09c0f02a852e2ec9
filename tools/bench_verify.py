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

"""Benchmark ``host verify`` / the reporter's verification round on this
machine's libvirtd.

The guest CPUs are the bundled real snapshots, the demo profiles, the test
fixtures' guests and (with --all-models) a custom guest of every model of
the local CPU map. Prints: the cases and the agreement, the time to open
this host (its profile read once per round), the time per guest CPU
(both judges) and per round, and the libvirt calls per round (and how
many of them are compareHypervisorCPU). Median of N rounds.

With --placement: the reporter's round (fleet/verify_round.py) against a
real placement server (tests/functional/placement_server.py) holding the
bundled snapshots and demo profiles as compute nodes: the time of a round
that verifies, of a round skipped as unchanged, and the Placement
requests of each.

    python tools/bench_verify.py [--runs N] [--connect URI] [--all-models]
                                 [--placement]
"""

import argparse
import glob
import os
import statistics
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from migcompat_filter.cmd import common  # noqa: E402
from migcompat_filter.fleet import verify  # noqa: E402


def inputs():
    return (sorted(glob.glob(os.path.join(ROOT, 'tests/fixtures/hosts/*'))) +
            sorted(glob.glob(os.path.join(
                ROOT, 'migcompat_filter/demo/data/hosts/*.json'))) +
            sorted(glob.glob(os.path.join(ROOT,
                                          'tests/fixtures/guests/*.xml'))))


def one_round(cases, uri, all_models):
    """(open s, judge s, rows, libvirt calls, compare calls)."""
    start = time.perf_counter()
    host = verify.LocalHost(uri)
    opened = time.perf_counter() - start
    try:
        todo = list(cases)
        if all_models:
            todo += verify.cases_from_models(
                host.judge.models('x86_64') or (), 'cpu map')
        compares = {'n': 0}
        real = host.judge._call

        def counted(method, *args):
            if method == 'compareHypervisorCPU':
                compares['n'] += 1
            return real(method, *args)
        host.judge._call = counted
        start = time.perf_counter()
        rows = host.verify(todo)
        judged = time.perf_counter() - start
        return opened, judged, rows, host.judge.calls, compares['n']
    finally:
        host.close()


def reporter_rounds(runs, uri):
    """The reporter's round against a real placement server."""
    from migcompat_filter.fleet import verify_round
    from migcompat_filter.placement import client as placement
    from migcompat_filter.placement import reporter
    from migcompat_filter.traits import codec as traits
    from tests.functional import placement_server
    server = placement_server.PlacementServer()
    server.setUp()
    try:
        client = placement.PlacementClient(
            placement.adapter_noauth(server.url))
        hosts = [p for p in inputs() if not p.endswith('.xml')]
        for i, path in enumerate(hosts):
            profile = common.load_profile(path)[0]
            rp = server.create_provider('host-%d' % i)
            client.put_traits(rp['uuid'], {'COMPUTE_NODE'}, 0)
            reporter.sync(client, rp['uuid'], traits.encode(profile))
        me = server.create_provider('verifier')['uuid']
        tmp = tempfile.mkdtemp(prefix='bench-verify-')
        done, skipped = [], []
        for run in range(runs):
            state = os.path.join(tmp, 'state-%d.json' % run)
            rnd = verify_round.Round(uri, state, 60.0)
            for times, what in ((done, 'verified'), (skipped, 'skipped')):
                before, start = client.requests, time.perf_counter()
                counts = rnd.run(client, me, ['bench'])
                times.append((time.perf_counter() - start,
                              client.requests - before))
                assert rnd.last == what, rnd.last
        print('reporter round over %d published hosts: %s'
              % (len(hosts), counts))
        for label, times in (('verifying', done), ('skipped', skipped)):
            print('  round %-10s median %.1f ms, %d Placement requests'
                  % (label, statistics.median(t for t, _ in times) * 1000,
                     times[-1][1]))
    finally:
        server.cleanUp()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--runs', type=int, default=5)
    parser.add_argument('--connect', default='qemu:///system')
    parser.add_argument('--all-models', action='store_true')
    parser.add_argument('--placement', action='store_true')
    args = parser.parse_args()
    if args.placement:
        return reporter_rounds(args.runs, args.connect)
    cases = []
    for path in inputs():
        cases.extend(verify.cases_from_path(
            path, lambda p: common.load_profile(p)[0]))
    results = [one_round(cases, args.connect, args.all_models)
               for _ in range(args.runs)]
    rows = results[-1][2]
    counts = verify.counts(rows)
    print('inputs: %d files; distinct guest CPUs: %d' % (len(inputs()),
                                                         len(rows)))
    print('checked %(checked)d, agree %(agree)d, disagree %(disagree)d, '
          'unchecked %(unchecked)d' % counts)
    if counts['checked']:
        rate = 100.0 * counts['agree'] / counts['checked']
        print('agreement: %.1f%%' % rate)
    opened = statistics.median(r[0] for r in results)
    judged = statistics.median(r[1] for r in results)
    print('open this host (profile read): median %.1f ms' % (opened * 1000))
    print('judge all guest CPUs:          median %.1f ms' % (judged * 1000))
    print('per guest CPU:                 median %.2f ms'
          % (judged * 1000 / max(1, len(rows))))
    print('per round (open + judge):      median %.1f ms'
          % ((opened + judged) * 1000))
    print('libvirt calls per round: %d (compareHypervisorCPU: %d; the '
          'profile read adds its own)' % (results[-1][3], results[-1][4]))


if __name__ == '__main__':
    main()
