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

"""Freshness in nova's harness: a profile published after nova-scheduler
started is what the next live migration is judged by, one poll of the
change marker (profile_change_poll_interval, default 5 s) after the
reporter's write; a write that bumped no marker waits for the full read
every profile_refresh_interval (default 300 s).

The refresher runs on a fake clock: the test moves it and waits for the
poll or read that follows (events), so nothing depends on how fast this
machine is. nova's harness forks for "uptime" in between (the libvirt
driver), which must not stop the refresher.
"""

from migcompat_filter.scheduler import state
from tests.functional import nova_base as base
from tests.functional import nova_fixtures as mc

#: profile_change_poll_interval's and profile_refresh_interval's
#: defaults.
POLL = 5
INTERVAL = 300


class Clock(object):
    def __init__(self):
        self.now = 5000.0

    def __call__(self):
        return self.now


class FreshnessTest(base.NovaTestBase):

    #: The reporter's write is seen when the interval has passed, not at
    #: once (tests/functional/nova_fixtures.publish).
    REFRESH_AFTER_PUBLISH = False

    def setUp(self):
        super().setUp()
        self.flags(initial_profile_wait=0, group='migcompat')
        self.flags(profile_refresh_interval=INTERVAL, group='migcompat')
        self.flags(profile_change_poll_interval=POLL, group='migcompat')
        self.clock = Clock()
        self.cache = state.reset_shared(
            clock=self.clock).profiles
        self.milan = mc.real_profile(base.MILAN)

    def _scheduler_reads(self):
        """nova-scheduler's start (the filter starts the refresher), and
        its first read.
        """
        self.cache.start()
        self.assertTrue(self.cache.wait_for_read(0, 120))

    def _later(self, seconds):
        """seconds pass on the refresher's clock; the read they bring."""
        done = self.cache.reads_done
        self.clock.now += seconds
        self.cache.tick()
        self.assertTrue(self.cache.wait_for_read(done, 120))

    def _one_poll(self):
        """One poll interval passes; the poll it brings (and the read the
        poll started, if any: wait_for_poll waits for that too).
        """
        polls = self.cache.polls_done
        self.clock.now += POLL
        self.cache.tick()
        self.assertTrue(self.cache.wait_for_poll(polls, 120))

    def _publish_without_bump(self, hostname, prof):
        """What an older reporter (or a hand) writes: the traits, and no
        change marker bumped. The names exist (another host carries the
        same profile).
        """
        client = mc.reporter_client(self)
        rp_uuid = self._get_provider_uuid_by_host(hostname)
        current, generation = client.get_traits(rp_uuid)
        client.put_traits(rp_uuid, current | set(mc.traits.encode(prof)),
                          generation)

    def test_changed_profile_judged_by_the_new_one(self):
        self._start('src', self.milan)
        self._start('twin', self.milan)
        self._start('intel', mc.real_profile(base.INTEL))
        self.server = self._boot_on('src')
        self._scheduler_reads()
        self._migrate_live(self.server, 'src')
        self.assertEqual('twin', self._host_of(self.server))
        self.assertIn('2 candidates, 1 passed, 1 refused: intel',
                      self._filter_lines()[-1])
        # The intel host is re-imaged as a Milan twin; its reporter
        # publishes while nova-scheduler runs.
        mc.publish(self, 'intel', self.milan)
        self._later(POLL)
        self._migrate_live(self.server, 'twin')
        self.assertIn('2 candidates, 2 passed, 0 refused',
                      self._filter_lines()[-1])

    def test_new_host_judged_after_one_poll(self):
        self._start('src', self.milan)
        self._start('intel', mc.real_profile(base.INTEL))
        self.server = self._boot_on('src')
        self._scheduler_reads()
        # A compute node added while nova-scheduler runs; its reporter
        # publishes at its first start.
        self._start('new', self.milan)
        self._later(POLL)
        self._migrate_live(self.server, 'src')
        self.assertEqual('new', self._host_of(self.server))
        line = self._filter_lines()[-1]
        self.assertIn('2 candidates, 1 passed, 1 refused: intel', line)
        self.assertNotIn('untraited', line)

    def test_no_read_without_a_bump_before_the_interval(self):
        # The control: the same new host, its traits written without a
        # bump of the change marker. Polls see nothing and read nothing
        # until profile_refresh_interval has passed.
        self._start('src', self.milan)
        self._start('intel', mc.real_profile(base.INTEL))
        self.server = self._boot_on('src')
        self._scheduler_reads()
        self._start('new')
        self._publish_without_bump('new', self.milan)
        done = self.cache.reads_done
        for _ in range(INTERVAL // POLL - 1):
            self._one_poll()
        self.assertEqual(done, self.cache.reads_done)
        self._migrate_live(self.server, 'src')
        self.assertIn('1 untraited', self._filter_lines()[-1])
        # The full read at the interval finds it.
        self._later(POLL + 0.5)
        self._migrate_live(self.server, self._host_of(self.server))
        self.assertNotIn('untraited', self._filter_lines()[-1])
