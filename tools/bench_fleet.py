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

"""Benchmark the fleet commands against a real placement server.

Builds a fleet the way docs/reviews/fleet-scale.md did, on a real
placement (gunicorn, sqlite, noauth2, one worker; tests/functional/
placement_server.py) with an access log:

* 17 distinct profiles: the bundled migcompat_filter/demo/data/hosts (10
  files, 9 distinct: milan-b encodes as milan-a) plus microcode and kernel
  roll-out variants of milan-a, rome-q90, clx-8268, genoa-q10 and
  clx-4214r, with skewed shares;
* per host: POST /resource_providers; nova's own traits (~69: COMPUTE_*
  capability, image type, VIF, graphics traits and HW_CPU_X86_* of the
  host's features); AMD hosts in one Placement aggregate; the project's
  reporter.sync for the first host of each profile, then the identical
  final trait set in one PUT per host (the same database state, faster).

Then runs each command as a ``migcompat`` process (``host list``,
``matrix``, ``baseline --aggregate``, ``check`` with a loopback fake nova,
``host show``) and prints, per command, the requests placement served
(counted in its access log), the wall time, and the target check:
requests <= 2 x profiles + 3, and wall <= 5 s at 10,000 hosts.

    python tools/bench_fleet.py [--hosts N] [--workers W]

Population goes through HTTP with W concurrent clients (the server is one
sqlite worker, so W mostly overlaps client and server time): a 10,000-host
fleet takes minutes; --hosts 1000 is the quick run.
"""

import argparse
import concurrent.futures
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..'))


from migcompat_filter.placement import client as placement  # noqa: E402
from migcompat_filter.placement import reporter  # noqa: E402
from migcompat_filter.profile import Profile  # noqa: E402
from migcompat_filter.traits import codec as traits  # noqa: E402
from tests.functional import fleet_base  # noqa: E402
from tests.functional import nova_like  # noqa: E402
from tests.functional import placement_server  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..')
#: (base, field, value) roll-out variants: 8, for 17 distinct profiles.
VARIANTS = [('milan-a', 'microcode_version', '0xa0011d5'),
            ('milan-a', 'kernel_version', '6.1.0-28-amd64'),
            ('rome-q90', 'microcode_version', '0x830107c'),
            ('rome-q90', 'kernel_version', '6.1.0-28-amd64'),
            ('clx-8268', 'microcode_version', '0x5003707'),
            ('clx-8268', 'kernel_version', '6.1.0-28-amd64'),
            ('genoa-q10', 'microcode_version', '0xa101148'),
            ('clx-4214r', 'microcode_version', '0x5003707')]
#: The per-host trait of the calibrated TSC frequency (trait_vocabulary).
TSC_TRAIT = 'CUSTOM_MIGCOMPAT_TSCHZ_'


class LoggedPlacement(placement_server.PlacementServer):
    """PlacementServer with gunicorn's access log: server-side counts."""

    def __init__(self, start_timeout=90, db=None):
        super(LoggedPlacement, self).__init__(start_timeout)
        self.keep = db

    def _setUp(self):
        self.access = None
        super(LoggedPlacement, self)._setUp()

    def start(self):
        self.access = os.path.join(self.tmp, 'access.log')
        if self.keep and os.path.exists(self.keep + '.json'):
            import shutil
            shutil.copyfile(self.keep, self.db)
        real = placement_server._gunicorn

        # The fixture's own start, with --access-logfile added.
        def gunicorn():
            return self._wrapper(real())
        placement_server._gunicorn = gunicorn
        try:
            super(LoggedPlacement, self).start()
        finally:
            placement_server._gunicorn = real

    def _wrapper(self, gunicorn):
        path = os.path.join(self.tmp, 'gunicorn-logged')
        with open(path, 'w') as f:
            f.write('#!/bin/sh\nexec %s --access-logfile %s "$@"\n'
                    % (gunicorn, self.access))
        os.chmod(path, 0o755)
        return path

    def cpu(self):
        """CPU seconds of the server's processes (gunicorn and its
        worker) so far, or None without psutil.
        """
        try:
            import psutil
        except ImportError:
            return None
        proc = psutil.Process(self.process.pid)
        return sum(sum(p.cpu_times()[:2])
                   for p in [proc] + proc.children(recursive=True))

    def served(self):
        try:
            with open(self.access) as f:
                return sum(1 for _ in f)
        except OSError:
            return 0


