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

"""Benchmark drawing the pictures: the heat map and the compatibility
graph of a fleet of N groups.

The hosts are the demo fleet's bundled real profiles, copied with a
different microcode each so that every copy is its own group; their
traits are encoded and read back as ``migcompat fleet matrix`` reads them from
Placement (no Placement needed). Prints the time to build the matrix (one
rules-engine evaluation per group pair) and to draw each picture, and the
pictures' sizes. No targets are asserted.

    python tools/bench_pictures.py [N ...]     (default: 10 30 60)
"""

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..'))

from migcompat_filter.demo import hosts as demo_hosts  # noqa: E402
from migcompat_filter.fleet import inventory  # noqa: E402
from migcompat_filter.fleet import matrix  # noqa: E402
from migcompat_filter.pictures import graph as fleet_graph  # noqa: E402
from migcompat_filter.pictures import heatmap  # noqa: E402
from migcompat_filter.profile import Profile  # noqa: E402
from migcompat_filter.traits import codec as traits  # noqa: E402


def fleet(n, mode='host-model'):
    bundled = demo_hosts.load_fleet()
    out = []
    for i in range(n):
        base = bundled[i % len(bundled)]
        factors = dict(base.in_mode(mode).factors)
        if i >= len(bundled):
            factors['microcode_version'] = '0x%x' % (0x1000 + i)
        host = inventory.Host('%s-%d' % (base.name, i), 'bench-%d' % i)
        host.traits = set(traits.encode(Profile(factors))) | {'COMPUTE_NODE'}
        host.classify()
        out.append(host)
    return out


def main(sizes):
    for n in sizes:
        hosts = fleet(n)
        t0 = time.perf_counter()
        m = matrix.build(hosts, mode='host-model')
        t1 = time.perf_counter()
        heat = heatmap.svg(m)
        t2 = time.perf_counter()
        graph = fleet_graph.svg(m)
        t3 = time.perf_counter()
        print('%d hosts, %d groups: matrix %.3f s (%d evaluations); heat '
              'map %.3f s, %d bytes; graph %.3f s, %d bytes, %d arrows'
              % (n, len(m.groups), t1 - t0, m.evaluations, t2 - t1,
                 len(heat), t3 - t2, len(graph),
                 len(fleet_graph.reduced_edges(m))))


if __name__ == '__main__':
    main([int(a) for a in sys.argv[1:]] or [10, 30, 60])
