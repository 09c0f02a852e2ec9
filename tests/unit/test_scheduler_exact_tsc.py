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

"""A guest with an invariant TSC is judged by each destination's own TSC
frequency.

The digest leaves the calibrated frequency out (the catalogue's ``tsc``
row: ``per_host_fields``), so hosts that differ only in it share one
digest group whose profile has no frequency; for a guest with a pinned
invariant TSC (or invtsc from nova and nothing saying how it runs) each
candidate that does not scale the TSC is read by its own traits. A host
read alone (its reporter publishes no digest) keeps its frequency, which
is exact, so nothing more is read for it.

Profiles are real snapshots with their TSC frequency set as calibrated
hosts report it, published with the real codec; Placement is the
in-memory stand-in (the real one runs in tests/functional).
"""

import uuid

from oslo_config import fixture as config_fixture

from migcompat_filter import profile as profile_mod
from migcompat_filter.scheduler import instances
from migcompat_filter.scheduler import migration_filter
from migcompat_filter.scheduler import state
from tests.unit import scheduler_helpers as helpers

SOURCE_HZ = 2095012345
#: 1 kHz off: within the default tolerance; 30 MHz off: not.
NEAR_HZ = SOURCE_HZ + 1000
FAR_HZ = SOURCE_HZ + 30000000


def _pinned_record(hz):
    record = helpers.record(['clwb'])
    record['invtsc_frequencies'] = [hz]
    return record


def _own(host):
    return '/resource_providers/%s/traits' % host.uuid


class ExactTscTest(helpers.FilterBase):

    def _milan(self, hz, **changes):
        tsc = {'frequency': hz, 'scaling': False}
        return helpers.real(helpers.MILAN, tsc=tsc, **changes)

    def setUp(self):
        super().setUp()
        self.src = self._host('src', self._milan(
            SOURCE_HZ, running_guests=_pinned_record(SOURCE_HZ)))
        self.same = self._host('same', self._milan(SOURCE_HZ))
        self.near = self._host('near', self._milan(NEAR_HZ))
        self.far = self._host('far', self._milan(FAR_HZ))
        # Another group, whose hosts scale the TSC: judged alike.
        self.scales = self._host('scales', helpers.real(
            helpers.MILAN, kernel_version='6.19.1-fc-v700',
            tsc={'frequency': FAR_HZ + 7, 'scaling': True}))
        self.hosts = [self.same, self.near, self.far, self.scales]

    def _judge_names(self, hosts=None, vcpu_model=None):
        return sorted(h.host for h in self._judge(hosts or self.hosts,
                                                  vcpu_model=vcpu_model))

    def test_exact_frequency_decides(self):
        self.assertEqual(['near', 'same', 'scales'], self._judge_names())
        refused = [line for line in self.log.output.splitlines()
                   if 'refused far' in line]
        self.assertEqual(1, len(refused), self.log.output)
        self.assertIn('%d Hz' % FAR_HZ, refused[0])

    def test_one_group_and_each_host_read_on_the_first_request(self):
        self.assertEqual(['near', 'same', 'scales'], self._judge_names())
        snap = state.shared().profiles.snapshot()
        keys = {snap.host(h.uuid).key for h in (self.same, self.near,
                                                self.far)}
        self.assertEqual(1, len(keys))
        urls = list(self.placement.urls)
        for host in (self.same, self.near, self.far):
            self.assertIn(_own(host), urls, host.host)
        # The scaling host's group judges alike: read only once, by the
        # refresher, to learn its group's profile.
        self.assertEqual(1, urls.count(_own(self.scales)))
        # Same snapshot: memoised, only the source is read again (the
        # documented one Placement call per live migration).
        calls = self.placement.calls
        self.assertEqual(['near', 'same', 'scales'], self._judge_names())
        self.assertEqual([_own(self.src)], self.placement.urls[calls:])

    def test_guest_without_invtsc_reads_nothing_per_host(self):
        self.placement.set(self.src.uuid, helpers.published(self._milan(
            SOURCE_HZ, running_guests=helpers.record(['clwb']))))
        self.assertEqual(['far', 'near', 'same', 'scales'],
                         self._judge_names())
        # At most the one host the refresher read to learn the group's
        # profile; none for the request.
        own = [self.placement.urls.count(_own(h))
               for h in (self.same, self.near, self.far)]
        self.assertLessEqual(sum(own), 1, own)

    def test_invtsc_from_nova_with_nothing_pinned_needs_the_exact_tsc(self):
        # The source says nothing of how its guests run (no record): nova's
        # invtsc flag alone makes the source's frequency the guest's.
        self.placement.set(self.src.uuid, helpers.published(self._milan(
            SOURCE_HZ, running_guests=profile_mod.Unknown('not read'))))
        vcpu = helpers.VCPUModel('host-model',
                                 features=[('invtsc', 'require')])
        self.assertEqual(['near', 'same', 'scales'],
                         self._judge_names(vcpu_model=vcpu))

    def test_a_host_read_alone_is_judged_by_its_own_frequency(self):
        # A reporter that publishes no digest: the refresher reads the
        # host by its own traits, so its frequency is known and exact and
        # the request reads nothing more of it (a Placement failing on
        # it now changes nothing).
        alone = self._host('alone', traits=helpers.published(
            self._milan(FAR_HZ, kernel_version='6.19.1-alone'),
            digest=False))
        state.shared().profiles.refresh_now()
        self.assertEqual(
            FAR_HZ, state.shared().profiles.snapshot().host(
                alone.uuid).profile['tsc']['frequency'])
        real_get = self.placement.get

        def failing(url, **kw):
            if alone.uuid in url:
                raise ConnectionError('injected failure')
            return real_get(url, **kw)
        self.placement.get = failing
        self.assertEqual(['same'], self._judge_names([self.same, alone]))
        self.assertIn('refused alone', self.log.output)
        self.assertNotIn('unjudged', self.log.output)

    def test_unread_host_follows_placement_error_action(self):
        self._judge(self.hosts)  # the first read of the fleet
        real_get = self.placement.get

        def failing(url, **kw):
            if self.far.uuid in url:
                raise ConnectionError('injected failure')
            return real_get(url, **kw)
        self.placement.get = failing
        # A new snapshot: the memo of the old one is not used.
        state.shared().profiles.refresh_now()
        self.useFixture(config_fixture.Config(
            migration_filter.CONF)).config(placement_error_action='refuse',
                                           group='migcompat')
        self.assertEqual(['near', 'same', 'scales'], self._judge_names())
        self.assertIn('1 unjudged', self.log.output)


class SourceReResolvedTest(helpers.FilterBase):
    """A compute node re-created with a new UUID is found again."""

    def test_404_on_the_source_reads_the_compute_node_again(self):
        twin = self._host('twin', self.milan)
        intel = self._host('intel', self.intel)
        gone = str(uuid.uuid4())  # the old provider, deleted
        resolved = []

        def resolve():
            resolved.append(1)
            return self.src.uuid
        migration = instances.LiveMigration(
            'inst-1', 'src', 'src', gone, resolve_source=resolve)
        passed = migration_filter.judge([twin, intel], helpers.Spec(),
                                        migration)
        self.assertEqual([twin], passed)
        self.assertEqual([1], resolved)
        self.assertEqual(self.src.uuid, migration.source_uuid)
        self.assertIn('compute node UUID changed', self.log.output)