def profiles():
    """[(label, Profile, share)] of the 17 distinct profiles."""
    bases = dict(nova_like.demo_profiles())
    out = [(name, prof) for name, prof in sorted(bases.items())]
    for base, field, value in VARIANTS:
        data = bases[base].to_dict()
        data[field] = value
        out.append(('%s+%s' % (base, field.split('_')[0]),
                    Profile.from_dict(data)))
    # Skewed shares: 23% for milan-a down to a few percent.
    weights = {'milan-a': 23, 'milan-b': 8, 'rome-q90': 9, 'genoa-q10': 7}
    return [(label, prof, weights.get(label, 3)) for label, prof in out]


def plan(n, kinds):
    """[(name, kind index)] for n hosts by the kinds' shares."""
    seq = [i for i, (_l, _p, share) in enumerate(kinds)
           for _ in range(share)]
    return [('node-%05d' % j, seq[j % len(seq)]) for j in range(n)]


def _kinds():
    """(kinds, their trait sets, the distinct digests, is-AMD per kind)."""
    kinds = profiles()
    wanted = [set(traits.encode(p)) for _l, p, _s in kinds]
    digests = {t for w in wanted for t in w
               if t.startswith(traits.DIGEST_PREFIX)}
    amd = [isinstance(p['cpu_model'], dict) and
           p['cpu_model'].get('vendor') == 'AMD' for _l, p, _s in kinds]
    return kinds, wanted, digests, amd


def populate(server, client, n, workers):
    kinds, wanted, digests, amd = _kinds()
    agg = str(uuid.uuid4())
    hosts = plan(n, kinds)
    first = {}
    for name, kind in hosts:
        first.setdefault(kind, name)

    def one(item):
        name, kind = item
        rp = server.create_provider(name)
        own = nova_like.nova_traits(kinds[kind][1])
        if first[kind] == name:
            client.put_traits(rp['uuid'], own, 0)
            reporter.sync(client, rp['uuid'], sorted(wanted[kind]))
            gen = None
        else:
            # nova's and ours in one PUT: the state the reporter leaves.
            gen = client.put_traits(rp['uuid'], own | set(wanted[kind]), 0)
        if amd[kind]:
            if gen is None:
                gen = client.find_provider(rp['uuid'])['generation']
            server.request('PUT', '/resource_providers/%s/aggregates'
                           % rp['uuid'],
                           json={'aggregates': [agg],
                                 'resource_provider_generation': gen})
        return name, rp['uuid']

    # The first host of each profile first: its reporter creates the
    # trait names the other hosts' one PUT needs.
    firsts = [h for h in hosts if first[h[1]] == h[0]]
    uuids = dict(map(one, firsts))
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        uuids.update(pool.map(one, [h for h in hosts if h not in firsts]))
    return uuids, agg, len(digests), sum(amd[k] for _n, k in hosts)


def populate_fast(server, client, n, spread_khz, seed=1):
    """populate()'s fleet, with the hosts' own calibrated TSC frequencies
    (KVM's kHz x 1000 over spread_khz kHz around each profile's), written
    the fast way: the first host of each profile over HTTP with the
    reporter (reporter.sync creates the trait names), then every other
    host straight into the server's sqlite database, with exactly the
    traits that host's report would set (the profile's traits with its own
    CUSTOM_MIGCOMPAT_TSCHZ_<Hz>, a per-host trait outside the digest).
    """
    import random
    kinds, wanted, digests, amd = _kinds()
    agg = str(uuid.uuid4())
    hosts = plan(n, kinds)
    rng = random.Random(seed)
    uuids, firsts = {}, set()
    for name, kind in hosts:
        if kind in firsts:
            continue
        firsts.add(kind)
        rp = server.create_provider(name)
        client.put_traits(rp['uuid'], nova_like.nova_traits(kinds[kind][1]), 0)
        reporter.sync(client, rp['uuid'], sorted(wanted[kind]))
        uuids[name] = rp['uuid']
        if amd[kind]:
            gen = client.find_provider(rp['uuid'])['generation']
            server.request('PUT', '/resource_providers/%s/aggregates'
                           % rp['uuid'],
                           json={'aggregates': [agg],
                                 'resource_provider_generation': gen})
    rest = []
    for name, kind in hosts:
        if name in uuids:
            continue
        own = {t for t in wanted[kind] if not t.startswith(TSC_TRAIT)}
        tsc = [t for t in wanted[kind] if t.startswith(TSC_TRAIT)]
        if tsc:
            hz = int(tsc[0][len(TSC_TRAIT):]) + rng.randrange(spread_khz) \
                * 1000
            own.add('%s%d' % (TSC_TRAIT, hz))
        rest.append((str(uuid.uuid4()), name, kind,
                     own | nova_like.nova_traits(kinds[kind][1])))
    placement_server.write_providers(
        server.db, [(u, name, names, amd[kind])
                    for u, name, kind, names in rest], aggregate=agg)
    uuids.update((name, u) for u, name, _k, _n in rest)
    return uuids, agg, len(digests), sum(amd[k] for _n, k in hosts)


