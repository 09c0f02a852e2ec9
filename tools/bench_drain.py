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

"""Benchmark the planning behind drain, what-if and upgrade-plan.

In process, no cloud: N hosts built from the bundled real profiles
(migcompat_filter/demo/data/hosts, as the simulator builds them), their
traits encoded and read back as Placement would hand them over. Times:

* a drain plan of one host's S servers (two guest modes) onto N-1 hosts;
* what-if of a QEMU upgrade on a tenth of the hosts (matrix delta and
  stranded guests);
* upgrade-plan of an aggregate of A hosts with 3 guests each.

Prints numbers; no targets are asserted.

    python tools/bench_drain.py [--hosts 1000] [--servers 50] [--agg 20]
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..'))

from migcompat_filter.fleet import capacity  # noqa: E402
from migcompat_filter.fleet import drain  # noqa: E402
from migcompat_filter.fleet import upgrade_plan  # noqa: E402
from migcompat_filter.fleet import whatif  # noqa: E402
from rolling_upgrade_sim import core  # noqa: E402
from tests import fake_fleet  # noqa: E402


def fleet(n):
    bases = core._base_profiles()
    kinds = [k for k, count in core.MIX for _i in range(count)]
    read = {}
    hosts = []
    for i in range(n):
        kind = kinds[i * len(kinds) // n]
        if kind not in read:
            read[kind] = fake_fleet.FleetHost(kind, bases[kind])
        h = fake_fleet.FleetHost.__new__(fake_fleet.FleetHost)
        h.__dict__.update(read[kind].__dict__)
        h.name = h.service_host = '%s-%04d' % (kind, i)
        h.uuid = 'uuid-' + h.name
        hosts.append(h)
    return hosts


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--hosts', type=int, default=1000)
    parser.add_argument('--servers', type=int, default=50)
    parser.add_argument('--agg', type=int, default=20)
    args = parser.parse_args(argv)
    if args.hosts < 2 or args.servers < 1 or not 2 <= args.agg <= args.hosts:
        parser.error('need --hosts >= 2, --servers >= 1, 2 <= --agg <= '
                     '--hosts')
    hosts, t = timed(lambda: fleet(args.hosts))
    print('fleet: %d hosts read back from traits in %.2f s' % (len(hosts), t))

    source = hosts[0]
    servers = [{'id': 's%d' % i, 'name': 's%d' % i,
                'flavor': {'vcpus': 2, 'ram': 4096, 'disk': 20}}
               for i in range(args.servers)]
    modes = ('host-model', 'host-passthrough')
    free = {h.uuid: capacity.Capacity({'VCPU': 8, 'MEMORY_MB': 16384,
                                       'DISK_GB': 80}) for h in hosts}
    needs = {s['id']: drain.server_need(s, {}) for s in servers}
    plan, t = timed(lambda: drain.make_plan(
        source, hosts, servers, needs, free,
        lambda s: (modes[int(s['id'][1:]) % 2], 'bench')))
    print('drain plan: %d servers onto %d hosts in %.2f s (%d placed, %d '
          'unplaced)' % (len(servers), len(hosts) - 1, t, len(plan.placed),
                         len(plan.unplaced)))

    names = {h.name for h in hosts[::10]}
    verdicts = whatif.Verdicts()

    def what_if():
        before = whatif.unchanged_fleet(hosts)
        after = whatif.changed_fleet(hosts, names,
                                     [('qemu_version', '99.0.0')])
        return (whatif.delta(before, after, verdicts=verdicts),
                whatif.stranded(before, after, verdicts))
    (flips, stranded), t = timed(what_if)
    print('what-if: QEMU upgrade of %d hosts: %d pair verdicts flip, %d '
          'stranded, in %.2f s (%d evaluations)'
          % (len(names), len(flips), len(stranded), t,
             verdicts.evaluations))

    agg = hosts[:args.agg]
    before = whatif.unchanged_fleet(agg)
    after = {h.name: h for h in whatif.changed_fleet(
        agg, {h.name for h in agg}, [('qemu_version', '99.0.0')])}
    guests = {h.name: [upgrade_plan.Guest('%s-%d' % (h.name, i),
                                          '%s-%d' % (h.name, i),
                                          'host-model', {'VCPU': 2})
                       for i in range(3)] for h in agg}
    room = {h.name: capacity.Capacity({'VCPU': 8}, {'VCPU': 16})
            for h in agg}
    planner = upgrade_plan.Planner(before, after, guests, room)
    steps, t = timed(planner.plan)
    print('upgrade-plan: %d hosts, %s in %.2f s (%d drain attempts)'
          % (len(agg), 'an order of %d turns' % len(steps) if steps
             else 'no order (%s)' % planner.deepest.text()[:100],
             t, planner.tries))
    return 0


if __name__ == '__main__':
    sys.exit(main())
