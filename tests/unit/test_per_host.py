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

"""Per-host facts (calibrated TSC, running guests) never split a group."""

import os
import random

import testtools

from migcompat_filter.placement import grouping
from migcompat_filter.placement import hoststate
from migcompat_filter.profile import Profile
from migcompat_filter.rules import engine
from migcompat_filter.traits import codec as traits

HOSTS = os.path.join(os.path.dirname(__file__), '..', '..',
                     'migcompat_filter', 'demo', 'data', 'hosts')


def bundled(name):
    with open(os.path.join(HOSTS, name + '.json')) as f:
        return Profile.from_json(f.read())


def with_tsc(profile, hz, scaling=False):
    return Profile(dict(profile.factors,
                        tsc={'frequency': hz, 'scaling': scaling}))


class TestCalibratedTsc(testtools.TestCase):

    def setUp(self):
        super(TestCalibratedTsc, self).setUp()
        self.base = bundled('milan-a')

    def test_10000_hosts_with_jittered_tsc_share_one_digest(self):
        rnd = random.Random(3)
        digests = set()
        frequencies = set()
        own = set()
        sample = []
        for i in range(10000):
            hz = 2445426000 + rnd.randint(-9000, 9000)  # some kHz apart
            names = traits.encode(with_tsc(self.base, hz))
            digests.update(t for t in names
                           if t.startswith(traits.DIGEST_PREFIX))
            own.update(t for t in names if '_TSCHZ_' in t)
            frequencies.add(hz)
            if i % 500 == 0:
                sample.append((hz, names))
        self.assertEqual(1, len(digests))
        # Each host still publishes its own frequency, in its own trait.
        self.assertEqual(len(frequencies), len(own))
        self.assertTrue(all(traits.is_per_host(t) for t in own))
        keys = set()
        for hz, names in sample:
            hp = hoststate.classify(names)
            keys.add(hp.key)
            self.assertEqual(hz, hp.profile['tsc']['frequency'])
        self.assertEqual(digests, keys)

    def test_scaling_still_splits_groups(self):
        a = traits.digest_trait(traits.encode(with_tsc(self.base, 1, False)))
        b = traits.digest_trait(traits.encode(with_tsc(self.base, 1, True)))
        self.assertNotEqual(a, b)

    def test_group_profile_has_no_frequency(self):
        hp = hoststate.classify(traits.encode(with_tsc(self.base, 2445426000)))
        group = grouping.without_per_host(hp)
        self.assertEqual({'scaling': False}, group.profile['tsc'])
        self.assertEqual(2445426000, hp.profile['tsc']['frequency'])
        self.assertEqual(hp.key, group.key)

    def test_tsc_rule_reads_an_absent_frequency_as_unknown(self):
        # An invtsc guest pinned at the source's frequency, judged against
        # a group profile without the destination's own frequency: the
        # TSC rule says it cannot tell, it does not crash or pass.
        src = Profile(dict(with_tsc(self.base, 2445426000).factors,
                           running_guests={
                               'count': 1, 'modes': {'custom': 1},
                               'host_model_features': [],
                               'custom_features': ['invtsc'],
                               'unexpanded': [], 'machine_types': [],
                               'invtsc_frequencies': [2445426000],
                               'invtsc_unpinned': 0, 'phys_bits': [],
                               'passthrough_extra': []}))
        dst = grouping.without_per_host(hoststate.classify(
            traits.encode(with_tsc(self.base, 2445426000)))).profile
        self.assertNotIn('frequency', dst['tsc'])
        verdict = engine.evaluate(src, dst, 'custom')
        tsc = [f for f in verdict.findings if f.factor == 'tsc']
        self.assertEqual(1, len(tsc), verdict.findings)
        self.assertIn('frequency', str(tsc[0].message).lower())
        # With the destination's own frequency back, the guest fits.
        whole = with_tsc(self.base, 2445426000)
        verdict = engine.evaluate(src, whole, 'custom')
        self.assertEqual([], [f for f in verdict.findings
                              if f.factor == 'tsc'])


class TestOtherPerHostValues(testtools.TestCase):
    """What else differs between otherwise identical bundled hosts."""

    def test_only_rolling_updates_differ_between_the_milan_twins(self):
        a, c = bundled('milan-a'), bundled('milan-c')
        differ = sorted(k for k in a.factors
                        if a.to_dict()[k] != c.to_dict()[k])
        # Real differences a guest can notice: they must split groups.
        self.assertEqual(['kernel_version', 'microcode_version'], differ)
        self.assertNotEqual(traits.digest_trait(traits.encode(a)),
                            traits.digest_trait(traits.encode(c)))
        self.assertEqual(traits.digest_trait(traits.encode(a)),
                         traits.digest_trait(traits.encode(
                             bundled('milan-b'))))
