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

"""Benchmark MigrationCompatibilityFilter/-Weigher in nova's scheduler path.

Runs nova's own HostManager.get_filtered_hosts + get_weighed_hosts (the
filter and weigher handlers nova-scheduler uses) over 1,000 and 10,000
HostState objects, with nova's default filters and weighers alone and with
ours added, for a live migration (warm and cold profile cache) and for a
boot. Prints the time per scheduling request, the ratio with/without ours,
microseconds per host, and the Placement calls per request.

What is real and what is not:

* nova's HostManager filtering and weighing code, nova's default filters
  and weighers, our filter, weigher, cache, trait codec and rules engine;
* host profiles: real snapshots from tests/fixtures/hosts plus the
  variants a real fleet has (kernel, microcode, QEMU updates rolled out to
  part of it), encoded with the real codec;
* Placement is an in-memory stand-in answering the same URLs the cache
  sends (it counts calls; its speed is not what is measured);
* the one database read that tells a live migration (the Instance's
  task_state and vcpu_model, and the source ComputeNode) is stubbed: it
  costs the same at any number of hosts. The instance's vcpu_model is a
  real nova VirtCPUModel (host-model, one extra flag), and the source
  publishes a running-guests record (40 guests) that the filter reads
  from Placement on every live migration (1 call when warm).

With ``--real``, the rows run against a REAL placement server instead
(tests/functional/placement_server.PlacementServer: gunicorn with two
worker processes, sqlite, nova's own SchedulerReportClient): a fleet of
N hosts identical except their calibrated TSC frequency and their
provider UUIDs, each published with ``traits.encode(profile)``. The
frequencies are what libvirt reports (KVM's TSC kHz x 1000) spread over
--tsc-spread-khz kHz (default 1,000: 2,095.000 to 2,095.999 MHz);
``--tsc-hz`` draws them to the Hz instead (every host its own value:
more distinct per-host trait names than any real fleet has, the worst
case for Placement). It prints how many distinct digests and TSC trait
names that gives, the background refresher's cold and TTL reads (wall
time, Placement calls, tracemalloc memory of the profile cache), and
live-migration requests in nova's HostManager with the snapshot
installed, during a refresh (4 concurrent requests) and right after a
start, with the Placement calls made in the request path. The providers
are written straight into the server's sqlite database (the schema
placement's own sync created; the trait names are exactly
traits.encode's), since 10,000 providers over HTTP take minutes; the
server then answers every read over HTTP.

Usage: python tools/bench_scheduler.py [--hosts 1000,10000] [--requests N]
       python tools/bench_scheduler.py --real [--hosts 10000]
                                       [--tsc-spread-khz K] [--tsc-hz]
"""

import argparse
import collections
import os
import statistics
import sys
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)
FIXTURES = os.path.join(ROOT, 'tests', 'fixtures', 'hosts')

DEFAULT_FILTERS = ['ComputeFilter', 'ComputeCapabilitiesFilter',
                   'ImagePropertiesFilter', 'ServerGroupAntiAffinityFilter',
                   'ServerGroupAffinityFilter']


def fleet_profiles():
    """(name, Profile, share) of a realistic fleet."""
    from migcompat_filter.host import reader
    from migcompat_filter.host import source as hostsource
    from migcompat_filter import profile as profile_mod

    def read(name):
        return reader.read_profile(hostsource.SnapshotSource(
            os.path.join(FIXTURES, name)))

    def variant(prof, **changes):
        factors = dict(prof.factors)
        factors.update(changes)
        return profile_mod.Profile(factors)

    out = []
    milan = read('epyc-milan-nested-l1')
    # The main AMD generation: a rolling kernel and microcode update.
    for i, (kernel, micro) in enumerate([
            ('6.18.44-fc-v595', '0x1000065'),
            ('6.18.44-fc-v669', '0x1000065'),
            ('6.18.44-fc-v669', '0x1000066'),
            ('6.19.2-fc-v700', '0x1000066')]):
        for mode in ('host-model', 'host-passthrough'):
            out.append(('milan-%d-%s' % (i, mode),
                        variant(milan, kernel_version=kernel,
                                microcode_version=micro, cpu_mode=mode),
                        0.12))
    out.append(('this-host', read('this-host-epyc-nested-l1-20261125'),
                0.04))
    for name in ('libvirt-cpuid-xeon-gold-6148-host',
                 'libvirt-cpuid-xeon-platinum-8268-host',
                 'libvirt-cpuid-xeon-silver-4214r-host',
                 'libvirt-cpuid-ice-lake-server-host',
                 'libvirt-cpuid-epyc-7713-64-core-host',
                 'libvirt-caps-zen5-full'):
        out.append((name, read(name), 0.02))
    return out


