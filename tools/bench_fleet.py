"""Benchmark the fleet commands' work on a real placement server.

Publishes N compute nodes (real fixture profiles, with microcode
variations so that there are several groups) on a placement server
process, then times reading the fleet (traits of every node, with 1 and
with 8 requests in flight), building the matrix (one rules-engine
evaluation per group pair) and drawing the SVG. Prints numbers; no
targets are asserted.

    python tools/bench_fleet.py [N]
"""

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..'))

from migcompat_filter.fleet import inventory  # noqa: E402
from migcompat_filter.fleet import matrix  # noqa: E402
from migcompat_filter import heatmap  # noqa: E402
from migcompat_filter import hostsource  # noqa: E402
from migcompat_filter import placement  # noqa: E402
from migcompat_filter.profile import Profile  # noqa: E402
from migcompat_filter import reader  # noqa: E402
from migcompat_filter import reporter  # noqa: E402
from migcompat_filter import traits  # noqa: E402
from tests.functional import placement_server  # noqa: E402

FIXTURES = os.path.join(os.path.dirname(__file__), '..', 'tests',
                        'fixtures', 'hosts')
KINDS = ['epyc-milan-nested-l1', 'this-host-epyc-nested-l1-20261125',
         'libvirt-domcaps-rome-qemu-8.2.0',
         'libvirt-domcaps-genoa-qemu-10.0.0-expanded']


def main(n=50):
    bases = []
    for kind in KINDS:
        src = hostsource.SnapshotSource(os.path.join(FIXTURES, kind))
        bases.append(reader.read_profile(src))
        src.close()
    server = placement_server.PlacementServer()
    server.setUp()
    try:
        client = placement.PlacementClient(
            placement.adapter_noauth(server.url))
        t0 = time.perf_counter()
        for i in range(n):
            data = bases[i % len(bases)].to_dict()
            data['microcode_version'] = '0x%x' % (0x1000 + i % 3)
            rp = server.create_provider('node-%03d' % i)
            client.put_traits(rp['uuid'], ['COMPUTE_NODE'], 0)
            reporter.sync(client, rp['uuid'],
                          traits.encode(Profile.from_dict(data)))
        print('published %d nodes in %.1f s' % (n, time.perf_counter() - t0))
        for workers in (1, 8):
            f = inventory.Fleet(client, workers=workers)
            before = client.requests
            t0 = time.perf_counter()
            hosts = f.load()
            t_load = time.perf_counter() - t0
            print('load %d nodes, %d worker(s): %.2f s, %d requests'
                  % (len(hosts), workers, t_load, client.requests - before))
            before = client.requests
            t0 = time.perf_counter()
            f.load(timestamps=True)
            print('load with timestamps (host list), %d worker(s): %.2f s, '
                  '%d requests' % (workers, time.perf_counter() - t0,
                                   client.requests - before))
        t0 = time.perf_counter()
        m = matrix.build(hosts)
        t_matrix = time.perf_counter() - t0
        print('matrix: %d hosts in %d groups, %d evaluations (instead of '
              '%d host pairs): %.3f s'
              % (len(hosts), len(m.groups), m.evaluations, len(hosts) ** 2,
                 t_matrix))
        t0 = time.perf_counter()
        text = heatmap.svg(m)
        print('svg: %d bytes in %.3f s'
              % (len(text), time.perf_counter() - t0))
    finally:
        server.cleanUp()


if __name__ == '__main__':
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 50)
