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

"""Schema 3 written to, and read back from, a real placement server
(gunicorn, default limits): the records in the migcompat store, the few
traits on each host, the request counts the docs promise.
"""

import json
import os
import uuid

import testtools

from migcompat_filter.placement import client as placement
from migcompat_filter.placement import hoststate
from migcompat_filter.placement import reporter
from migcompat_filter.placement import store
from migcompat_filter.profile import Profile
from migcompat_filter.traits import codec as traits
from migcompat_filter.traits import schema3
from migcompat_filter.traits import tsc
from tests import cli
from tests.functional import placement_server

HOSTS = os.path.join(os.path.dirname(__file__), '..', '..',
                     'migcompat_filter', 'demo', 'data', 'hosts')
FOREIGN = ['HW_CPU_X86_AVX2', 'COMPUTE_STATUS_DISABLED', 'CUSTOM_GOLD']


def bundled(name, hz=2445426000, microcode=None):
    with open(os.path.join(HOSTS, name + '.json')) as f:
        prof = Profile.from_json(f.read())
    factors = dict(prof.factors, tsc={'frequency': hz, 'scaling': False})
    if microcode:
        factors['microcode_version'] = microcode
    return Profile(factors)


class StoreTest(placement_server.ServerPerClass, testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.client = placement.PlacementClient(
            placement.adapter_noauth(self.server.url))
        self.client.create_trait('CUSTOM_GOLD')

    def host(self, traits_=FOREIGN):
        rp = self.server.create_provider()
        self.client.put_traits(rp['uuid'], traits_, rp['generation'])
        return rp['uuid']

    def read(self, rp_uuid):
        names, _gen = self.client.get_traits(rp_uuid)
        st = store.read(store.client_get(self.client))
        return names, hoststate.classify(names, st.records, rp_uuid)

    def counted(self, func, *args, **kwargs):
        before = self.client.requests
        result = func(*args, **kwargs)
        return result, self.client.requests - before

    def test_first_report_then_a_second_host_then_unchanged(self):
        code = '0x%x' % uuid.uuid4().int
        prof = bundled('milan-a', microcode=code[:12])
        a = self.host()
        res, n_first = self.counted(reporter.sync, self.client, a,
                                    traits.encode(prof, 3))
        self.assertTrue(res.written)
        names, hp = self.read(a)
        self.assertIn(hp.key.rsplit('_', 1)[1], res.records)
        ours = [t for t in names if traits.is_ours(t)]
        self.assertLessEqual(len(ours), 7)
        self.assertTrue(set(FOREIGN) <= names)
        self.assertEqual(hoststate.TRAITED, hp.state, hp.reason)
        self.assertEqual(Profile(dict(traits.canonical(prof).factors,
                                      tsc=None)),
                         Profile(dict(hp.profile.factors, tsc=None)))
        # A host whose profile is stored already: traits, store, write
        # (its TSC names exist: another frequency in the bucket), then the
        # change marker's rename, so that the schedulers read again
        # (scheduler.rst, Freshness): issue 20's "<= 4 requests".
        other = tsc.value(*tsc.buckets(2445426000))
        self.assertNotEqual(2445426000, other)
        b = self.host()
        res, n = self.counted(reporter.sync, self.client, b,
                              traits.encode(bundled(
                                  'milan-a', other, code[:12]), 3))
        self.assertEqual([], res.records)
        self.assertEqual(4, n)
        self.assertLess(n, n_first)
        self.assertEqual(hoststate.TRAITED, self.read(b)[1].state)
        # Its TSC in a bucket no host had: the write says "no such
        # trait", the names are created, the write is made again.
        c = self.host()
        far = 2445426000 * 2
        res, n = self.counted(reporter.sync, self.client, c,
                              traits.encode(bundled(
                                  'milan-a', far, code[:12]), 3))
        self.assertTrue(res.written)
        self.assertTrue(any('_TSCB_' in t for t in res.created), res.created)
        names, hp = self.read(c)
        self.assertEqual(hoststate.TRAITED, hp.state, hp.reason)
        self.assertEqual(tsc.value(*tsc.buckets(far)),
                         hp.profile.factors['tsc']['frequency'])
        # Unchanged: one read.
        _res, n = self.counted(reporter.sync, self.client, b,
                               traits.encode(bundled(
                                   'milan-a', other, code[:12]), 3))
        self.assertEqual(1, n)
        # The records are no allocation candidates: no inventory.
        root = schema3.root_uuid(schema3.PROFILE, hp.key.rsplit('_', 1)[1])
        inv = self.server.request(
            'GET', '/resource_providers/%s/inventories' % root).json()
        self.assertEqual({}, inv['inventories'])
        # Every store provider is a root: placement's allocation
        # candidates stay on their flat path (bench_placement_tax S3F).
        listed = store.read(store.client_get(self.client)).providers
        self.assertTrue(listed)
        self.assertEqual({None}, {p[2] for p in listed})

    def test_schema2_host_upgrades_in_one_write_keeping_others(self):
        prof = bundled('rome-q90', microcode='0x%x' % uuid.uuid4().int)
        a = self.host()
        reporter.sync(self.client, a, traits.encode(prof, 2))
        before, _ = self.client.get_traits(a)
        self.assertGreater(len([t for t in before if traits.is_ours(t)]),
                           200)
        puts = []
        orig = self.client.put_traits

        def put(*args):
            puts.append(args)
            return orig(*args)
        self.client.put_traits = put
        reporter.sync(self.client, a, traits.encode(prof, 3))
        self.assertEqual(1, len([p for p in puts if p[0] == a]))
        names, hp = self.read(a)
        self.assertEqual(set(FOREIGN),
                         {t for t in names if not traits.is_ours(t)})
        self.assertTrue(all(schema3.is_schema3_name(t) for t in names
                            if traits.is_ours(t)))
        self.assertEqual(hoststate.TRAITED, hp.state, hp.reason)

    def test_note_is_published_and_read_back(self):
        prof = bundled('milan-b', microcode='0x%x' % uuid.uuid4().int)
        a = self.host()
        reporter.sync(self.client, a, traits.encode(prof, 3),
                      note={'kept': {'cpu_model': 86400}})
        _names, hp = self.read(a)
        self.assertEqual({'kept': {'cpu_model': 86400}}, hp.note)
        reporter.sync(self.client, a, traits.encode(prof, 3), note={})
        names, hp = self.read(a)
        self.assertEqual({}, hp.note)
        self.assertFalse([t for t in names if '_NOTE_' in t])

    def test_a_tampered_record_is_refused_then_repaired(self):
        prof = bundled('genoa-q10', microcode='0x%x' % uuid.uuid4().int)
        wanted = traits.encode(prof, 3)
        a = self.host()
        reporter.sync(self.client, a, wanted)
        digest = next(t for t in wanted if '_PROFILE_' in t).rsplit('_')[-1]
        rec = wanted.records[digest]
        rp_uuid, name, _parent = schema3.providers_of(rec)[2]
        head, text = name.rsplit('-', 1)
        text = ('A' if text[0] != 'A' else 'B') + text[1:]
        resp = self.server.request(
            'PUT', '/resource_providers/%s' % rp_uuid,
            json={'name': head + '-' + text})
        self.assertEqual(200, resp.status_code, resp.text)
        _names, hp = self.read(a)
        self.assertEqual(hoststate.UNREADABLE, hp.state)
        self.assertIn(a, hp.reason)
        self.assertIn(digest, hp.reason)
        # The next host of that profile writes it again.
        b = self.host()
        res = reporter.sync(self.client, b, wanted)
        self.assertEqual([digest], [d for d in res.records if d == digest])
        for rp in (a, b):
            _names, hp = self.read(rp)
            self.assertEqual(hoststate.TRAITED, hp.state, hp.reason)

    def test_readable_names_on_the_root_only(self):
        prof = bundled('milan-c', microcode='0x%x' % uuid.uuid4().int)
        wanted = traits.encode(prof, 3)
        a = self.host()
        reporter.sync(self.client, a, wanted, readable=True)
        digest = next(t for t in wanted if '_PROFILE_' in t).rsplit('_')[-1]
        root_traits, _ = self.client.get_traits(
            schema3.root_uuid('profile', digest))
        self.assertIn('CUSTOM_MIGCOMPAT_ARCH_X86_64', root_traits)
        self.assertFalse([t for t in root_traits
                          if t.startswith(traits.SCHEMA_PREFIX) or
                          t.startswith(traits.DIGEST_PREFIX)])
        names, _ = self.client.get_traits(a)
        self.assertLessEqual(len([t for t in names if traits.is_ours(t)]),
                             6)

    def test_prune_removes_unreferenced_records_and_old_names(self):
        old = bundled('rome-q82', microcode='0x%x' % uuid.uuid4().int)
        new = bundled('rome-q82', microcode='0x%x' % uuid.uuid4().int)
        a = self.host()
        reporter.sync(self.client, a, traits.encode(old, 2))
        reporter.sync(self.client, a, traits.encode(old, 3))
        b = self.host()
        reporter.sync(self.client, b, traits.encode(new, 3))
        reporter.sync(self.client, a, traits.encode(new, 3))  # a moves on
        old_d, new_d = (next(t for t in traits.encode(x, 3)
                             if '_PROFILE_' in t).rsplit('_')[-1]
                        for x in (old, new))
        rc, out, err = cli.run('trait', 'prune', '--placement-url',
                               self.server.url, '-f', 'json')
        self.assertEqual(0, rc, err)
        rows = {r['name']: r['result'] for r in json.loads(out)}
        self.assertEqual('new, kept', rows['store record %s' % old_d])
        # Schema 2's names of the old microcode went (no provider has them).
        self.assertEqual('deleted', rows[next(
            t for t in traits.encode(old, 2) if '_UCODE_' in t)])
        rc, out, err = cli.run('trait', 'prune', '--placement-url',
                               self.server.url, '--min-age', '0', '-f',
                               'json')
        self.assertEqual(0, rc, err)
        rows = {r['name']: r['result'] for r in json.loads(out)}
        self.assertEqual('deleted', rows['store record %s' % old_d])
        self.assertNotIn('store record %s' % new_d, rows)
        st = store.read(store.client_get(self.client))
        self.assertNotIn(old_d, st.records)
        self.assertTrue(st.valid(new_d))
        for rp in (a, b):
            _names, hp = self.read(rp)
            self.assertEqual(hoststate.TRAITED, hp.state, hp.reason)
