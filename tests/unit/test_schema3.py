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

"""Trait schema 3: few shared trait names per host, facts in records
checked against their digests, the TSC in buckets.
"""

import base64
import os
import random
import zlib

import testtools

from migcompat_filter.placement import hoststate
from migcompat_filter.profile import Profile
from migcompat_filter.rules import engine
from migcompat_filter.traits import codec as traits
from migcompat_filter.traits import schema3
from migcompat_filter.traits import tsc

HOSTS = os.path.join(os.path.dirname(__file__), '..', '..',
                     'migcompat_filter', 'demo', 'data', 'hosts')
GUEST_ID = 'tsc-guest'


def bundled(name):
    with open(os.path.join(HOSTS, name + '.json')) as f:
        return Profile.from_json(f.read())


def all_bundled():
    return {n[:-5]: bundled(n[:-5]) for n in sorted(os.listdir(HOSTS))
            if n.endswith('.json')}


def with_tsc(profile, hz, scaling=False):
    return Profile(dict(profile.factors,
                        tsc={'frequency': hz, 'scaling': scaling}))


def store_of(*encoded):
    """The store listing a reporter would leave for these hosts."""
    rps = []
    for e in encoded:
        for rec in e.records.values():
            rps.extend(schema3.providers_of(rec))
    return rps


class TestEncode(testtools.TestCase):

    def test_every_bundled_host_round_trips_through_its_records(self):
        for name, prof in all_bundled().items():
            prof = with_tsc(prof, 2100000000 + len(name) * 777)
            names = traits.encode(prof, 3)
            self.assertLessEqual(len(names), 6, name)
            self.assertLessEqual(sum(len(n) for n in names), 300, name)
            records = schema3.assemble(store_of(names))
            hp = hoststate.classify(list(names), records, name)
            self.assertEqual(hoststate.TRAITED, hp.state, hp.reason)
            want = traits.canonical(prof)
            got = hp.profile
            hz = prof['tsc']['frequency']
            self.assertLessEqual(abs(got['tsc']['frequency'] - hz) / hz,
                                 tsc.ERROR_PPM / 1e6 + 1e-9)
            self.assertEqual(Profile(dict(want.factors, tsc=None)),
                             Profile(dict(got.factors, tsc=None)))

    def test_no_name_unique_to_a_host_and_names_bounded(self):
        base = bundled('milan-a')
        rnd = random.Random(7)
        names = set()
        profiles = set()
        for i in range(3000):
            khz = rnd.randint(0, 999)  # 1,000 distinct kHz values
            e = traits.encode(with_tsc(base, 2100000000 + khz * 1000), 3)
            names.update(e)
            profiles.update(t for t in e if '_PROFILE_' in t)
        self.assertEqual(1, len(profiles))
        coarse = {t for t in names if '_TSCB_' in t}
        fine = {t for t in names if '_TSCE_' in t or '_TSCS_' in t}
        # 1,000 frequencies over 64 fine buckets: every one is used, and
        # spelled with 8 + 8 names, not 64 (GET /traits lists them all).
        self.assertEqual(2 * tsc.DIGIT, len(fine))
        # 1,000 kHz over 2.1 GHz is 476 ppm: at most 3 coarse buckets.
        self.assertLessEqual(len(coarse), 3)
        self.assertLessEqual(len(names), 3 + 3 + 2 * tsc.DIGIT)

    def test_note_and_guests_records_are_shared(self):
        base = bundled('milan-a')
        a = traits.encode(with_tsc(base, 2445426000), 3,
                          note={'kept': {'ucode': 1}})
        b = traits.encode(with_tsc(base, 2445000000), 3,
                          note={'kept': {'ucode': 1}})
        self.assertEqual({t for t in a if '_TSC' not in t},
                         {t for t in b if '_TSC' not in t})
        hp = hoststate.classify(a)
        self.assertEqual({'kept': {'ucode': 1}}, hp.note)
        self.assertEqual({}, hoststate.classify(
            traits.encode(base, 3)).note)

    def test_hosts_running_more_or_fewer_guests_share_a_record(self):
        # The same guest CPU classes, 3 or 40 guests of them: one guests
        # record and one trait name (names must not grow with the fleet),
        # and the same verdict for a guest leaving either host.
        base = bundled('milan-a')
        src = {}
        for n in (3, 40):
            guests = {'count': n, 'modes': {'host-model': n - 1,
                                            'custom': 1},
                      'host_model_features': ['avx2', 'invtsc'],
                      'custom_features': ['avx2'], 'unexpanded': [],
                      'machine_types': ['pc-q35-7.2'],
                      'invtsc_frequencies': [], 'invtsc_unpinned': n - 2,
                      'phys_bits': [40], 'passthrough_extra': []}
            names = traits.encode(Profile(dict(base.factors,
                                               running_guests=guests)), 3)
            src[n] = names
        self.assertEqual(*[{t for t in src[n] if '_GUESTS_' in t}
                           for n in (3, 40)])
        dst = traits.encode(base, 3)
        verdicts = []
        for n in (3, 40):
            got = engine.evaluate(hoststate.classify(src[n]).profile,
                                  hoststate.classify(dst).profile,
                                  'host-model')
            verdicts.append(sorted((f.factor, f.severity)
                                   for f in got.findings))
        self.assertEqual(verdicts[0], verdicts[1])
        self.assertIn(('tsc', 'block'), verdicts[0])

    def test_hosts_with_more_or_fewer_drifted_guests_share_a_note(self):
        from migcompat_filter.rules import drift
        base = bundled('milan-a')
        notes = [drift.shareable({'guests': n, 'factors': {'tsc': n}})
                 for n in (3, 5)]
        a, b = (traits.encode(base, 3, note={'drift': n}) for n in notes)
        self.assertEqual(set(a), set(b))
        self.assertEqual({'guests': 1, 'factors': {'tsc': 1}},
                         hoststate.classify(a).note['drift'])

    def test_digest_groups_ignore_per_host_traits(self):
        base = bundled('milan-a')
        self.assertEqual(
            traits.digest_trait(traits.encode(with_tsc(base, 1000000), 3)),
            traits.digest_trait(traits.encode(with_tsc(base, 3000000), 3)))


