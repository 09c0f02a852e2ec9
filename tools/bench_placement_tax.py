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

"""What migcompat's traits cost Placement: A (no migcompat) beside S3.

HOW TO RUN (from the root of the checkout, in the tox env; PostgreSQL
also needs ``pip install psycopg2-binary`` and Debian's ``postgresql``
package, installed with apt-get when missing and run as root)::

    python tools/bench_placement_tax.py --hosts 1000 [--rounds 5]
    python tools/bench_placement_tax.py --hosts 10000 --rounds 3
    python tools/bench_placement_tax.py --hosts 1000 --db postgresql
    python tools/bench_placement_tax.py --hosts 1000 --variants A,S3,B

One real placement server per variant, all running at once (tests/
functional/placement_server: placement 16 under gunicorn at gunicorn's
DEFAULT limits, 1 sync worker, noauth2) on sqlite or on a private
PostgreSQL cluster on 127.0.0.1 (tools/pg_cluster: initdb/pg_ctl as
``postgres`` in a temporary directory, a free port, removed at the end).
A: nova's traits only. S3: + schema 3 (traits.encode(profile, 3)) and the
records its traits point at, as store providers (schema3.providers_of,
in the store aggregate, no inventory). S3F: S3 with every store provider
a root (no parent; schema3.providers_of makes every one a root now, so
S3F = S3). S3R: S3 with schema 2's readable names on each profile
record's root (``[migcompat] readable_profile_traits = true``). B: +
schema 2, for reference. Every variant has the
same N hosts: host i has demo profile i mod 10 (migcompat_filter/demo/
data/hosts), nova's traits as tests/functional/nova_like.nova_traits gives them
(~65), a calibrated TSC of 2,100,000 + (i mod 1000) kHz (1,000 distinct
values), nova-like inventories (VCPU 64 x4.0, MEMORY_MB 515,072 reserved
512, DISK_GB 1,800) and 10 instances of 2 VCPU / 4 GB / 40 GB, written
straight into the database (the population follows docs/reviews/turn3/
perf/placement_tax.py); every timed request goes over HTTP.

Timed in interleaved rounds (every request to every variant, the order
rotating; round 0 warms up), at nova's microversions: ``ac`` GET
/allocation_candidates?resources=VCPU:1,MEMORY_MB:512,DISK_GB:1&limit=1000
(every boot and move), ``ac_req`` the same &required=HW_CPU_X86_AVX2,
``rp_traits`` GET /resource_providers/{uuid}/traits, ``ensure`` GET
/traits?name=in:<the host's whole set> (nova's _ensure_traits before each
trait PUT), ``put`` PUT .../traits (COMPUTE_STATUS_DISABLED toggled, ours
kept), ``traits`` GET /traits, ``rp_req`` GET /resource_providers?
required=MISC_SHARES_VIA_AGGREGATE (nova-compute's sharing query).
Printed: median ms (min-max), X/A the median (min-max) of the per-round
ratios, "X min" the fastest answer of X over the run / A's, bytes; a
refused request shows its status (B's ``ensure``: 400,
over gunicorn's 4,094-byte request line). Then nova's trait-listing
request line per bundled profile, our global names, the table rows, the
reporter's first report on a fresh placement. Targets (issue 20): ratios
<= 1.10, request line <= 3,000 B, names independent of the host count,
resource_provider_traits <= 1.1 x A, a known profile's host <= 4 requests.

Measured on 2026-12-07 at commit cb76232, the 2-core machine quiet
(load < 1.5); 8-10 rounds; small requests the fastest of 15 tries per
round; S3/A, the median/min-max of the per-round ratios:

    request   sqlite 1k       sqlite 10k      PG 1k           PG 10k
    ac        0.99/0.65-1.10  1.01/0.75-1.06  1.04/0.80-1.71  0.95/0.91-1.09
    ac_req    1.02/1.00-1.66  1.03/0.93-1.11  1.04/0.59-1.56  1.02/0.94-1.18
    rp_traits 1.01/0.98-1.04  0.97/0.94-1.18  1.03/0.95-1.08  1.03/0.82-1.13
    ensure    1.03/0.98-1.04  1.01/0.94-1.06  1.03/0.97-1.10  1.03/0.74-1.10
    put       1.03/0.98-1.07  0.99/0.91-1.06  1.03/0.97-1.15  1.02/0.71-1.05
    traits    1.03/1.02-1.08  1.02/0.86-1.16  1.06/0.88-1.08  1.01/0.83-1.09
    rp_req    1.03/0.99-1.07  1.05/0.87-1.29  1.00/0.92-1.09  1.02/0.91-1.09

On the same machine under load 4-6 (test runs beside it) the medians
spread to 0.80-1.20 (rp_req, which names no trait of ours, 1.13): that is
the machine, not the request. ``traits`` lists 407 names against 377
(+8 %). PG 1k, loaded, for reference: S3R (readable names on the
profile roots) traits 1.57, ac 1.12; B (schema 2) ac 2.17, put 1.81,
traits 2.17, ensure refused (400, request line). Request line (bytes)
A / S3 / B: 1,416-1,820 / 1,633-2,037 / 11,348-14,684. Our names: 30 at
1,000 and at 10,000 hosts (16 are TSCE/TSCS digits; S3R 677, B 1,660 at
1,000). resource_provider_traits S3/A 1.090 (727,000 / 667,000; a host
with a note record has one row more: 1.105). First report, S3: a new
profile 49 and 50 requests (0.3 s quiet, 1.3-2.8 s loaded; B 343 and
185, 10.3 s loaded), a host whose profile exists 4 (B 4-5).
"""

