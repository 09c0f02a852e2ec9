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

"""Answers the scheduler does not believe at once, and traits that
contradict themselves, against the three published hosts of
tests/functional/three_hosts.py (a real placement server behind
tests/functional/fault_proxy.py), read with nova's own
SchedulerReportClient.
"""

import uuid

import fixtures

from migcompat_filter.placement import client as placement
from migcompat_filter.placement import hoststate
from migcompat_filter.placement import reporter
from migcompat_filter.traits import codec as traits
from tests.functional import nova_fixtures as mc
from tests.functional import three_hosts

MILAN = three_hosts.MILAN
INTEL = three_hosts.INTEL
EMPTY_TRAITS = b'{"traits": []}'
NO_PROVIDERS = b'{"resource_providers": []}'
TRAIT_LISTING = '/traits?associated=true'


class _Placement(three_hosts.ThreeHostsTestCase):

    def setUp(self):
        super().setUp()
        from migcompat_filter.scheduler import profiles
        from nova.scheduler.client import report
        adapter = placement.adapter_noauth(self.proxy.url, timeout=None)
        client = report.SchedulerReportClient(adapter=adapter)
        self.cache = profiles.ProfileCache(lambda: client, background=False,
                                           read_timeout=5.0)
        self.log = self.useFixture(fixtures.FakeLogger(
            name='migcompat_filter.scheduler.profiles', level='INFO'))

    def state(self, name):
        hp = self.cache.snapshot().host(self.uuids[name])
        return hp.state if hp is not None else None

    def warnings(self):
        return [line for line in self.log.output.splitlines()
                if 'not believing' in line or 'same answer again' in line
                or 'contradict' in line or 'not believed' in line]


class SuspiciousAnswerTest(_Placement):
    """A valid but empty answer after a good read."""

    def setUp(self):
        super().setUp()
        self.assertTrue(self.cache.refresh_now())
        self.good = self.cache.snapshot()
        self.assertEqual(hoststate.TRAITED, self.state('src'))

    def test_empty_trait_listing_keeps_the_previous_reading(self):
        self.proxy.set(('body', EMPTY_TRAITS), only=TRAIT_LISTING)
        self.assertFalse(self.cache.refresh_now())
        self.assertIs(self.good, self.cache.snapshot())
        self.assertEqual(hoststate.TRAITED, self.state('intel'))
        lines = self.warnings()
        self.assertEqual(1, len(lines), lines)
        self.assertIn('no host carries traits of ours any more', lines[0])
        self.assertIn('GET /traits?associated=true&name=startswith:'
                      'CUSTOM_MIGCOMPAT_', lines[0])
        # Placement recovers: the next read is believed as usual.
        self.proxy.set(None)
        self.assertTrue(self.cache.refresh_now())
        self.assertEqual(hoststate.TRAITED, self.state('intel'))

    def test_empty_listings_keep_the_previous_reading(self):
        self.proxy.set(('body', NO_PROVIDERS), only='/resource_providers?')
        self.assertFalse(self.cache.refresh_now())
        self.assertIs(self.good, self.cache.snapshot())
        lines = self.warnings()
        self.assertIn('no host carries traits of ours any more (3 did',
                      lines[0])
        self.assertIn('GET /resource_providers?required=', lines[0])

    def test_the_same_answer_twice_is_believed(self):
        self.proxy.set(('body', EMPTY_TRAITS), only=TRAIT_LISTING)
        self.assertFalse(self.cache.refresh_now())
        self.assertTrue(self.cache.refresh_now())
        self.assertEqual(hoststate.UNTRAITED, self.state('src'))
        self.assertIn('same answer again', self.warnings()[-1])

    def test_one_host_gone_is_believed_at_once(self):
        rp = self.server.create_provider('gone-%s' % uuid.uuid4().hex[:6])
        reporter.sync(self.writer, rp['uuid'],
                      traits.encode(mc.real_profile(MILAN)))
        self.assertTrue(self.cache.refresh_now())
        reporter.sync(self.writer, rp['uuid'], [])
        self.assertTrue(self.cache.refresh_now())
        self.assertEqual(hoststate.UNTRAITED,
                         self.cache.snapshot().host(rp['uuid']).state)
        self.assertEqual([], self.warnings())

    def test_empty_source_answer_is_not_believed(self):
        import time
        src = self.uuids['src']
        self.proxy.set(('body', EMPTY_TRAITS), only='/%s/traits' % src)
        hp, _key = self.cache.read_source(src, time.monotonic() + 5, 'req-9')
        self.assertEqual(hoststate.UNJUDGED, hp.state)
        self.assertIn('not believed', hp.reason)
        self.assertIn('GET /resource_providers/%s/traits' % src,
                      self.warnings()[0])
        # A host the reading does not know traited is simply untraited.
        rp = self.server.create_provider('bare-%s' % uuid.uuid4().hex[:6])
        hp, _key = self.cache.read_source(rp['uuid'], time.monotonic() + 5)
        self.assertEqual(hoststate.UNTRAITED, hp.state)


class ContradictingTraitsTest(_Placement):
    """A provider whose traits contradict themselves: one WARNING per
    provider and change, naming it.
    """

    def _mixed(self, name, prof, extra_schema):
        # Two reporters' schemas on one provider, no digest: read alone.
        names = [t for t in traits.encode(mc.real_profile(prof))
                 if not t.startswith(traits.DIGEST_PREFIX)]
        names.append(traits.PREFIX + traits.SCHEMA_CODE + '_%d'
                     % extra_schema)
        reporter.sync(self.writer, self.uuids[name], names)
        self.addCleanup(reporter.sync, self.writer, self.uuids[name],
                        traits.encode(mc.real_profile(prof)))

    def contradictions(self, rp):
        return [line for line in self.warnings()
                if 'contradict' in line and rp in line]

    def test_destination_warned_once_per_change(self):
        rp = self.uuids['intel']
        self._mixed('intel', INTEL, 1)
        self.assertTrue(self.cache.refresh_now())
        self.assertTrue(self.cache.refresh_now())
        self.assertEqual(hoststate.UNREADABLE, self.state('intel'))
        self.assertEqual(1, len(self.contradictions(rp)))
        self.assertIn('several schema traits', self.contradictions(rp)[0])
        self._mixed('intel', INTEL, 3)  # another contradiction
        self.assertTrue(self.cache.refresh_now())
        self.assertEqual(2, len(self.contradictions(rp)))

    def test_source_warned_once_per_change(self):
        import time
        rp = self.uuids['src']
        self._mixed('src', MILAN, 1)
        for _ in range(3):
            hp, _key = self.cache.read_source(rp, time.monotonic() + 5)
            self.assertEqual(hoststate.UNREADABLE, hp.state)
        self.assertEqual(1, len(self.contradictions(rp)))
