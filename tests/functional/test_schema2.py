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

"""Schema 2 against a real placement server: the reporter's requests
(counted by a proxy in front of the server, not by the client), and the
upgrade from schema 1 (one write, other writers' traits untouched).
"""

import os

import testtools

from migcompat_filter.host import reader
from migcompat_filter.host import source as hostsource
from migcompat_filter.placement import change_marker
from migcompat_filter.placement import client as placement
from migcompat_filter.placement import hoststate
from migcompat_filter.placement import reporter
from migcompat_filter.profile import Profile
from migcompat_filter.traits import codec as traits
from tests.functional import delay_proxy
from tests.functional import placement_server

HOSTS = os.path.join(os.path.dirname(__file__), '..', 'fixtures', 'hosts')
HOST_A = os.path.join(HOSTS, 'epyc-milan-nested-l1')
FOREIGN = ['HW_CPU_X86_AVX2', 'COMPUTE_STATUS_DISABLED', 'CUSTOM_GOLD',
           'CUSTOM_MIGCOMPATIBLE']


CountingProxy = delay_proxy.CountingProxy


def read_host(path):
    return reader.read_profile(hostsource.SnapshotSource(path))


class ServerCase(placement_server.ServerPerClass, testtools.TestCase):

    @classmethod
    def setUpClass(cls):
        super(ServerCase, cls).setUpClass()
        cls.profile = read_host(HOST_A)

    def setUp(self):
        super(ServerCase, self).setUp()
        self.proxy = self.useFixture(CountingProxy(self.server.url))
        self.client = placement.PlacementClient(
            placement.adapter_noauth(self.proxy.url))

    def new_provider(self):
        rp = self.server.create_provider()
        for name in FOREIGN:
            if name.startswith('CUSTOM_'):
                self.server.request('PUT', '/traits/%s' % name)
        resp = self.server.request(
            'PUT', '/resource_providers/%s/traits' % rp['uuid'],
            json={'traits': FOREIGN,
                  'resource_provider_generation': rp['generation']})
        self.assertEqual(200, resp.status_code, resp.text)
        return rp['uuid']

    def counted(self, func, *args, **kwargs):
        """(result, the requests sent but the change marker's); those in
        self.bumps.
        """
        before = self.proxy.count()
        result = func(*args, **kwargs)
        seen = self.proxy.seen[before:]
        self.bumps = [r for r in seen if change_marker.UUID in r[1]]
        return result, [r for r in seen if change_marker.UUID not in r[1]]