import argparse
import datetime
import os
import statistics
import sys
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..'))
sys.path.insert(0, HERE)

import requests  # noqa: E402

import bench_fleet  # noqa: E402
from migcompat_filter.placement import client as placement  # noqa: E402
from migcompat_filter.placement import reporter  # noqa: E402
from migcompat_filter.profile import Profile  # noqa: E402
from migcompat_filter.traits import codec as traits  # noqa: E402
import pg_cluster  # noqa: E402
from tests.functional import nova_like  # noqa: E402
from tests.functional import placement_server  # noqa: E402

TSC_BASE_KHZ = 2100000
TSC_VALUES = 1000
SEED = uuid.UUID('5e1f0000-0000-4000-8000-000000000000')
INVENTORY = (('VCPU', 64, 0, 4.0), ('MEMORY_MB', 515072, 512, 1.0),
             ('DISK_GB', 1800, 0, 1.0))
INSTANCE = {'VCPU': 2, 'MEMORY_MB': 4096, 'DISK_GB': 40}
SCHEMA_OF = {'S3': 3, 'S3F': 3, 'S3R': 3, 'B': 2}
AC = ('/allocation_candidates?resources=VCPU:1,MEMORY_MB:512,DISK_GB:1'
      '&limit=1000')
DISABLED = 'COMPUTE_STATUS_DISABLED'


def with_tsc(prof, hz):
    factors = dict(prof.factors)
    factors['tsc'] = {'frequency': hz, 'scaling': False}
    return Profile(factors)


def encode(prof, variant):
    """(our trait names, {digest: record}) of a profile in a variant."""
    if variant == 'A':
        return [], {}
    names = traits.encode(prof, SCHEMA_OF[variant])
    return list(names), dict(getattr(names, 'records', None) or {})


def fleet(n, variants):
    """[(uuid, name, {variant: trait names})], {variant: {digest: record}}.
    """
    profs = nova_like.demo_profiles()
    nova = [nova_like.nova_traits(p) for _l, p in profs]
    memo, hosts, records = {}, [], {v: {} for v in variants}
    for i in range(n):
        k, hz = i % len(profs), (TSC_BASE_KHZ + i % TSC_VALUES) * 1000
        sets = {}
        for v in variants:
            if (k, hz, v) not in memo:
                memo[k, hz, v] = encode(with_tsc(profs[k][1], hz), v)
            names, recs = memo[k, hz, v]
            records[v].update(recs)
            sets[v] = sorted(nova[k] | set(names))
        hosts.append((str(uuid.UUID(int=SEED.int + i)), 'cn-%05d' % i, sets))
    return hosts, records


