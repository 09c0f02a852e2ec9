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

"""MigrationCompatibilityFilter's steps and the weigher's door, without nova's
database: the live-migration question is answered by the test, Placement
is the in-memory stand-in, and the host states carry only what the filter
reads (nova's own harness runs them in tests/functional/test_nova_filter).
"""

import uuid

import fixtures
import testtools

from migcompat_filter.placement import hoststate
from migcompat_filter.scheduler import migration_filter
from tests.fake_placement import FakePlacement
from tests.unit import test_scheduler_profiles as cached


class _HostState(object):
    def __init__(self, name):
        self.host = self.nodename = name
        self.uuid = str(uuid.uuid4())


class _Spec(object):
    """A request object that takes attributes, as a RequestSpec does."""


class _FilterBase(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.placement = FakePlacement()
        migration_filter.reset_shared(lambda: self.placement)
        self.addCleanup(migration_filter.reset_shared)
        # The hosts are added after the "scheduler start": the first
        # request waits for the first read (by default it would not).
        conf = migration_filter.CONF
        conf.set_override('initial_profile_wait', 10, 'migcompat')
        self.addCleanup(conf.clear_override, 'initial_profile_wait',
                        'migcompat')
        self.milan = cached.real('epyc-milan-nested-l1')
        self.intel = cached.real('libvirt-cpuid-xeon-gold-6148-host')
        self.src = self._host('src', self.milan)
        self.log = self.useFixture(fixtures.FakeLogger(
            name='migcompat_filter.scheduler.filter'))

    def _host(self, name, prof=None):
        hs = _HostState(name)
        self.placement.set(hs.uuid, (cached.published(prof) if prof else [])
                           + ['COMPUTE_NODE'])
        return hs

    def _judge(self, hosts, spec=None):
        migration = migration_filter.LiveMigration(
            'inst-1', self.src.host, self.src.nodename, self.src.uuid)
        return migration_filter.judge(hosts, spec or _Spec(), migration)


class FilterStepsTest(_FilterBase):

    def test_compatible_passes_incompatible_is_refused_with_why(self):
        twin = self._host('twin', self.milan)
        intel = self._host('intel', self.intel)
        spec = _Spec()
        self.assertEqual([twin], self._judge([twin, intel], spec))
        self.assertIn('2 candidates, 1 passed, 1 refused: intel (cpu_model',
                      self.log.output)
        judgement = migration_filter.judgement_for(spec)
        self.assertEqual('host-model', judgement.mode)
        self.assertEqual({twin.uuid, intel.uuid}, set(judgement.hosts))

    def test_untraited_destination_follows_its_option(self):
        bare = self._host('bare')
        self.assertEqual([bare], self._judge([bare]))
        self.assertIn('1 passed, 0 refused [1 untraited]', self.log.output)

    def test_untraited_source_passes_everyone_and_stashes_nothing(self):
        self.src = self._host('src2')
        twin = self._host('twin', self.milan)
        spec = _Spec()
        self.assertEqual([twin], self._judge([twin], spec))
        self.assertIn('the source cannot be judged', self.log.output)
        self.assertIsNone(migration_filter.judgement_for(spec))

    def test_placement_failure_passes_by_default(self):
        twin = self._host('twin', self.milan)
        self.placement.fail = RuntimeError('injected failure')
        self.assertEqual([twin], self._judge([twin]))
        self.assertIn('injected failure', self.log.output)
        self.assertIn('passing all 1 candidate hosts', self.log.output)

    def test_weigher_finds_the_source_when_the_filter_did_not_run(self):
        self.useFixture(fixtures.MonkeyPatch(
            'migcompat_filter.scheduler.migration_filter.live_migration',
            lambda spec: migration_filter.LiveMigration(
                'inst-1', 'src', 'src', self.src.uuid)))
        judgement = migration_filter.judgement_for(_Spec())
        self.assertEqual(hoststate.TRAITED, judgement.source.state)
        # No vcpu_model: the source's cpu_mode, as the filter would judge.
        self.assertEqual('host-model', judgement.mode)

    def test_conf_is_novas_with_our_options(self):
        import nova.conf
        self.assertIs(nova.conf.CONF, migration_filter.conf())
        self.assertEqual(1.0, migration_filter.conf().migcompat
                         .similarity_weight_multiplier)


class _VCPUModel(object):
    """The fields of nova's VirtCPUModel the filter reads."""

    def __init__(self, mode, model=None, features=()):
        self.mode, self.model = mode, model
        self.features = [_Feature(n, p) for n, p in features]


class _Feature(object):
    def __init__(self, name, policy):
        self.name, self.policy = name, policy


def _record(features, mode='host-model', count=2):
    """A running_guests record as the reporter publishes it."""
    return {'count': count, 'modes': {mode: count},
            'host_model_features': sorted(features) if mode == 'host-model'
            else [], 'custom_features': [], 'unexpanded': [],
            'machine_types': [], 'invtsc_frequencies': [],
            'invtsc_unpinned': 0, 'phys_bits': [], 'passthrough_extra': []}


class GuestJudgedTest(_FilterBase):
    """The instance's vcpu_model and the source's running guests decide
    (issue 10); the source is read on every request.
    """

    def _judge(self, hosts, spec=None, vcpu_model=None):
        migration = migration_filter.LiveMigration(
            'inst-1', self.src.host, self.src.nodename, self.src.uuid,
            vcpu_model=vcpu_model)
        return migration_filter.judge(hosts, spec or _Spec(), migration)

    def _summary(self):
        return [line for line in self.log.output.splitlines()
                if 'live migration of instance' in line][-1]

    def test_mode_from_vcpu_model_is_named(self):
        twin = self._host('twin', self.milan)
        self._judge([twin], vcpu_model=_VCPUModel('host-passthrough'))
        self.assertIn('from src (host-passthrough: instance vcpu_model)',
                      self._summary())

    def test_no_vcpu_model_falls_back_to_the_sources_cpu_mode(self):
        twin = self._host('twin', self.milan)
        self._judge([twin])
        self.assertIn("from src (host-model: source's cpu_mode, the "
                      "instance has no vcpu_model)", self._summary())
        self._judge([twin], vcpu_model=_VCPUModel(None))
        self.assertIn("(host-model: source's cpu_mode, the instance has "
                      "vcpu_model without a mode)", self._summary())

    def test_source_guests_read_on_every_request(self):
        hm = self.milan['host_model']
        # The destination lost clwb (an update); the source's guests,
        # started before, still have it; then they stop.
        lost = dict(hm, features=sorted(set(hm['features']) - {'clwb'}))
        dest = self._host('dest', cached.real('epyc-milan-nested-l1',
                                              host_model=lost))
        needs = _record(set(hm['features']) - {'invtsc'})
        self.placement.set(self.src.uuid, cached.published(
            cached.real('epyc-milan-nested-l1', host_model=lost,
                        running_guests=needs)) + ['COMPUTE_NODE'])
        self.assertEqual([], self._judge([dest]))
        # The INFO reasons line names the feature only the guests have.
        reasons = [line for line in self.log.output.splitlines()
                   if 'inst-1: refused dest: ' in line]
        self.assertEqual(1, len(reasons), self.log.output)
        self.assertIn('clwb', reasons[0])
        calls = self.placement.calls
        self.placement.set(self.src.uuid, cached.published(
            cached.real('epyc-milan-nested-l1', host_model=lost,
                        running_guests=_record([], count=0)))
            + ['COMPUTE_NODE'])
        # Warm: one call, the source's traits; a new verdict, not the
        # cached one of the same digests.
        self.assertEqual([dest], self._judge([dest]))
        self.assertEqual(1, self.placement.calls - calls)

    def test_verdicts_are_cached_per_guest(self):
        models = sorted(set(self.milan['usable_models']) |
                        {'EPYC-Rome', 'EPYC-Milan'})
        self.placement.set(self.src.uuid, cached.published(cached.real(
            'epyc-milan-nested-l1', cpu_mode='custom', usable_models=models,
            cpu_models=['EPYC-Milan', 'EPYC-Rome'])) + ['COMPUTE_NODE'])
        dest = self._host('dest', cached.real(
            'epyc-milan-nested-l1', cpu_mode='custom',
            usable_models=[m for m in models if m != 'EPYC-Milan']))
        rome = _VCPUModel('custom', 'EPYC-Rome')
        milan = _VCPUModel('custom', 'EPYC-Milan')
        self.assertEqual([dest], self._judge([dest], vcpu_model=rome))
        self.assertEqual([], self._judge([dest], vcpu_model=milan))
        self.assertEqual([dest], self._judge([dest], vcpu_model=rome))

    def test_failed_source_read_falls_back_to_its_cached_profile(self):
        twin = self._host('twin', self.milan)
        intel = self._host('intel', self.intel)
        self.assertEqual([twin], self._judge([twin, intel]))
        self.placement.fail = RuntimeError('injected failure')
        # Warm cache: the destinations are known; the source's read fails
        # and its digest group's profile (without guests) stands in.
        self.assertEqual([twin], self._judge([twin, intel]))
        self.assertIn('judging by its cached host profile', self.log.output)
        self.assertIn('1 passed, 1 refused: intel', self._summary())


class _Weighed(object):
    def __init__(self, host_state):
        self.obj = host_state


class WeigherSharesTest(_FilterBase):
    """F7: similarity counts in full only for host-passthrough guests."""

    def _weights(self, mode):
        from migcompat_filter.scheduler import weigher
        twin = self._host('twin', self.milan)
        updated = self._host('updated', cached.real(
            'epyc-milan-nested-l1', kernel_version='6.19.1-fc-v700'))
        spec = _Spec()
        migration = migration_filter.LiveMigration(
            'inst-1', self.src.host, self.src.nodename, self.src.uuid,
            vcpu_model=_VCPUModel(mode, sorted(
                self.milan['usable_models'])[0] if mode == 'custom'
                else None))
        passed = migration_filter.judge([twin, updated], spec, migration)
        self.assertEqual([twin, updated], passed)
        w = weigher.MigrationSimilarityWeigher()
        self.assertEqual((0.0, 1.0), (w.minval, w.maxval))
        return w.weigh_objects([_Weighed(h) for h in passed], spec)

    def test_passthrough_weighs_similarity(self):
        twin, updated = self._weights('host-passthrough')
        self.assertGreater(twin, updated)
        self.assertLessEqual(twin, 1.0)
        self.assertGreater(updated, 0.5)

    def test_host_model_is_a_tie_break(self):
        twin, updated = self._weights('host-model')
        self.assertGreater(twin, updated)
        self.assertLess(twin, 1e-5)

    def test_custom_weighs_nothing(self):
        self.assertEqual([0.0, 0.0], self._weights('custom'))
