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

"""grouping.read: the hosts of no group are found by one listing that
forbids the digests (it returns only them), or, when the digests do not
fit in a URL, by the listing of every host with a schema trait; both give
the same Grouping. The real-server version: test_fleet_groups.
"""

import uuid

import testtools

from migcompat_filter.placement import grouping
from migcompat_filter.placement import hoststate
from migcompat_filter.traits import codec as traits
from tests.fake_placement import FakePlacement
from tests.unit import scheduler_helpers as cached


class UngroupedTest(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.milan = cached.published(cached.real('epyc-milan-nested-l1'))
        self.intel = cached.published(cached.real(
            'libvirt-cpuid-xeon-gold-6148-host'))
        self.fleet = {}
        for i in range(5):
            self.fleet[str(uuid.uuid4())] = self.milan
            self.fleet[str(uuid.uuid4())] = self.intel
        # An older reporter's host: traits of ours, no digest.
        self.loose = str(uuid.uuid4())
        self.fleet[self.loose] = [t for t in self.milan
                                  if not t.startswith(traits.DIGEST_PREFIX)]
        self.bare = str(uuid.uuid4())
        self.fleet[self.bare] = ['COMPUTE_NODE']
        self.placement = FakePlacement(dict(self.fleet))

    def _get(self, url, version):
        return self.placement.get(url, version).json()

    def _read(self):
        del self.placement.urls[:]
        return grouping.read(self._get)

    def test_one_listing_returns_only_the_ungrouped(self):
        fleet = self._read()
        self.assertEqual({self.loose}, set(fleet.loose))
        self.assertEqual(set(self.fleet) - {self.bare}, set(fleet.traited))
        self.assertTrue(fleet.is_untraited(self.bare))
        self.assertFalse(fleet.is_untraited(self.loose))
        forbidding = [u for u in self.placement.urls if '%21' in u or
                      '!' in u]
        self.assertEqual(1, len(forbidding), self.placement.urls)
        self.assertEqual(2 + 2 * 2, fleet.requests)

    def test_too_many_digests_for_a_url_lists_every_traited_host(self):
        self.patch(grouping, 'MAX_URL', 100)
        fleet = self._read()
        self.assertFalse([u for u in self.placement.urls if '!' in u])
        self.assertEqual({self.loose}, set(fleet.loose))
        self.assertEqual(set(self.fleet) - {self.bare}, set(fleet.traited))
        self.assertEqual(2 + 2 * 2, fleet.requests)


class FirstMemberMismatchTest(testtools.TestCase):
    """A schema-2 group whose first-listed host does not hash
    to its digest is learnt from the next host, not read host by host.
    """

    def test_group_keeps_its_profile(self):
        milan = cached.published(cached.real('epyc-milan-nested-l1'))
        intel = cached.published(cached.real(
            'libvirt-cpuid-xeon-gold-6148-host'))
        digest = [t for t in milan if t.startswith(traits.DIGEST_PREFIX)]
        fleet = {'0-bad': [t for t in intel
                           if not t.startswith(traits.DIGEST_PREFIX)] +
                 digest}
        for i in range(5):
            fleet['%d-milan' % (i + 1)] = milan
        placement = FakePlacement(dict(fleet))
        found = grouping.read(
            lambda url, version: placement.get(url, version).json())
        good = set(fleet) - {'0-bad'}
        self.assertTrue(good <= set(found.host_key))
        self.assertFalse(good & found.loose)
        key = hoststate_key(milan)
        self.assertEqual(key, found.profile_of('3-milan').key)
        # 2 listings, 1 group listing, the bad host then a good one.
        self.assertEqual(2 + 1 + 2, found.requests)


def hoststate_key(names):
    return hoststate.classify(names).key