class TestTscBuckets(testtools.TestCase):

    def verdict(self, guest_hz, dst_hz, schema):
        """Blockers of the TSC rule for a guest pinned at guest_hz moving to
        a host at dst_hz, the destination read from its schema's traits.
        """
        base = bundled('milan-a')
        src = with_tsc(base, guest_hz)
        dst = with_tsc(base, dst_hz)
        names = traits.encode(dst, schema)
        read = hoststate.classify(names).profile
        guest = {'count': 1, 'modes': {'custom': 1},
                 'host_model_features': [], 'custom_features': ['invtsc'],
                 'unexpanded': [], 'machine_types': [],
                 'invtsc_frequencies': [guest_hz], 'invtsc_unpinned': 0,
                 'phys_bits': [], 'passthrough_extra': []}
        src = Profile(dict(src.factors, running_guests=guest))
        got = engine.evaluate(src, read, 'custom')
        return [f.message for f in got.findings
                if f.factor == 'tsc' and f.severity == 'block']

    def test_verdicts_exact_outside_the_band(self):
        rnd = random.Random(11)
        tol = tsc.TOLERANCE_PPM
        band = tsc.ERROR_PPM + 0.01
        checked = in_band = 0
        for _ in range(4000):
            f = rnd.randint(1000000000, 4000000000)
            ppm = rnd.uniform(tol - 10, tol + 10) * rnd.choice((1, -1))
            g = int(round(f * (1 + ppm / 1e6)))
            exact = abs(g - f) <= f * tol / 1e6
            k, j = tsc.buckets(g)
            read = tsc.value(k, j)
            self.assertLessEqual(abs(read - g) / g * 1e6, band)
            got = abs(read - f) <= f * tol / 1e6
            if abs(abs(g - f) / f * 1e6 - tol) <= band:
                in_band += 1
                continue
            checked += 1
            self.assertEqual(exact, got, (f, g, ppm))
        self.assertGreater(checked, 3000)
        self.assertGreater(in_band, 0)

    def test_the_tsc_rule_on_decoded_traits(self):
        f = 2445426000
        for ppm, blocked in ((0, False), (240, False), (-240, False),
                             (260, True), (-260, True), (1000, True)):
            dst = int(round(f * (1 + ppm / 1e6)))
            self.assertEqual(bool(self.verdict(f, dst, 2)), blocked, ppm)
            self.assertEqual(bool(self.verdict(f, dst, 3)), blocked, ppm)

    def test_bounds_hold_the_value(self):
        for hz in (1, 999999, 2100000000, 2445426000, 10 ** 11):
            k, j = tsc.buckets(hz)
            lo, hi = tsc.bounds(k, j)
            self.assertTrue(lo <= hz * (1 + 1e-12) and hz < hi * (1 + 1e-12))


