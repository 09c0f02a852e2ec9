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

"""bench_scheduler.py --real: the scheduler's profile cache on a REAL
placement server, with a fleet whose hosts differ only in their
calibrated TSC frequency (P = N today). See bench_scheduler.py's
docstring; run through it.
"""

import gc
import random
import signal
import statistics
import sys
import threading
import time
import tracemalloc
import uuid

SOURCE_NAME = 'host00001'
TSC_BASE_HZ = 2095000000
#: The per-host trait of the calibrated TSC frequency (trait_vocabulary).
TSC_TRAIT_PREFIX = 'CUSTOM_MIGCOMPAT_TSCHZ_'
#: A few of the traits nova-compute itself puts on every compute node.
NOVA_TRAITS = {'COMPUTE_NODE', 'COMPUTE_VOLUME_EXTEND', 'HW_CPU_X86_AVX2',
               'HW_CPU_X86_SSE42', 'COMPUTE_NET_VIF_MODEL_VIRTIO',
               'COMPUTE_IMAGE_TYPE_QCOW2'}


def tsc_frequency(rng, spread_khz, to_the_hz=False):
    """A calibrated TSC frequency in Hz as libvirt reports it: KVM's
    kHz x 1000 (virHostCPUGetTscInfo), within spread_khz of the base;
    to_the_hz: any Hz in that range (the worst case).
    """
    if to_the_hz:
        return TSC_BASE_HZ + rng.randrange(spread_khz * 1000)
    return TSC_BASE_HZ + rng.randrange(spread_khz) * 1000


def fleet_traits(n, seed=1, spread_khz=1000, to_the_hz=False):
    """[(rp_uuid, name, trait names)] of n hosts: the same Milan profile,
    each with its own calibrated TSC frequency (tsc_frequency).
    """
    from migcompat_filter.traits import codec as traits

    import bench_scheduler as bench
    base = dict(_milan(bench).factors)
    rng = random.Random(seed)
    out = []
    for i in range(1, n + 1):
        factors = dict(base)
        factors['tsc'] = {'frequency': tsc_frequency(rng, spread_khz,
                                                     to_the_hz),
                          'scaling': False}
        prof = _profile(factors)
        name = 'host%05d' % i
        names = (set(bench.source_traits(prof)) if name == SOURCE_NAME
                 else set(traits.encode(prof)))
        out.append((str(uuid.uuid4()), name,
                    sorted(names | NOVA_TRAITS)))
    return out


def _milan(bench):
    from migcompat_filter.host import reader
    from migcompat_filter.host import source as hostsource
    import os
    return reader.read_profile(hostsource.SnapshotSource(
        os.path.join(bench.FIXTURES, 'epyc-milan-nested-l1')))


def _profile(factors):
    from migcompat_filter import profile as profile_mod
    return profile_mod.Profile(factors)


class RequestCounter(object):
    """nova's report client, counting GETs per global_request_id: the
    request path sends the request's id, the refresher none.
    """

    def __init__(self, client):
        self.client = client
        self.by_request = {}
        self._lock = threading.Lock()

    def get(self, url, version=None, global_request_id=None):
        with self._lock:
            self.by_request[global_request_id] = \
                self.by_request.get(global_request_id, 0) + 1
        return self.client.get(url, version=version,
                               global_request_id=global_request_id)

    def calls(self, request_id):
        with self._lock:
            return self.by_request.get(request_id, 0)


def _mb(n):
    return n / 1e6


