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

"""The refresher's polls of the change marker, on a fake clock: a moved
generation starts a full read, an unmoved one reads nothing, a failed poll
changes nothing, the full read still comes every profile_refresh_interval.
(Against nova's harness and a real placement: test_nova_freshness.)
"""

import uuid

import testtools

from migcompat_filter.placement import change_marker
from migcompat_filter.scheduler import profiles
from migcompat_filter.scheduler import refresher
from tests.fake_placement import FakePlacement
from tests.unit import scheduler_helpers as base

POLL = 5
INTERVAL = 300


class ChangePollTest(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.placement = FakePlacement()
        self.placement.marker = 7
        self.placement.set(str(uuid.uuid4()),
                           base.published(base.real('epyc-milan-nested-l1')))
        self.clock = base.Clock()
        self.cache = profiles.ProfileCache(lambda: self.placement,
                                           ttl=INTERVAL, clock=self.clock)
        self.cache.poll_interval = POLL
        self.addCleanup(self.cache.stop)
        self.cache.start()
        self.assertTrue(self.cache.wait_for_read(0, 30))

    def _poll(self):
        """One poll interval passes; (reads it started, URLs it sent)."""
        reads, sent = self.cache.reads_done, self.placement.calls
        polls = self.cache.polls_done
        self.clock.now += POLL
        self.cache.tick()
        self.assertTrue(self.cache.wait_for_poll(polls, 30))
        return (self.cache.reads_done - reads,
                self.placement.urls[sent:])

    def test_nothing_moved_nothing_read(self):
        first = self.cache.snapshot(wait=False)
        for _ in range(3):
            self.assertEqual((0, [refresher.MARKER_URL]), self._poll())
        self.assertIs(first, self.cache.snapshot(wait=False))

    def test_a_bump_starts_one_read(self):
        self.placement.marker += 1
        reads, urls = self._poll()
        self.assertEqual(1, reads)
        self.assertEqual(refresher.MARKER_URL, urls[0])
        self.assertGreater(len(urls), 1)  # the full read
        self.assertEqual(0, self._poll()[0])  # once per bump

    def test_a_failed_poll_changes_nothing(self):
        first = self.cache.snapshot(wait=False)
        self.placement.fail = ConnectionError('placement is down')
        self.placement.marker += 1
        self.assertEqual(0, self._poll()[0])
        self.assertIs(first, self.cache.snapshot(wait=False))
        self.placement.fail = None
        self.assertEqual(1, self._poll()[0])  # the next poll sees it

    def test_a_marker_created_later_is_a_change(self):
        self.placement.marker = None  # every reporter is older, or gone
        self.assertEqual(1, self._poll()[0])  # 7 -> absent: a change
        self.assertEqual(0, self._poll()[0])
        self.placement.marker = 0  # the first new reporter created it
        self.assertEqual(1, self._poll()[0])

    def test_full_read_every_interval_without_a_bump(self):
        done = self.cache.reads_done
        for _ in range(INTERVAL // POLL - 1):
            self._poll()
        self.assertEqual(done, self.cache.reads_done)
        self.clock.now += POLL
        self.cache.tick()
        self.assertTrue(self.cache.wait_for_read(done, 30))

    def test_the_marker_uuid_is_the_documented_one(self):
        self.assertEqual('b8329855-d9d6-5bc7-bb09-9225a1d1b6f3',
                         change_marker.UUID)
        self.assertEqual(str(uuid.uuid5(change_marker.NAMESPACE,
                                        'migcompat-changes')),
                         change_marker.UUID)
