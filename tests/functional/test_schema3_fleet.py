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

"""A fleet of schema 1, 2 and 3 hosts, some of whose traits contradict
themselves, read by the grouped read (the scheduler's refresh and the
fleet commands) from a real placement server: every good host gets the
profile its own traits give, every contradicting one is unreadable with
a reason naming it and its traits, and the refresh stays within
2 x profiles + 3 requests.
"""

import json
import os

import requests
import testtools

from migcompat_filter.fleet import inventory
from migcompat_filter.placement import client as placement
from migcompat_filter.placement import grouping
from migcompat_filter.placement import hoststate
from migcompat_filter.placement import reporter
from migcompat_filter.placement import store
from migcompat_filter.profile import Profile
from migcompat_filter.scheduler import profiles
from migcompat_filter.traits import codec as traits
from tests.functional import placement_server

HOSTS = os.path.join(os.path.dirname(__file__), '..', '..',
                     'migcompat_filter', 'demo', 'data', 'hosts')
NOVA = ['COMPUTE_NODE', 'HW_CPU_X86_SSE2']


def bundled(name, hz):
    with open(os.path.join(HOSTS, name + '.json')) as f:
        prof = Profile.from_json(f.read())
    return Profile(dict(prof.factors,
                        tsc={'frequency': hz, 'scaling': False}))


class _NovaLikeClient(object):
    """nova's report client's get(), over HTTP."""

    def __init__(self, url):
        self.url = url
        self.calls = 0

    def get(self, url, version=None, global_request_id=None):
        self.calls += 1
        return requests.get(self.url + url, timeout=30, headers={
            'X-Auth-Token': 'admin',
            'OpenStack-API-Version': 'placement %s' % (version or '1.0')})