# -- population: the same rows into sqlite or PostgreSQL ---------------------

def populate(db, hosts, variant, records, instances):
    """Hosts (with traits, inventories, allocations) and the variant's
    store records (providers without inventory in the store aggregate).
    """
    now = datetime.datetime.utcnow().isoformat(' ')
    readable = _readable(records) if variant == 'S3R' else {}
    have = dict(db.query('SELECT name, id FROM traits'))
    new = sorted(({t for _u, _n, s in hosts for t in s[variant]} |
                  {t for ns in readable.values() for t in ns}) - set(have))
    db.insert('traits', ('created_at', 'name'), [(now, t) for t in new])
    tid = dict(db.query('SELECT name, id FROM traits'))
    rc = dict(db.query('SELECT name, id FROM resource_classes'))
    rp_id = (db.query('SELECT max(id) FROM resource_providers')[0][0] or 0)
    rps, links, members, inv, cons, allocs = [], [], [], [], [], []
    if records:
        from migcompat_filter.traits import schema3
        db.insert('placement_aggregates', ('created_at', 'uuid'),
                  [(now, schema3.STORE_AGGREGATE)])
        agg = db.query("SELECT id FROM placement_aggregates WHERE uuid = "
                       "'%s'" % schema3.STORE_AGGREGATE)[0][0]
        for record in records.values():
            root = None
            for u, name, parent in schema3.providers_of(record):
                rp_id += 1
                root = rp_id if parent is None else root
                links.extend((now, tid[t], rp_id)
                             for t in readable.get(u, ()))
                if parent is None or variant == 'S3F':
                    rps.append((now, rp_id, u, name, 1, rp_id, None))
                else:
                    rps.append((now, rp_id, u, name, 1, root, root))
                members.append((now, rp_id, agg))
    db.insert('projects', ('created_at', 'external_id'),
              [(now, 'bench-project')])
    db.insert('users', ('created_at', 'external_id'), [(now, 'bench-user')])
    pid = db.query('SELECT max(id) FROM projects')[0][0]
    uid = db.query('SELECT max(id) FROM users')[0][0]
    for j, (u, name, sets) in enumerate(hosts):
        rp_id += 1
        rps.append((now, rp_id, u, name, 1, rp_id, None))
        links.extend((now, tid[t], rp_id) for t in sets[variant])
        for cls, total, reserved, ratio in INVENTORY:
            inv.append((now, rp_id, rc[cls], total, reserved, 1, total, 1,
                        ratio))
        for k in range(instances):
            c = str(uuid.UUID(int=(j + 1) * 1000 + k))
            cons.append((now, c, pid, uid, 1))
            allocs.extend((now, rp_id, c, rc[cls], used)
                          for cls, used in INSTANCE.items())
    db.insert('resource_providers', ('created_at', 'id', 'uuid', 'name',
                                     'generation', 'root_provider_id',
                                     'parent_provider_id'), rps)
    db.insert('resource_provider_aggregates', (
        'created_at', 'resource_provider_id', 'aggregate_id'), members)
    db.insert('resource_provider_traits', ('created_at', 'trait_id',
                                           'resource_provider_id'), links)
    db.insert('inventories', (
        'created_at', 'resource_provider_id', 'resource_class_id', 'total',
        'reserved', 'min_unit', 'max_unit', 'step_size', 'allocation_ratio'),
        inv)
    db.insert('consumers', ('created_at', 'uuid', 'project_id', 'user_id',
                            'generation'), cons)
    db.insert('allocations', ('created_at', 'resource_provider_id',
                              'consumer_id', 'resource_class_id', 'used'),
              allocs)


def _readable(records):
    """{profile record root uuid: schema 2's readable names} (what
    ``[migcompat] readable_profile_traits = true`` puts on the roots).
    """
    from migcompat_filter.placement import store as store_mod
    from migcompat_filter.traits import schema3
    return {schema3.root_uuid(r.kind, r.digest): store_mod.readable_names(r)
            for r in (records or {}).values() if r.kind == schema3.PROFILE}