def main(args, bench):
    from nova.scheduler.client import report
    from oslo_utils import timeutils

    from migcompat_filter.demo import offline
    from migcompat_filter.placement import client as placement
    from migcompat_filter.scheduler import migration_filter
    from migcompat_filter.traits import codec as traits
    from tests.functional import placement_server

    # A timeout's SIGTERM still stops the placement server (finally below).
    signal.signal(signal.SIGTERM, lambda *_a: sys.exit(143))
    all_w = ['nova.scheduler.weights.all_weighers']
    base_hm = bench.make_host_manager(bench.DEFAULT_FILTERS, all_w)
    ours_hm = bench.make_host_manager(
        bench.DEFAULT_FILTERS + ['MigrationCompatibilityFilter'],
        all_w + ['migcompat_filter.scheduler.all_weighers'])
    own = bench.OwnTime(ours_hm)
    guest_cpu = bench.vcpu_model()
    for n in [int(x) for x in args.hosts.split(',')]:
        t0 = time.perf_counter()
        fleet = fleet_traits(n, spread_khz=args.tsc_spread_khz,
                             to_the_hz=args.tsc_hz)
        digests = {t for _u, _n, names in fleet for t in names
                   if t.startswith(traits.DIGEST_PREFIX)}
        tsc_names = {t for _u, _n, names in fleet for t in names
                     if t.startswith(TSC_TRAIT_PREFIX)}
        # Two processes, as devstack runs placement (the database is
        # written before they serve, and only read after).
        server = placement_server.PlacementServer(workers=2)
        server.setUp()
        try:
            placement_server.write_providers(
                server.db, [(u, n, names, False) for u, n, names in fleet])
            print('%d hosts (identical but for the TSC frequency, %s) '
                  'written in %.1f s; %d distinct digests, %d distinct TSC '
                  'trait names; placement: 2 gunicorn workers' % (
                      n, 'to the Hz' if args.tsc_hz else
                      'kHz x 1000 over %d kHz' % args.tsc_spread_khz,
                      time.perf_counter() - t0, len(digests),
                      len(tsc_names)))
            adapter = placement.adapter_noauth(server.url, timeout=None)
            counter = RequestCounter(
                report.SchedulerReportClient(adapter=adapter))
            now = timeutils.utcnow()
            cell = str(uuid.uuid4())
            hosts = [offline.make_host_state(
                name, name, cell, rp, 7002022, vcpus_used=i % 31,
                free_ram_mb=65536 - (i % 97) * 256, num_instances=i % 17,
                num_io_ops=i % 5, now=now)
                for i, (rp, name, _t) in enumerate(fleet)]
            source = hosts[0]
            _rows(args, bench, migration_filter, counter, hosts, source,
                  guest_cpu, base_hm, ours_hm, own)
        finally:
            server.cleanUp()