class MixedFleetTest(placement_server.ServerPerClass, testtools.TestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.client = placement.PlacementClient(
            placement.adapter_noauth(cls.server.url))
        cls.uuids = {}
        cls.expect = {}
        a = traits.encode(bundled('milan-a', 2445426000), 3)
        b = traits.encode(bundled('rome-q90', 2000000000), 3)
        cls.a, cls.b = a, b
        # A contradicting host created first: listed first in group A.
        cls.add('bad-two-profiles', list(a) + [
            t for t in b if '_PROFILE_' in t], sync=False)
        for i in range(3):
            cls.add('a-%d' % i, traits.encode(
                bundled('milan-a', 2445426000 + i * 3000000), 3))
        for i in range(2):
            cls.add('b-%d' % i, b)
        cls.add('s2-0', traits.encode(bundled('genoa-q10', 2100000000), 2))
        cls.add('s2-1', traits.encode(bundled('genoa-q10', 2100500000), 2))
        cls.add('s1-0', traits.encode(bundled('clx-4214r', 2300000000), 1))
        cls.add('bad-mixed', list(a) + [traits.SCHEMA_PREFIX + '2'],
                sync=False)
        cls.add('bad-no-schema3', [t for t in a if 'SCHEMA' not in t],
                sync=False)
        cls.add('bad-no-record', [traits.SCHEMA_PREFIX + '3',
                                  traits.PREFIX + 'PROFILE_' + 'C' * 32],
                sync=False)
        cls.add('bad-s2-digest', list(b) + [
            t for t in traits.encode(bundled('genoa-q10', 1), 2)
            if t.startswith(traits.DIGEST_PREFIX)], sync=False)

    @classmethod
    def add(cls, name, wanted, sync=True):
        rp = cls.server.create_provider(name)
        cls.uuids[name] = rp['uuid']
        cls.client.put_traits(rp['uuid'], NOVA, rp['generation'])
        if sync:
            reporter.sync(cls.client, rp['uuid'], wanted)
        else:
            for t in wanted:
                cls.client.create_trait(t)
            gen = cls.client.get_traits(rp['uuid'])[1]
            cls.client.put_traits(rp['uuid'], NOVA + list(wanted), gen)
        cls.expect[name] = wanted

    def own(self, name):
        """The host read on its own: its traits and the whole store."""
        names, _ = self.client.get_traits(self.uuids[name])
        st = store.read(store.client_get(self.client))
        return hoststate.classify(names, st.records, name)

    def get(self, url, version):
        return self.client.get_json(url, 'test', version)

    def check(self, state_of):
        for name in self.uuids:
            got = state_of(name)
            if name.startswith('bad-'):
                self.assertEqual(hoststate.UNREADABLE, got.state, name)
                self.assertIsNotNone(got.reason, name)
                continue
            own = self.own(name)
            self.assertEqual(hoststate.TRAITED, got.state,
                             '%s: %s' % (name, got.reason))
            self.assertEqual(own.key, got.key, name)
            shared = grouping.without_per_host(own).profile
            self.assertEqual(shared, got.profile, name)

    def test_the_grouped_read_judges_each_host_by_its_own_traits(self):
        found = grouping.read(self.get)
        # 3 profile digests + 1 schema-2 + 1 schema-1 + the bogus one.
        groups = len(found.members)
        self.assertLessEqual(found.requests, 2 * groups + 3)
        loose = {}
        for name, uuid in self.uuids.items():
            if uuid in found.loose:
                names, _ = self.client.get_traits(uuid)
                loose[name] = hoststate.classify(names, found.records, name)

        def state_of(name):
            return loose.get(name) or found.profile_of(self.uuids[name])
        self.check(state_of)
        for name, hp in loose.items():
            self.assertIn(name, hp.reason)
        self.assertIn('2 PROFILE traits', loose['bad-two-profiles'].reason)
        self.assertIn('several schema traits', loose['bad-mixed'].reason)
        no_record = found.profile_of(self.uuids['bad-no-record'])
        self.assertIn('C' * 32, no_record.reason)
        # The bad host listed first did not cost group A its profile.
        a_key = self.own('a-0').key
        self.assertEqual(a_key, found.host_key[self.uuids['a-1']])

    def test_the_scheduler_refresh(self):
        client = _NovaLikeClient(self.server.url)
        cache = profiles.ProfileCache(lambda: client, background=False)
        self.assertTrue(cache.refresh_now())
        snap = cache.snapshot(wait=False)
        groups = len(snap.grouping.members)
        loose = len(snap.grouping.loose)
        # The grouped read, then one read per contradicting host.
        self.assertLessEqual(client.calls, 2 * groups + 3 + loose)
        self.assertEqual(4, loose)  # the bad ones but bad-no-record
        self.check(lambda name: snap.host(self.uuids[name]))
        before = client.calls
        self.assertTrue(cache.refresh_now())
        self.assertLessEqual(client.calls - before, groups + 5 + loose)
        self.assertLessEqual(client.calls - before - loose, 2 * groups + 3)
        # The live-migration source: its running guests from its record.
        hp, _key = cache.read_source(self.uuids['a-2'], cache.clock() + 30)
        self.assertEqual(hoststate.TRAITED, hp.state)
        self.assertEqual(self.own('a-2').profile, hp.profile)

    def test_the_fleet_commands(self):
        fleet = inventory.Fleet(self.client)
        hosts = {h.name: h for h in fleet.load()}
        for name in self.uuids:
            self.assertIn(name, hosts)

        def state_of(name):
            h = hosts[name]
            return hoststate.HostProfile(h.state, h.profile, h.key, h.reason)
        self.check(state_of)
        self.assertIn('bad-no-record', hosts['bad-no-record'].reason)
        one = fleet.host('a-1')
        self.assertEqual(hoststate.TRAITED, one.state)
        self.assertEqual(self.own('a-1').profile, one.profile)

    def test_host_show_spells_the_record_out(self):
        from tests import cli
        rc, out, err = cli.run('host', 'show', 'a-1', '--placement-url',
                               self.server.url, '-f', 'json')
        self.assertEqual(0, rc, err)
        shown = json.loads(out)
        self.assertLessEqual(len(shown['migcompat_traits']), 6)
        self.assertIn('CUSTOM_MIGCOMPAT_ARCH_X86_64',
                      shown['readable_traits'])
        self.assertEqual('x86_64', shown['factor:arch'])
        rc, out, err = cli.run('host', 'show', 'bad-two-profiles',
                               '--placement-url', self.server.url, '-f',
                               'json')
        self.assertEqual(0, rc, err)
        self.assertIn('2 PROFILE traits', out)