class TestVerify(testtools.TestCase):

    def setUp(self):
        super(TestVerify, self).setUp()
        self.names = traits.encode(with_tsc(bundled('milan-a'), 2400000000),
                                   3)
        self.rps = store_of(self.names)
        self.profile_digest = next(t for t in self.names
                                   if '_PROFILE_' in t).rsplit('_', 1)[1]

    def classify(self, rps, names=None):
        return hoststate.classify(list(names or self.names),
                                  schema3.assemble(rps), 'host-1')

    def chunk_of(self, digest):
        return [i for i, (_u, n, _p) in enumerate(self.rps)
                if n.startswith('migcompat-%s-' % digest)]

    def assertUnreadable(self, hp, *words):
        self.assertEqual(hoststate.UNREADABLE, hp.state)
        self.assertIn('host-1', hp.reason)
        for w in words:
            self.assertIn(w, hp.reason)

    def test_tampered_content_is_invalid_and_names_providers(self):
        i = self.chunk_of(self.profile_digest)[0]
        u, name, parent = self.rps[i]
        head, payload = name.rsplit('-', 1)
        payload = ('B' if payload[0] != 'B' else 'C') + payload[1:]
        rps = list(self.rps)
        rps[i] = (u, head + '-' + payload, parent)
        hp = self.classify(rps)
        self.assertIsNone(parent)  # every store provider is a root
        self.assertUnreadable(hp, self.profile_digest, schema3.root_uuid(
            schema3.PROFILE, self.profile_digest),
            'migcompat-profile-' + self.profile_digest)

    def test_content_of_another_record_does_not_pass(self):
        # Valid JSON, valid deflate: the content of another profile under
        # this digest's names.
        other = traits.encode(bundled('rome-q90'), 3)
        rec = next(r for r in other.records.values()
                   if r.kind == schema3.PROFILE)
        forged = schema3.Record(schema3.PROFILE, self.profile_digest,
                                rec.value, rec.content)
        rps = [p for p in self.rps if self.profile_digest not in p[1]]
        rps += schema3.providers_of(forged)
        hp = self.classify(rps)
        self.assertUnreadable(hp, 'does not match its digest')

    def test_missing_part_and_missing_record(self):
        i = self.chunk_of(self.profile_digest)[-1]
        rps = self.rps[:i] + self.rps[i + 1:]
        self.assertUnreadable(self.classify(rps), 'missing')
        rps = [p for p in self.rps if self.profile_digest not in p[1]]
        self.assertUnreadable(self.classify(rps), 'no record',
                              self.profile_digest)

    def test_a_bomb_is_invalid_not_a_hang(self):
        data = zlib.compress(b'{' + b' ' * (4 << 20), 9)
        text = base64.urlsafe_b64encode(data).rstrip(b'=').decode()
        digest = 'F' * 32
        rps = [('r', 'migcompat-profile-' + digest, None)]
        n = (len(text) + 139) // 140
        rps += [('c%d' % i, 'migcompat-%s-%dof%d-%s' % (
            digest, i + 1, n, text[i * 140:(i + 1) * 140]), 'r')
            for i in range(n)]
        got = schema3.assemble(rps)[digest]
        self.assertFalse(got.valid)
        self.assertIn('more than', got.reason)

    def test_contradictions_are_unreadable_naming_the_traits(self):
        other = traits.encode(bundled('rome-q90'), 3)
        rps = self.rps + store_of(other)
        two = set(self.names) | {t for t in other if '_PROFILE_' in t}
        self.assertUnreadable(self.classify(rps, two), '2 PROFILE traits')
        mixed = set(self.names) | {traits.DIGEST_PREFIX + 'A' * 40}
        self.assertUnreadable(self.classify(rps, mixed), 'schema-2 digest')
        for code in tsc.CODES:
            part = {t for t in self.names if '_%s_' % code not in t}
            self.assertUnreadable(self.classify(rps, part),
                                  'without %s%s' % (traits.PREFIX, code))
        both = set(self.names) | {traits.SCHEMA_PREFIX + '2'}
        hp = hoststate.classify(both, schema3.assemble(rps))
        self.assertEqual(hoststate.UNREADABLE, hp.state)
        self.assertIn('several schema traits', hp.reason)

    def test_stray_names_are_problems_not_facts(self):
        names = set(self.names) | {traits.PREFIX + 'ARCH_S390X'}
        hp = self.classify(self.rps, names)
        self.assertEqual(hoststate.TRAITED, hp.state)
        self.assertIn(traits.PREFIX + 'ARCH_S390X',
                      [p.trait for p in hp.problems])

    def test_without_a_store_nothing_is_judged(self):
        hp = hoststate.classify(list(self.names), None, 'host-1')
        self.assertUnreadable(hp, 'not read')