def counts(db):
    names = [r[0] for r in db.query('SELECT name FROM traits')]
    return {
        'traits': len(names),
        'ours': sum(n.startswith(traits.PREFIX) for n in names),
        'resource_provider_traits': db.query(
            'SELECT count(*) FROM resource_provider_traits')[0][0],
        'resource_providers': db.query(
            'SELECT count(*) FROM resource_providers')[0][0],
    }


# -- timing -----------------------------------------------------------------

class Target(object):
    """One variant's server: a session, the probed hosts, PUT state."""

    def __init__(self, variant, server, hosts):
        self.variant = variant
        self.server = server
        self.sess = requests.Session()
        self.sess.headers.update({'X-Auth-Token': 'admin'})
        self.probe = hosts[1][0]
        self.put_uuid = hosts[2][0]
        self.put_traits = set(hosts[2][2][variant])
        body = self.get('/resource_providers/%s/traits' % self.put_uuid,
                        '1.6').json()
        self.generation = body['resource_provider_generation']
        self.disabled = DISABLED in body['traits']

    def get(self, path, version):
        return self.sess.get(self.server.url + path, timeout=900, headers={
            'OpenStack-API-Version': 'placement ' + version})

    def put_toggle(self):
        want = set(self.put_traits)
        if not self.disabled:
            want.add(DISABLED)
        resp = self.sess.put(
            self.server.url + '/resource_providers/%s/traits'
            % self.put_uuid, timeout=900,
            headers={'OpenStack-API-Version': 'placement 1.6'},
            json={'resource_provider_generation': self.generation,
                  'traits': sorted(want)})
        if resp.status_code == 200:
            self.generation = resp.json()['resource_provider_generation']
            self.disabled = not self.disabled
        return resp

    def requests(self):
        ensure = '/traits?name=in:' + ','.join(
            sorted(self.put_traits | {DISABLED}))
        return {
            'ac': lambda: self.get(AC, '1.36'),
            'ac_req': lambda: self.get(AC + '&required=HW_CPU_X86_AVX2',
                                       '1.36'),
            'rp_traits': lambda: self.get(
                '/resource_providers/%s/traits' % self.probe, '1.6'),
            'ensure': lambda: self.get(ensure, '1.6'),
            'put': self.put_toggle,
            'traits': lambda: self.get('/traits', '1.6'),
            'rp_req': lambda: self.get('/resource_providers?required='
                                       'MISC_SHARES_VIA_AGGREGATE', '1.18'),
        }


LABELS = ('ac', 'ac_req', 'rp_traits', 'ensure', 'put', 'traits', 'rp_req')
#: Requests of a few milliseconds: on a shared machine one sample is mostly
#: the neighbours' noise, so each round keeps the fastest of --repeat.
SMALL = frozenset(('rp_traits', 'ensure', 'put', 'traits', 'rp_req'))


def measure(targets, rounds, labels, repeat=1):
    """{label: {variant: [s]}}, {label: {variant: bytes}},
    {label: {variant: refused status}}. A small request is sent ``repeat``
    times per round (variants alternating) and the round keeps its
    fastest: the request's own cost, not the neighbours'.
    """
    funcs = {t.variant: t.requests() for t in targets}
    order = [t.variant for t in targets]
    samples = {lb: {v: [] for v in order} for lb in labels}
    size = {lb: {} for lb in labels}
    refused = {lb: {} for lb in labels}
    for r in range(rounds + 1):
        for lb in labels:
            best = {}
            for _ in range(repeat if lb in SMALL and r else 1):
                for v in order[r % len(order):] + order[:r % len(order)]:
                    if v in refused[lb]:
                        continue
                    t0 = time.perf_counter()
                    resp = funcs[v][lb]()
                    body = resp.content
                    took = time.perf_counter() - t0
                    if resp.status_code != 200:
                        refused[lb][v] = '%d %s' % (
                            resp.status_code, _reason(body))
                    elif r == 0:
                        size[lb][v] = len(body)
                    else:
                        best[v] = min(took, best.get(v, took))
            for v, took in best.items():
                samples[lb][v].append(took)
        sys.stdout.write('.')
        sys.stdout.flush()
    print()
    return samples, size, refused


