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

"""Benchmark: a rolling upgrade of 1,000 hosts, nova alone against nova
with migcompat (migcompat_filter/sim; not a test).

The fleet is built from the bundled real profiles
(migcompat_filter/demo/data/hosts), the guests in host-model,
host-passthrough and custom modes; the schedule: a microcode update that
removes TSX on half of the Cascade Lake 8268 hosts (2 days), a kernel
update (5 days) and a QEMU minor upgrade (5 days) across the fleet, each
host drained before its change. Every live migration a drain requests is
counted by outcome in each world; what really happens is
tools/rolling_upgrade_sim/migration_model.py (its docstring says where it is
simplified).

    python tools/simulate_rolling_upgrade.py [--hosts 1000] [--guests 3000]
"""

import argparse
import sys
import time

from rolling_upgrade_sim import core


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--hosts', type=int, default=1000)
    parser.add_argument('--guests', type=int, default=3000)
    parser.add_argument('--seed', type=int, default=1)
    args = parser.parse_args(argv)
    if args.hosts < 2 or args.guests < 1 or \
            args.guests > args.hosts * (core.SLOTS - 1):
        parser.error('need --hosts >= 2 and 1 <= --guests <= %d per host'
                     % (core.SLOTS - 1))
    start = time.perf_counter()
    worlds, days = core.run(args.hosts, args.guests, args.seed,
                            progress=lambda d, s: sys.stderr.write(
                                'day %d: %.2f s\n' % (d, s)))
    total = time.perf_counter() - start
    tallies = {w.name: w.tally for w in worlds}
    names = list(tallies)
    width = max(len(o) for o in core.OUTCOMES)
    print('%-*s  %s' % (width, 'outcome', '  '.join('%16s' % n
                                                    for n in names)))
    for outcome in core.OUTCOMES:
        print('%-*s  %s' % (width, outcome, '  '.join(
            '%16d' % tallies[n][outcome] for n in names)))
    for w in worlds:
        top = sorted(w.false_why.items(), key=lambda kv: -kv[1])[:3]
        for (mode, factors), n in top:
            print('%s: %d false refusal(s) of %s guests by %s, e.g. %s'
                  % (w.name, n, mode, '+'.join(factors),
                     w.examples.get((mode, factors), '')[:160]))
    print()
    print('%d hosts, %d guests, %d simulated days (%d waves), %.1f s in '
          'all, %.2f s per simulated day (min %.2f, max %.2f)'
          % (args.hosts, args.guests, len({d for d, _n, _s in days}),
             len(days), total, sum(s for _d, _n, s in days) / len(days),
             min(s for _d, _n, s in days), max(s for _d, _n, s in days)))
    return 0


if __name__ == '__main__':
    sys.exit(main())