def build(n_hosts, with_digest=True, schema=2):
    """HostStates and Placement data for n_hosts; the source's uuid;
    the records schema 3's traits point at ({} for schema 2).
    """
    from oslo_utils import timeutils

    from migcompat_filter.demo import offline
    from migcompat_filter.traits import codec as traits

    fleet = fleet_profiles()
    encoded = []
    records = {}
    for name, prof, share in fleet:
        names = traits.encode(prof, schema)  # the digest trait included
        records.update(getattr(names, 'records', {}))
        if not with_digest:
            names = [t for t in names
                     if not t.startswith(traits.DIGEST_PREFIX)]
        encoded.append((name, set(names), share))
    total = sum(share for _n, _t, share in encoded)
    provider_traits = {}
    host_states = []
    now = timeutils.utcnow()
    cell = str(uuid.uuid4())
    counts = collections.Counter()
    i = 0
    for name, names, share in encoded:
        k = int(round(n_hosts * share / total))
        for _ in range(k):
            if len(host_states) >= n_hosts:
                break
            i += 1
            hs = offline.make_host_state(
                'host%05d' % i, 'node%05d' % i, cell, str(uuid.uuid4()),
                7002022, vcpus_used=i % 31,
                free_ram_mb=65536 - (i % 97) * 256, num_instances=i % 17,
                num_io_ops=i % 5, now=now)
            host_states.append(hs)
            provider_traits[hs.uuid] = names
            counts[name] += 1
    source = host_states[0]
    # The source is a host of the first profile (it keeps that digest).
    names = source_traits(fleet[0][1], schema)
    records.update(getattr(names, 'records', {}))
    provider_traits[source.uuid] = set(names)
    return host_states, provider_traits, source, counts, records


def source_traits(prof, schema=2):
    """The source's traits with a running-guests record, as its reporter
    publishes it for 40 running guests (host-model and custom).
    """
    from migcompat_filter import profile as profile_mod
    from migcompat_filter.traits import codec as traits

    features = sorted(prof['host_model']['features'])
    record = {'count': 40, 'modes': {'host-model': 36, 'custom': 4},
              'host_model_features': [f for f in features
                                      if f not in ('invtsc', 'xsaves')],
              'custom_features': features[:20], 'unexpanded': [],
              'machine_types': ['pc-q35-7.2'], 'invtsc_frequencies': [],
              'invtsc_unpinned': 0, 'phys_bits': [40], 'passthrough_extra': []}
    factors = dict(prof.factors, running_guests=record)
    return traits.encode(profile_mod.Profile(factors), schema)


def vcpu_model():
    """The instance's vcpu_model as nova's libvirt driver stores it."""
    from nova import objects
    return objects.VirtCPUModel(
        arch='x86_64', vendor='AMD', model=None, mode='host-model',
        match=None, topology=None,
        features=[objects.VirtCPUFeature(name='clwb', policy='require')])


def make_host_manager(enabled_filters, weight_classes):
    import nova.conf

    from migcompat_filter.demo import offline

    conf = nova.conf.CONF
    conf.set_override('enabled_filters', enabled_filters, 'filter_scheduler')
    conf.set_override('available_filters',
                      ['nova.scheduler.filters.all_filters',
                       'migcompat_filter.scheduler.all_filters'],
                      'filter_scheduler')
    conf.set_override('weight_classes', weight_classes, 'filter_scheduler')
    return offline.make_host_manager(conf)


def request_spec(live_migration, source):
    from nova import objects
    flavor = objects.Flavor(memory_mb=2048, vcpus=2, root_gb=20,
                            ephemeral_gb=0, swap=0, extra_specs={},
                            name='m1.small', flavorid='2')
    spec = objects.RequestSpec(
        instance_uuid=str(uuid.uuid4()), flavor=flavor,
        image=objects.ImageMeta.from_dict({'properties': {}}),
        num_instances=1, force_hosts=[], force_nodes=[],
        instance_group=None, scheduler_hints={}, is_bfv=False,
        project_id='p', user_id='u', availability_zone=None,
        ignore_hosts=[source.host] if live_migration else None,
        requested_destination=None, retry=None, limits=None,
        numa_topology=None, pci_requests=None,
        request_level_params=objects.RequestLevelParams())
    return spec