def _reason(body):
    text = body.decode('utf-8', 'replace')
    if 'Request Line is too large' in text:
        return '(request line over gunicorn\'s limit)'
    return text[:80].replace('\n', ' ')


def med(xs):
    return '%.1f (%.1f-%.1f)' % (statistics.median(xs) * 1e3,
                                 min(xs) * 1e3, max(xs) * 1e3)


def report(samples, size, refused, variants):
    print('%-10s' % 'request' + ''.join('%-26s' % ('%s ms' % v)
                                        for v in variants) +
          ''.join('%-20s' % ('%s/A' % v) for v in variants[1:]) +
          ''.join('%-9s' % ('%s min' % v) for v in variants[1:]) + 'bytes')
    for lb, per in samples.items():
        cells, ratios = [], []
        for v in variants:
            cells.append(refused[lb].get(v) or med(per[v]))
        mins = []
        for v in variants[1:]:
            if v in refused[lb] or 'A' in refused[lb]:
                ratios.append('-')
                mins.append('-')
                continue
            rs = [b / a for a, b in zip(per['A'], per[v])]
            ratios.append('%.2f (%.2f-%.2f)' % (
                statistics.median(rs), min(rs), max(rs)))
            # The fastest answer of each over the whole run: what the
            # request costs with the machine's noise at its least.
            mins.append('%.2f' % (min(per[v]) / min(per['A'])))
        print('%-10s' % lb + ''.join('%-26s' % c[:25] for c in cells) +
              ''.join('%-20s' % r for r in ratios) +
              ''.join('%-9s' % m for m in mins) +
              '/'.join(str(size[lb].get(v, '-')) for v in variants))


# -- the other figures --------------------------------------------------------

def request_lines(variants):
    """nova's GET /traits?name=in: request line per bundled profile."""
    print('\nnova\'s trait-listing request line (bytes; gunicorn\'s limit '
          '4,094, target <= 3,000):')
    print('%-18s' % 'profile' + ''.join('%8s' % v for v in variants))
    hz = TSC_BASE_KHZ * 1000
    for label, prof in nova_like.demo_profiles():
        prof = with_tsc(prof, hz)
        nova = nova_like.nova_traits(prof) | {DISABLED}
        print('%-18s' % label + ''.join(
            '%8d' % len('GET /traits?name=in:%s HTTP/1.1' % ','.join(
                sorted(nova | set(encode(prof, v)[0]))))
            for v in variants))


def first_reports(variants):
    """The reporter's requests for a host of a new profile, then for
    hosts whose profile is published, on a fresh placement.
    """
    print('\nreporter\'s first report on a fresh placement (requests, '
          'client / server access log):')
    profs = nova_like.demo_profiles()
    plan = [('new profile (%s)' % profs[0][0], profs[0][1], 1),
            ('2nd new profile (%s)' % profs[3][0], profs[3][1], 2),
            ('profile exists, own TSC', profs[0][1], 3),
            ('profile exists, same TSC', profs[0][1], 1)]
    for v in [v for v in variants[1:] if v != 'S3F']:
        server = bench_fleet.LoggedPlacement(start_timeout=180)
        server.setUp()
        try:
            client = placement.PlacementClient(
                placement.adapter_noauth(server.url))
            for label, prof, khz in plan:
                prof = with_tsc(prof, (TSC_BASE_KHZ + khz) * 1000)
                rp = server.create_provider()
                client.put_traits(rp['uuid'], nova_like.nova_traits(prof),
                                  0)
                names = traits.encode(prof, SCHEMA_OF[v])
                time.sleep(0.3)
                before = client.requests, server.served()
                t0 = time.perf_counter()
                reporter.sync(client, rp['uuid'], names)
                took = time.perf_counter() - t0
                time.sleep(0.3)  # gunicorn logs after it answered
                n = (client.requests - before[0], server.served() - before[1])
                print('  %-3s %-32s %4d / %4d  %.2f s' % (
                    v, label, n[0], n[1], took))
        finally:
            server.cleanUp()


