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

"""A guest with a pinned invariant TSC is judged by each destination's own
TSC frequency, before and after the digest leaves the frequency out.

Profiles are real snapshots with their TSC frequency set as calibrated
hosts report it, published with the real codec; Placement is the
in-memory stand-in (the real one runs in tests/functional). "After the
codec change" is simulated by making the TSC trait per host for the
digest (traits.is_per_host) and dropping the group's frequency
(grouping.without_per_host), as the trait engineer's change does.
"""

import uuid

import fixtures
from oslo_config import fixture as config_fixture

from migcompat_filter.factors import catalogue
from migcompat_filter.placement import grouping
from migcompat_filter.placement import hoststate
from migcompat_filter.scheduler import migration_filter
from migcompat_filter.traits import codec as traits
from tests.unit import test_scheduler_filter as base
from tests.unit import test_scheduler_profiles as cached

SOURCE_HZ = 2095012345
#: 1 kHz off: within the default tolerance; 30 MHz off: not.
NEAR_HZ = SOURCE_HZ + 1000
FAR_HZ = SOURCE_HZ + 30000000


def _pinned_record(hz):
    record = base._record(['clwb'])
    record['invtsc_frequencies'] = [hz]
    return record


def per_host_tsc(test):
    """Simulate the codec change: TSC out of the digest, and a group's
    profile without the frequency (nothing to do where the codec already
    publishes the frequency per host: catalogue per_host_fields).
    """
    if catalogue.get('tsc').per_host_fields:
        return
    code = traits.PREFIX + traits._codec_for('tsc')[0] + '_'
    orig_is_per_host = traits.is_per_host
    orig_without = grouping.without_per_host

    def is_per_host(trait):
        return orig_is_per_host(trait) or trait.startswith(code)

    def without(hp):
        hp = orig_without(hp)
        tsc = hp.profile['tsc'] if hp.profile is not None else None
        if not isinstance(tsc, dict) or 'frequency' not in tsc:
            return hp
        factors = dict(hp.profile.factors)
        factors['tsc'] = {k: v for k, v in tsc.items() if k != 'frequency'}
        return hoststate.HostProfile(hp.state, type(hp.profile)(factors),
                                     hp.key, hp.reason, hp.problems)
    test.useFixture(fixtures.MonkeyPatch(
        'migcompat_filter.traits.codec.is_per_host', is_per_host))
    test.useFixture(fixtures.MonkeyPatch(
        'migcompat_filter.placement.grouping.without_per_host', without))


class _ExactBase(base._FilterBase):

    def _milan(self, hz, **changes):
        tsc = {'frequency': hz, 'scaling': False}
        return cached.real('epyc-milan-nested-l1', tsc=tsc, **changes)

    def setUp(self):
        super().setUp()
        self.simulate()
        self.src = self._host('src', self._milan(
            SOURCE_HZ, running_guests=_pinned_record(SOURCE_HZ)))
        self.same = self._host('same', self._milan(SOURCE_HZ))
        self.near = self._host('near', self._milan(NEAR_HZ))
        self.far = self._host('far', self._milan(FAR_HZ))
        # Another group (the simulation takes all of TSC out of the
        # digest; the codec change keeps 'scaling' in it).
        self.scales = self._host('scales', cached.real(
            'epyc-milan-nested-l1', kernel_version='6.19.1-fc-v700',
            tsc={'frequency': FAR_HZ + 7, 'scaling': True}))
        self.hosts = [self.same, self.near, self.far, self.scales]

    def simulate(self):
        pass

    def _judge_names(self):
        return sorted(h.host for h in self._judge(self.hosts))

    def test_exact_frequency_decides(self):
        self.assertEqual(['near', 'same', 'scales'], self._judge_names())
        refused = [line for line in self.log.output.splitlines()
                   if 'refused far' in line]
        self.assertEqual(1, len(refused), self.log.output)
        self.assertIn('%d Hz' % FAR_HZ, refused[0])


class BeforeCodecChangeTest(_ExactBase):
    """Today: the digest covers the frequency, so each frequency is its own
    group and nothing is read per host.
    """

    def test_no_per_host_reads(self):
        self._judge(self.hosts)
        calls = self.placement.calls
        self._judge(self.hosts)
        # Only the source, read on every request.
        self.assertEqual(1, self.placement.calls - calls)


class AfterCodecChangeTest(_ExactBase):
    """The digest leaves the frequency out: the hosts that do not scale
    share one group and are each read once per snapshot.
    """

    def simulate(self):
        per_host_tsc(self)

    def test_one_group_and_per_host_reads_memoised(self):
        self.assertEqual(['near', 'same', 'scales'], self._judge_names())
        snap = migration_filter.shared().profiles.snapshot()
        group = (self.same, self.near, self.far)
        keys = {snap.host(h.uuid).key for h in group}
        self.assertEqual(1, len(keys))
        urls = list(self.placement.urls)
        own = {'/resource_providers/%s/traits' % h.uuid
               for h in (self.same, self.near, self.far)}
        self.assertEqual(own, own & set(urls))
        # The scaling host's group judges alike: read only once, by the
        # refresher, to learn its group's profile.
        self.assertEqual(1, urls.count(
            '/resource_providers/%s/traits' % self.scales.uuid))
        # Same snapshot: memoised, only the source again.
        calls = self.placement.calls
        self.assertEqual(['near', 'same', 'scales'], self._judge_names())
        self.assertEqual(1, self.placement.calls - calls)

    def test_guest_without_invtsc_reads_nothing_per_host(self):
        self.placement.set(self.src.uuid, cached.published(self._milan(
            SOURCE_HZ, running_guests=base._record(['clwb']))))
        self._judge(self.hosts)
        calls = self.placement.calls
        self.assertEqual(['far', 'near', 'same', 'scales'],
                         self._judge_names())
        self.assertEqual(1, self.placement.calls - calls)

    def test_unread_host_follows_placement_error_action(self):
        self._judge(self.hosts)  # the first read of the fleet
        real_get = self.placement.get

        def failing(url, **kw):
            if self.far.uuid in url:
                raise ConnectionError('injected failure')
            return real_get(url, **kw)
        self.placement.get = failing
        # A new snapshot: the memo of the old one is not used.
        migration_filter.shared().profiles.refresh_now()
        self.useFixture(config_fixture.Config(
            migration_filter.CONF)).config(placement_error_action='refuse',
                                           group='migcompat')
        self.assertEqual(['near', 'same', 'scales'], self._judge_names())
        self.assertIn('1 unjudged', self.log.output)


class SourceReResolvedTest(base._FilterBase):
    """F9: a compute node re-created with a new UUID is found again."""

    def test_404_on_the_source_reads_the_compute_node_again(self):
        twin = self._host('twin', self.milan)
        intel = self._host('intel', self.intel)
        gone = str(uuid.uuid4())  # the old provider, deleted
        resolved = []

        def resolve():
            resolved.append(1)
            return self.src.uuid
        migration = migration_filter.LiveMigration(
            'inst-1', 'src', 'src', gone, resolve_source=resolve)
        passed = migration_filter.judge([twin, intel], base._Spec(),
                                        migration)
        self.assertEqual([twin], passed)
        self.assertEqual([1], resolved)
        self.assertEqual(self.src.uuid, migration.source_uuid)
        self.assertIn('compute node UUID changed', self.log.output)