def keep(server, path, meta):
    """Copy the server's database to path (sqlite's backup API: a
    consistent copy while the server runs) and meta to path.json.
    """
    import sqlite3
    src, dst = sqlite3.connect(server.db), sqlite3.connect(path)
    with dst:
        src.backup(dst)
    src.close()
    dst.close()
    with open(path + '.json', 'w') as f:
        json.dump(meta, f)


def run(server, argv, env=None):
    """(requests served, wall s, the process's CPU s) of one migcompat
    process.
    """
    import resource
    cli = os.path.join(os.path.dirname(sys.executable), 'migcompat')
    before, server_cpu = server.served(), server.cpu()
    cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    out = subprocess.run([cli] + argv + ['-f', 'json', '--placement-url',
                                         server.url],
                         capture_output=True, text=True, cwd=ROOT, env=env)
    wall = time.perf_counter() - t0
    cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    time.sleep(0.2)  # gunicorn writes its access log after the answer
    if out.returncode != 0:
        raise RuntimeError('%s: exit %d: %s' % (' '.join(argv),
                                                out.returncode,
                                                out.stderr[-2000:]))
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    if server_cpu is not None:
        server_cpu = server.cpu() - server_cpu
    return server.served() - before, wall, cpu, server_cpu


def in_process(n):
    """The commands' own work without HTTP, for n hosts: hosts sharing
    their group's profile (as Fleet.load gives them) against every host
    decoded from its own traits (as before profile groups).
    """
    from migcompat_filter.fleet import baseline
    from migcompat_filter.fleet import inventory
    from migcompat_filter.fleet import matrix
    from migcompat_filter.placement import hoststate
    kinds = profiles()
    wanted = [traits.encode(p) for _l, p, _s in kinds]
    hosts = plan(n, kinds)
    amd = {i for i, (_l, p, _s) in enumerate(kinds)
           if isinstance(p['cpu_model'], dict) and
           p['cpu_model'].get('vendor') == 'AMD'}
    cpu_map = baseline.LibvirtCPUMap()
    distinct = {t for w in wanted for t in w
                if t.startswith(traits.DIGEST_PREFIX)}
    print('in-process work, %d hosts of %d distinct profiles (libvirt %s):'
          % (n, len(distinct), cpu_map.uri))
    print('%-10s %10s %10s %10s %10s' % ('', 'decode', 'matrix', 'accepts',
                                         'baseline'))
    rows = {}
    for way in ('per host', 'grouped'):
        t0 = time.perf_counter()
        shared = {}
        fleet = []
        for name, kind in hosts:
            h = inventory.Host(name, name)
            if way == 'grouped':
                if kind not in shared:
                    shared[kind] = hoststate.classify(wanted[kind])
                h.adopt(shared[kind])
            else:
                h.traits = set(wanted[kind])
                h.classify()
            fleet.append(h)
        times = [time.perf_counter() - t0]
        t0 = time.perf_counter()
        matrix.build(fleet)
        times.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        matrix.accepts(fleet, fleet[0])
        times.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        baseline.compute([h for h, (_n, k) in zip(fleet, hosts)
                          if k in amd], cpu_map)
        times.append(time.perf_counter() - t0)
        rows[way] = times
        print('%-10s' % way + ''.join('%9.3fs ' % t for t in times))
    pairs = zip(rows['per host'], rows['grouped'])
    print('%-10s' % 'ratio' + ''.join('%9.1fx ' % (a / b if b else 0)
                                      for a, b in pairs))
    print('(per host: each host decoded from its own traits, so accepts '
          'evaluates per host; baseline dedupes by profile key either way)')


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--hosts', type=int, default=1000)
    parser.add_argument('--workers', type=int, default=4,
                        help='concurrent clients while populating')
    parser.add_argument('--repeat', type=int, default=3,
                        help='runs of each command (median shown)')
    parser.add_argument('--keep', metavar='FILE',
                        help='keep the populated sqlite database in FILE '
                             '(and FILE.json); reuse it when it exists')
    parser.add_argument('--http', action='store_true',
                        help='populate every host over HTTP (minutes at '
                             '10,000 hosts; every host of a profile then '
                             'has the same TSC frequency)')
    parser.add_argument('--tsc-spread-khz', type=int, default=1000,
                        help='the hosts\' calibrated TSC frequencies spread '
                             'over this many kHz (default 1000)')
    parser.add_argument('--in-process', action='store_true',
                        help='only the commands\' own work, no placement')
    args = parser.parse_args()
    if args.in_process:
        return in_process(args.hosts)
    if os.path.isdir('/dev/shm'):
        # The sqlite database in memory: population is fsync-bound.
        tempfile.tempdir = '/dev/shm'
    server = LoggedPlacement(start_timeout=180, db=args.keep)
    server.setUp()
    nova = None
    try:
        client = placement.PlacementClient(
            placement.adapter_noauth(server.url))
        t0 = time.perf_counter()
        if args.keep and os.path.exists(args.keep + '.json'):
            with open(args.keep + '.json') as f:
                uuids, agg, p, n_amd = json.load(f)
            print('reusing %s (%d hosts)' % (args.keep, len(uuids)))
        elif args.http:
            uuids, agg, p, n_amd = populate(server, client, args.hosts,
                                            args.workers)
        else:
            uuids, agg, p, n_amd = populate_fast(server, client, args.hosts,
                                                 args.tsc_spread_khz)
            if args.keep:
                keep(server, args.keep, (uuids, agg, p, n_amd))
        print('populated %d hosts (%d AMD in aggregate %s), %d distinct '
              'profiles, in %.0f s (%d requests)'
              % (len(uuids), n_amd, agg, p, time.perf_counter() - t0,
                 server.served()))
        hyps = [{'id': u, 'hypervisor_hostname': n, 'state': 'up',
                 'status': 'enabled',
                 'service': {'host': n, 'disabled_reason': None}}
                for n, u in sorted(uuids.items())]
        server_rec = {'id': str(uuid.uuid4()), 'name': 'web-1',
                      'status': 'ACTIVE',
                      'OS-EXT-SRV-ATTR:hypervisor_hostname': 'node-00000'}
        nova = fleet_base.FakeNova(hyps, [server_rec], []).start()
        budget = 2 * p + 3
        commands = [
            ('host list', ['host', 'list']),
            ('matrix', ['matrix']),
            ('baseline --aggregate', ['baseline', '--aggregate', agg]),
            ('check (nova)', ['check', 'web-1', '--nova-url', nova.url]),
            ('host show', ['host', 'show', 'node-00001']),
        ]
        run(server, ['host', 'list'])  # warm-up, not counted
        print('%d runs each; wall: median (min-max); CPU s: median of the '
              'CLI process and of placement' % args.repeat)
        print('%-22s %9s %20s %8s %8s %s' % (
            'command', 'requests', 'wall s', 'CLI CPU', 'pl. CPU',
            'target (req <= %d%s)' % (
                budget, ', wall <= 5 s' if args.hosts >= 10000 else '')))
        for label, argv in commands:
            runs = [run(server, argv) for _ in range(args.repeat)]
            counts = sorted({r[0] for r in runs})
            walls = sorted(r[1] for r in runs)
            cpu = sorted(r[2] for r in runs)[len(runs) // 2]
            pl_cpu = sorted(r[3] or 0 for r in runs)[len(runs) // 2]
            wall = walls[len(walls) // 2]
            ok = max(counts) <= budget and (args.hosts < 10000 or
                                            wall <= 5.0)
            print('%-22s %9s %8.2f (%.2f-%.2f) %8.2f %8.2f %s' % (
                label, '/'.join(map(str, counts)), wall, walls[0],
                walls[-1], cpu, pl_cpu, 'met' if ok else 'MISSED'))
            sys.stdout.flush()
    finally:
        if nova is not None:
            nova.stop()
        server.cleanUp()


if __name__ == '__main__':
    main()