class TestReporterRequests(ServerCase):

    def test_first_report_unchanged_and_changed(self):
        wanted = traits.encode(self.profile)
        self.assertGreater(len(wanted), 200)  # one trait per fact
        # The first host of this profile creates the names (once).
        first = self.new_provider()
        change_marker.bump(self.client)  # the marker exists
        result, seen = self.counted(reporter.sync, self.client, first,
                                    wanted)
        # GET traits, one listing, a PUT per name new to Placement (all of
        # them on a fresh server; other tests of the class may have made
        # some), the write.
        self.assertEqual(1 + 1 + len(result.created) + 1, len(seen))
        self.assertEqual(len(result.created),
                         len([p for m, p in seen if p.startswith('/traits/')]))
        # and the change marker's bump: 1 request, its rename (the marker
        # exists: made before the count)
        self.assertEqual([('PUT', '/resource_providers/%s'
                           % change_marker.UUID)],
                         [r[:2] for r in self.bumps])

        # Every later host of that profile: the names exist.
        second = self.new_provider()
        result, seen = self.counted(reporter.sync, self.client, second,
                                    wanted)
        self.assertTrue(result.written)
        self.assertEqual([], result.created)
        self.assertLessEqual(len(seen), 4, seen)
        self.assertEqual(['GET', 'GET', 'PUT'], [m for m, _p in seen])
        self.assertTrue(seen[1][1].startswith('/traits?name='), seen)
        on_server = self.server.traits(second)[0]
        self.assertEqual(set(FOREIGN) | set(wanted), on_server)

        # Unchanged: one request.
        result, seen = self.counted(reporter.sync, self.client, second,
                                    wanted)
        self.assertFalse(result.changed)
        self.assertEqual(1, len(seen), seen)
        self.assertEqual([], self.bumps)  # nothing written, no bump

        # A microcode update: two new names (value, digest), no listing.
        data = self.profile.to_dict()
        data['microcode_version'] = '0x1000999'
        updated = traits.encode(Profile.from_dict(data))
        result, seen = self.counted(reporter.sync, self.client, second,
                                    updated)
        self.assertEqual(4, len(seen), seen)
        self.assertIn('CUSTOM_MIGCOMPAT_UCODE_0X1000999', result.added)

    def test_a_reboot_with_a_new_tsc_keeps_the_group(self):
        wanted = traits.encode(self.profile)
        rp = self.new_provider()
        reporter.sync(self.client, rp, wanted)
        data = self.profile.to_dict()
        data['tsc'] = dict(data['tsc'], frequency=2445431000)
        rebooted = traits.encode(Profile.from_dict(data))
        result, seen = self.counted(reporter.sync, self.client, rp,
                                    rebooted)
        # Only the per-host TSC trait changed: the digest did not.
        self.assertEqual(['CUSTOM_MIGCOMPAT_TSCHZ_2445431000'], result.added)
        self.assertEqual(['CUSTOM_MIGCOMPAT_TSCHZ_2445426000'],
                         result.removed)
        self.assertEqual(3, len(seen), seen)  # GET, PUT /traits/X, PUT

    def test_existing_traits_with_few_and_many_names(self):
        wanted = traits.encode(self.profile)
        reporter.sync(self.client, self.new_provider(), wanted)
        missing = 'CUSTOM_MIGCOMPAT_QEMU_99_0_0'
        found, seen = self.counted(self.client.existing_traits,
                                   wanted[:3] + [missing])
        self.assertEqual(set(wanted[:3]), found)
        self.assertEqual(1, len(seen))
        self.assertIn('name=in:', seen[0][1])
        found, seen = self.counted(self.client.existing_traits,
                                   wanted + [missing])
        self.assertEqual(set(wanted), found)
        self.assertEqual(1, len(seen), seen)
        self.assertIn('name=startswith:CUSTOM_MIGCOMPAT_', seen[0][1])


class TestUpgradeFromSchema1(ServerCase):

    def test_one_write_replaces_schema_1_and_keeps_foreign_traits(self):
        rp = self.new_provider()
        old = traits.encode(self.profile, schema=1)
        reporter.sync(self.client, rp, old)
        before = self.server.traits(rp)[0]
        self.assertIn('CUSTOM_MIGCOMPAT_SCHEMA_1', before)
        self.assertEqual(hoststate.TRAITED,
                         hoststate.classify(before).state)

        new = traits.encode(self.profile)
        result, seen = self.counted(reporter.sync, self.client, rp, new)
        writes = [p for m, p in seen
                  if m == 'PUT' and p.endswith('/%s/traits' % rp)]
        self.assertEqual(1, len(writes), seen)
        after = self.server.traits(rp)[0]
        self.assertEqual(set(FOREIGN), {t for t in after
                                        if not traits.is_ours(t)})
        self.assertEqual(set(new), {t for t in after if traits.is_ours(t)})
        self.assertEqual(set(old) - set(new), set(result.removed))
        parsed = traits.parse(after)
        self.assertEqual(2, parsed.version)
        self.assertEqual(traits.canonical(self.profile), parsed.profile)

    def test_a_provider_with_both_schemas_is_not_judged(self):
        rp = self.new_provider()
        both = sorted(set(traits.encode(self.profile, schema=1)) |
                      set(traits.encode(self.profile)))
        reporter.sync(self.client, rp, both)
        hp = hoststate.classify(self.server.traits(rp)[0])
        self.assertEqual(hoststate.UNREADABLE, hp.state)
        self.assertIn('several schema traits', hp.reason)