def main():
    parser = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--hosts', type=int, default=1000)
    parser.add_argument('--rounds', type=int, default=5)
    parser.add_argument('--repeat', type=int, default=15,
                        help='tries of each small request per round; the '
                        'round keeps the fastest (default 15)')
    parser.add_argument('--db', choices=('sqlite', 'postgresql'),
                        default='sqlite')
    parser.add_argument('--variants', default='A,S3',
                        help='comma-separated, A first (A, S3, S3F, B)')
    parser.add_argument('--only', help='comma-separated request labels: '
                        + ','.join(LABELS))
    parser.add_argument('--instances', type=int, default=10)
    parser.add_argument('--no-reporter', action='store_true',
                        help='skip the first-report counts')
    args = parser.parse_args()
    variants = args.variants.split(',')
    labels = args.only.split(',') if args.only else list(LABELS)
    bad = [v for v in variants if v != 'A' and v not in SCHEMA_OF] + [
        lb for lb in labels if lb not in LABELS]
    if variants[0] != 'A' or bad or args.hosts < 3 or args.rounds < 1:
        parser.error('variants start with A and are among A,S3,S3F,B; labels '
                     'among %s; --hosts >= 3, --rounds >= 1 (bad: %s)'
                     % (','.join(LABELS), ', '.join(bad) or '-'))
    if {'S3', 'S3F'} & set(variants) and 3 not in traits.SCHEMAS:
        parser.error('this migcompat has no trait schema 3 yet: use '
                     '--variants A,B')
    request_lines(variants)
    t0 = time.perf_counter()
    hosts, records = fleet(args.hosts, variants)
    print('\nencoded %d hosts in %.1f s; %s' % (
        args.hosts, time.perf_counter() - t0, args.db))
    run(args, variants, labels, hosts, records)
    if not args.no_reporter:
        first_reports(variants)


def run(args, variants, labels, hosts, records):
    cluster, servers, rows = None, [], {}
    try:
        if args.db == 'postgresql':
            cluster = pg_cluster.PrivateCluster()
            cluster.setUp()
        for v in variants:
            url = cluster.create_database('tax_%s' % v.lower()) \
                if cluster else None
            server = placement_server.PlacementServer(
                start_timeout=300, db_url=url, timeout=900)
            server.setUp()
            servers.append(server)
            db = (pg_cluster.Rows(url) if url else
                  pg_cluster.SqliteRows(server.db))
            t0 = time.perf_counter()
            populate(db, hosts, v, records.get(v), args.instances)
            rows[v] = counts(db)
            db.close()
            print('%s: populated in %.1f s: %s' % (
                v, time.perf_counter() - t0, rows[v]))
        targets = [Target(v, s, hosts) for v, s in zip(variants, servers)]
        t0 = time.perf_counter()
        samples, size, refused = measure(targets, args.rounds, labels,
                                         max(1, args.repeat))
        print('%d hosts, %s, %d rounds in %.0f s; median ms (min-max), X/A '
              'the median (min-max) of the per-round ratios; %s: each '
              'round the fastest of %d tries'
              % (args.hosts, args.db, args.rounds, time.perf_counter() - t0,
                 ', '.join(sorted(SMALL & set(labels))), args.repeat))
        report(samples, size, refused, variants)
    finally:
        for server in servers:
            server.cleanUp()
        if cluster:
            cluster.cleanUp()
    print('\nplacement\'s tables (%d hosts, %d distinct TSC kHz values):'
          % (args.hosts, min(args.hosts, TSC_VALUES)))
    for v in variants:
        r = rows[v]
        print('  %-3s CUSTOM_MIGCOMPAT_* names %5d  traits %5d  '
              'resource_provider_traits %8d (%.3f x A)  resource_providers '
              '%6d' % (v, r['ours'], r['traits'],
                       r['resource_provider_traits'],
                       r['resource_provider_traits'] /
                       rows['A']['resource_provider_traits'],
                       r['resource_providers']))


if __name__ == '__main__':
    main()