class OwnTime(object):
    """Times our filter's and weigher's own methods inside a HostManager:
    a second, low-noise measure of what they add to a request.
    """

    def __init__(self, hm):
        self.total = 0.0
        for obj in list(hm.enabled_filters) + list(hm.weighers):
            if obj.__class__.__module__.startswith('migcompat_filter'):
                for name in ('filter_all', 'weigh_objects'):
                    if hasattr(obj, name):
                        setattr(obj, name, self._wrap(getattr(obj, name)))

    def _wrap(self, method):
        def timed(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                self.total += time.perf_counter() - t0
        return timed


def run_once(hm, hosts, spec):
    from oslo_utils import timeutils
    # nova's ComputeFilter refuses a host whose service has not reported
    # for service_down_time (60 s); the benchmark runs longer than that.
    now = timeutils.utcnow()
    for hs in hosts:
        hs.service['last_seen_up'] = now
    t0 = time.perf_counter()
    passed = hm.get_filtered_hosts(list(hosts), spec)
    weighed = hm.get_weighed_hosts(passed, spec)
    elapsed = time.perf_counter() - t0
    return elapsed, len(passed), weighed[0].obj.host if weighed else None


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--hosts', default='1000,10000')
    parser.add_argument('--requests', type=int, default=15)
    parser.add_argument('--real', action='store_true',
                        help='real placement server, P = N TSC fleet')
    parser.add_argument('--tsc-spread-khz', type=int, default=1000,
                        help='with --real: the calibrated TSC frequencies '
                        'spread over this many kHz (default 1000)')
    parser.add_argument('--schema', type=int, choices=(2, 3), default=3,
                        help='the trait schema the hosts publish '
                        '(default 3; the in-memory Placement serves the '
                        'migcompat store too)')
    parser.add_argument('--tsc-hz', action='store_true',
                        help='with --real: draw the TSC frequencies to the '
                        'Hz (no real host reports that; the worst case)')
    args = parser.parse_args()

    import logging
    logging.disable(logging.INFO)  # the filter's INFO line is not timed
    from nova import objects
    objects.register_all()
    import nova.conf
    nova.conf.CONF([], project='nova', default_config_files=[])

    if args.real:
        import bench_scheduler_real
        return bench_scheduler_real.main(args, sys.modules[__name__])

    from migcompat_filter.scheduler import instances
    from migcompat_filter.scheduler import migration_filter
    from migcompat_filter.scheduler import state
    from tests.fake_placement import FakePlacement

    all_weighers = ['nova.scheduler.weights.all_weighers']
    ours_w = all_weighers + ['migcompat_filter.scheduler.all_weighers']
    base = make_host_manager(DEFAULT_FILTERS, all_weighers)
    ours = make_host_manager(
        DEFAULT_FILTERS + ['MigrationCompatibilityFilter'], ours_w)
    own = OwnTime(ours)

    print('Times are medians over %d requests; "own ms" is the time spent '
          'in our filter and weigher themselves (low noise), "ratio own" '
          '= (base + own) / base.' % args.requests)
    print('%-6s %-9s %-5s %9s %9s %6s %8s %10s %8s %6s %s' % (
        'hosts', 'request', 'cache', 'base ms', 'ours ms', 'ratio',
        'own ms', 'ratio own', 'us/host', 'calls', 'passed/top'))
    for n in [int(x) for x in args.hosts.split(',')]:
        hosts, provider_traits, source, counts, records = build(
            n, schema=args.schema)
        placement = FakePlacement(provider_traits)
        placement.add_records(records.values())
        distinct = len(counts)

        guest_cpu = vcpu_model()

        def stub_live(spec, _src=source):
            return instances.LiveMigration(
                spec.instance_uuid, _src.host, _src.nodename, _src.uuid,
                vcpu_model=guest_cpu)

        def measure(live, cache):
            base_t, ours_t, own_t, calls = [], [], [], []
            shared = state.reset_shared(lambda: placement,
                                        background=False)
            shared.profiles.refresh_now()
            result = None
            for i in range(args.requests + 1):
                spec = request_spec(live, source)
                bt, _np, _top = run_once(base, hosts, spec)
                if cache == 'cold':
                    # A scheduler that just started: nothing cached; its
                    # first read (synchronous here) costs what it costs.
                    shared = state.reset_shared(
                        lambda: placement, background=False)
                    shared.profiles.refresh_now()
                elif cache == 'ttl' and i > 0:
                    # The refresher re-read the mapping (in the
                    # background in nova-scheduler): a new snapshot.
                    shared.profiles.refresh_now()
                before = placement.calls
                own_before = own.total
                spec = request_spec(live, source)
                ot, npassed, top = run_once(ours, hosts, spec)
                if i == 0 and cache != 'cold':
                    continue  # the first request fills the cache
                base_t.append(bt)
                ours_t.append(ot)
                own_t.append(own.total - own_before)
                calls.append(placement.calls - before)
                result = (npassed, top)
            del shared
            b = statistics.median(base_t)
            o = statistics.median(ours_t)
            return (b, o, statistics.median(own_t), statistics.mean(calls),
                    result)

        orig = migration_filter.live_migration
        try:
            for label, live, cache in (('live-migr', True, 'warm'),
                                       ('live-migr', True, 'ttl'),
                                       ('live-migr', True, 'cold'),
                                       ('boot', False, 'warm')):
                if live:
                    migration_filter.live_migration = stub_live
                else:
                    migration_filter.live_migration = orig
                b, o, w, c, result = measure(live, cache)
                print('%-6d %-9s %-5s %9.1f %9.1f %6.3f %8.2f %10.3f %8.2f '
                      '%6.1f %s' % (n, label, cache, b * 1e3, o * 1e3, o / b,
                                    w * 1e3, (b + w) / b, w / n * 1e6, c,
                                    '%s/%s' % result))
        finally:
            migration_filter.live_migration = orig
        print('%-7d distinct profiles: %d; every live migration costs 1 '
              'call in the request (the source: its running guests are '
              'per host); the refresher reads 2 + 2 x profiles cold, '
              '2 + profiles later, outside requests (not in "calls")'
              % (n, distinct))


if __name__ == '__main__':
    main()