def _rows(args, bench, migration_filter, counter, hosts, source, guest_cpu,
          base_hm, ours_hm, own):
    from migcompat_filter.scheduler import instances
    from migcompat_filter.scheduler import state

    n = len(hosts)

    def live(spec):
        return instances.LiveMigration(
            spec.instance_uuid, source.host, source.nodename, source.uuid,
            request_id='req-' + spec.instance_uuid, vcpu_model=guest_cpu)
    migration_filter.live_migration = live

    def request(hm):
        """(seconds, passed, request-path calls) of one live migration."""
        spec = bench.request_spec(True, source)
        took, passed, _top = bench.run_once(hm, hosts, spec)
        return took, passed, counter.calls('req-' + spec.instance_uuid)

    # The refresher's reads, timed in this thread (and their memory).
    shared = state.reset_shared(lambda: counter,
                                background=False)
    cache = shared.profiles
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    t0 = time.perf_counter()
    ok = cache.refresh_now()
    cold_s = time.perf_counter() - t0
    gc.collect()
    cur, peak = tracemalloc.get_traced_memory()
    cold_calls = counter.calls(None)
    tracemalloc.reset_peak()
    held = tracemalloc.get_traced_memory()[0]
    t0 = time.perf_counter()
    ok = cache.refresh_now() and ok
    ttl_s = time.perf_counter() - t0
    gc.collect()
    cur2, peak2 = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    ttl_calls = counter.calls(None) - cold_calls
    snap = cache.snapshot()
    print('refresher, cold read: %.2f s, %d calls (%r%s)' % (
        cold_s, cold_calls, snap.grouping, '' if ok else ', FAILED'))
    print('refresher, TTL read:  %.2f s, %d calls' % (ttl_s, ttl_calls))
    print('profile cache memory at %d hosts (tracemalloc): %.2f MB retained '
          'after the cold read, peak +%.2f MB during it; after a TTL read '
          '%.2f MB, peak +%.2f MB over the %.2f MB held' % (
              n, _mb(cur - before), _mb(peak - before), _mb(cur2 - before),
              _mb(peak2 - held), _mb(held - before)))

    print('%-6s %-22s %9s %9s %6s %8s %10s %6s %s' % (
        'hosts', 'request', 'base ms', 'ours ms', 'ratio', 'own ms',
        'ratio own', 'calls', 'passed'))

    def row(label, runs, base_t=None):
        base_t = base_t or [bench.run_once(base_hm, hosts, bench.request_spec(
            True, source))[0] for _ in range(args.requests)]
        b = statistics.median(base_t)
        t, w, c, p = (statistics.median(x) for x in zip(*runs))
        print('%-6d %-22s %9.1f %9.1f %6.3f %8.2f %10.3f %6.1f %d' % (
            n, label, b * 1e3, t * 1e3, t / b, w * 1e3, (b + w) / b, c, p))

    def timed():
        o0 = own.total
        took, passed, calls = request(ours_hm)
        return took, own.total - o0, calls, passed

    timed()  # verdicts and similarities computed once
    row('live-migr, snapshot', [timed() for _ in range(args.requests)])
    reads = []
    for _ in range(args.requests):
        t0 = time.perf_counter()
        cache.read_source(source.uuid, cache.clock() + 10)
        reads.append(time.perf_counter() - t0)
    print('       (of "own ms": the source read over HTTP alone, median '
          '%.1f ms)' % (statistics.median(reads) * 1e3))

    # Four concurrent requests while the refresher reads, against four
    # concurrent requests of nova alone.
    def four(hm):
        results = []

        def one():
            t0 = time.perf_counter()
            _took, passed, calls = request(hm)
            results.append((time.perf_counter() - t0, calls, passed))
        o0 = own.total
        threads = [threading.Thread(target=one) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        # Our filter's and weigher's time, shared out over the 4 (it
        # includes waiting for the GIL held by the others and the
        # refresher: on 2 cores the requests take turns).
        share = (own.total - o0) / len(results)
        return [(took, share, calls, passed)
                for took, calls, passed in results]
    base4 = [r[0] for r in four(base_hm)]
    waits = []
    real_snapshot = cache.snapshot

    def timed_snapshot(*a, **kw):
        t0 = time.perf_counter()
        try:
            return real_snapshot(*a, **kw)
        finally:
            waits.append(time.perf_counter() - t0)
    cache.snapshot = timed_snapshot
    span = {}

    def refresh():
        span['start'] = time.perf_counter()
        cache.refresh_now()
        span['end'] = time.perf_counter()
    refreshing = threading.Thread(target=refresh)
    refreshing.start()
    time.sleep(0.05)
    t0 = time.perf_counter()
    results = four(ours_hm)
    t1 = time.perf_counter()
    refreshing.join()
    cache.snapshot = real_snapshot
    row('4 during refresh', results, base4)
    print('       (4 concurrent requests on %d cores, base also 4 '
          'concurrent; the refresh ran %.2f-%.2f s, the requests '
          '%.2f-%.2f s; longest wait for the snapshot in a request: '
          '%.3f ms)' % (_cores(), 0.0, span['end'] - span['start'],
                        t0 - span['start'], t1 - span['start'],
                        max(waits) * 1e3))

    # A scheduler that just started (the filter built: the refresher
    # reads at once). Its first live migration after that first read; and
    # one that arrives during it, which by default does not wait
    # (initial_profile_wait = 0): its destinations are unjudged and pass.
    after, during = [], []
    for _ in range(min(3, args.requests)):
        shared = state.reset_shared(lambda: counter)
        shared.profiles.start()
        shared.profiles._first.wait(600)
        after.append(timed())
        shared.profiles.stop()
        shared = state.reset_shared(lambda: counter)
        shared.profiles.start()
        during.append(timed())
        shared.profiles.stop()
        shared.profiles._first.wait(600)  # no overlap with the next one
    row('first after start', after)
    row('first during 1st read', during)
    print('       ("first during 1st read": no wait, its %d destinations '
          'unjudged; placement_error_action decides)' % during[0][3])


def _cores():
    import os
    return os.cpu_count() or 1
