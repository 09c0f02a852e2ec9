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


import threading

import fixtures

from migcompat_filter.placement import hoststate
from migcompat_filter.scheduler import instances
from migcompat_filter.scheduler import migration_filter
from tests.unit import scheduler_helpers as helpers


class FilterStepsTest(helpers.FilterBase):

    def test_compatible_passes_incompatible_is_refused_with_why(self):
        twin = self._host('twin', self.milan)
        intel = self._host('intel', self.intel)
        spec = helpers.Spec()
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
        spec = helpers.Spec()
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
            lambda spec: instances.LiveMigration(
                'inst-1', 'src', 'src', self.src.uuid)))
        judgement = migration_filter.judgement_for(helpers.Spec())
        self.assertEqual(hoststate.TRAITED, judgement.source.state)
        # No vcpu_model: the source's cpu_mode, as the filter would judge.
        self.assertEqual('host-model', judgement.mode)


class GuestJudgedTest(helpers.FilterBase):
    """The instance's vcpu_model and the source's running guests decide;
    the source is read on every request.
    """

    def _summary(self):
        return [line for line in self.log.output.splitlines()
                if 'live migration of instance' in line][-1]

    def test_mode_from_vcpu_model_is_named(self):
        twin = self._host('twin', self.milan)
        self._judge([twin], vcpu_model=helpers.VCPUModel('host-passthrough'))
        self.assertIn('from src (host-passthrough: instance vcpu_model)',
                      self._summary())

    def test_no_vcpu_model_falls_back_to_the_sources_cpu_mode(self):
        twin = self._host('twin', self.milan)
        self._judge([twin])
        self.assertIn("from src (host-model: source's cpu_mode, the "
                      "instance has no vcpu_model)", self._summary())
        self._judge([twin], vcpu_model=helpers.VCPUModel(None))
        self.assertIn("(host-model: source's cpu_mode, the instance has "
                      "vcpu_model without a mode)", self._summary())

    def test_source_guests_read_on_every_request(self):
        hm = self.milan['host_model']
        # The destination lost clwb (an update); the source's guests,
        # started before, still have it; then they stop.
        lost = dict(hm, features=sorted(set(hm['features']) - {'clwb'}))
        dest = self._host('dest', helpers.real(helpers.MILAN,
                                               host_model=lost))
        needs = helpers.record(set(hm['features']) - {'invtsc'})
        self.placement.set(self.src.uuid, helpers.published(
            helpers.real(helpers.MILAN, host_model=lost,
                         running_guests=needs)) + ['COMPUTE_NODE'])
        self.assertEqual([], self._judge([dest]))
        # The INFO reasons line names the feature only the guests have.
        reasons = [line for line in self.log.output.splitlines()
                   if 'inst-1: refused dest: ' in line]
        self.assertEqual(1, len(reasons), self.log.output)
        self.assertIn('clwb', reasons[0])
        calls = self.placement.calls
        self.placement.set(self.src.uuid, helpers.published(
            helpers.real(helpers.MILAN, host_model=lost,
                         running_guests=helpers.record([], count=0)))
            + ['COMPUTE_NODE'])
        # Warm: one call, the source's traits (the documented one call
        # per live migration); a new verdict, not the cached one of the
        # same digests.
        self.assertEqual([dest], self._judge([dest]))
        self.assertEqual(1, self.placement.calls - calls)

    def test_verdicts_are_cached_per_guest(self):
        models = sorted(set(self.milan['usable_models']) |
                        {'EPYC-Rome', 'EPYC-Milan'})
        self.placement.set(self.src.uuid, helpers.published(helpers.real(
            'epyc-milan-nested-l1', cpu_mode='custom', usable_models=models,
            cpu_models=['EPYC-Milan', 'EPYC-Rome'])) + ['COMPUTE_NODE'])
        dest = self._host('dest', helpers.real(
            'epyc-milan-nested-l1', cpu_mode='custom',
            usable_models=[m for m in models if m != 'EPYC-Milan']))
        rome = helpers.VCPUModel('custom', 'EPYC-Rome')
        milan = helpers.VCPUModel('custom', 'EPYC-Milan')
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


class WeigherSharesTest(helpers.FilterBase):
    """Similarity counts in full only for host-passthrough guests."""

    def _weights(self, mode):
        from migcompat_filter.scheduler import weigher
        passed, spec = self._judged(mode)
        w = weigher.MigrationSimilarityWeigher()
        return w.weigh_objects([_Weighed(h) for h in passed], spec)

    def _judged(self, mode):
        twin = self._host('twin', self.milan)
        updated = self._host('updated', helpers.real(
            'epyc-milan-nested-l1', kernel_version='6.19.1-fc-v700'))
        spec = helpers.Spec()
        migration = instances.LiveMigration(
            'inst-1', self.src.host, self.src.nodename, self.src.uuid,
            vcpu_model=helpers.VCPUModel(mode, sorted(
                self.milan['usable_models'])[0] if mode == 'custom'
                else None))
        passed = migration_filter.judge([twin, updated], spec, migration)
        self.assertEqual([twin, updated], passed)
        return passed, spec

    def test_nova_does_not_stretch_a_small_difference(self):
        # nova rescales each weigher's weights over the candidates to
        # [0, 1] unless the weigher fixes its bounds: stretched, the twin
        # and the updated host (a few hundredths apart in similarity)
        # would weigh 1 and 0 and outweigh nova's RAM and CPU weighers.
        from migcompat_filter.scheduler import weigher
        from nova.scheduler import weights
        passed, spec = self._judged('host-passthrough')
        w = weigher.MigrationSimilarityWeigher()
        raw = w.weigh_objects([_Weighed(h) for h in passed], spec)
        for host_state in passed:
            host_state.aggregates = []  # no per-aggregate multiplier
        weighed = weights.HostWeightHandler().get_weighed_objects(
            [w], passed, spec)
        got = {w.obj.host: w.weight for w in weighed}
        self.assertLess(raw[0] - raw[1], 0.1)
        for expected, name in zip(raw, ('twin', 'updated')):
            self.assertAlmostEqual(expected, got[name])

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


class _Filter(helpers.FilterBase):
    """Through nova's entry point, filter_all, with the live-migration
    question answered by the test (no nova database here).
    """

    def setUp(self):
        super().setUp()
        self.twin = self._host('twin', self.milan)
        self.intel = self._host('intel', self.intel)
        self.hosts = [self.twin, self.intel]
        self.useFixture(fixtures.MonkeyPatch(
            'migcompat_filter.scheduler.migration_filter.live_migration',
            lambda spec: instances.LiveMigration(
                'inst-1', 'src', 'src', self.src.uuid)))
        self.weigher_log = self.useFixture(fixtures.FakeLogger(
            name='migcompat_filter.scheduler.weigher'))

    def _filter(self, spec=None):
        f = migration_filter.MigrationCompatibilityFilter()
        return list(f.filter_all(self.hosts, spec or helpers.Spec()))

    def _broken(self, name):
        def broken(*args, **kwargs):
            raise RuntimeError('injected bug')
        self.useFixture(fixtures.MonkeyPatch(
            'migcompat_filter.rules.engine.' + name, broken))


class GuardsTest(_Filter):
    """Never raise into nova: an error inside judging passes every host,
    an error inside weighing weighs every host 0; each is logged once.
    """

    def test_an_error_in_judging_passes_every_host_and_logs_once(self):
        self._broken('evaluate')
        self.assertEqual(self.hosts, self._filter())
        self.assertEqual(1, self.log.output.count(
            'filtering the live migration of inst-1 failed; passing all '
            '2 hosts'), self.log.output)
        self.assertIn('injected bug', self.log.output)

    def test_an_error_telling_the_request_apart_does_not_filter(self):
        def broken(spec):
            raise RuntimeError('database gone')
        self.useFixture(fixtures.MonkeyPatch(
            'migcompat_filter.scheduler.migration_filter.live_migration',
            broken))
        self.assertEqual(self.hosts, self._filter())
        self.assertEqual(1, self.log.output.count(
            'could not tell whether instance'), self.log.output)

    def test_an_error_in_weighing_weighs_every_host_0_and_logs_once(self):
        from migcompat_filter.scheduler import weigher
        self.useFixture(fixtures.MockPatchObject(
            migration_filter.CONF.migcompat, 'verdict_cache_size', 0))
        spec = helpers.Spec()
        self.assertEqual([self.twin], self._filter(spec))
        self._broken('similarity')
        weights = weigher.MigrationSimilarityWeigher().weigh_objects(
            [_Weighed(self.twin)], spec)
        self.assertEqual([0.0], weights)
        self.assertEqual(1, self.weigher_log.output.count(
            'weighing failed; all hosts weigh 0'), self.weigher_log.output)

    def test_without_rules_every_host_is_refused(self):
        # Fail closed: NoRulesInstalled promises no verdict without rules,
        # and passing every host would be a verdict of "compatible".
        self.useFixture(fixtures.MonkeyPatch(
            'migcompat_filter.rules.engine._RULES', ()))
        spec = helpers.Spec()
        self.assertEqual([], self._filter(spec))
        self.assertIn('no rule is installed', self.log.output)
        self.assertIn('refusing all 2 hosts', self.log.output)
        self.assertIsNone(migration_filter.judgement_for(spec))


class OneDecisionPathTest(_Filter):
    """DEBUG logging adds lines and changes nothing the filter decides."""

    def _run(self, level):
        log = self.useFixture(fixtures.FakeLogger(
            name='migcompat_filter.scheduler.filter', level=level))
        spec = helpers.Spec()
        passed = self._filter(spec)
        judged = migration_filter.judgement_for(spec).hosts
        return ([h.host for h in passed],
                [judged[h.uuid].state for h in self.hosts], log.output)

    def test_debug_and_info_judge_alike(self):
        import logging
        conf = migration_filter.CONF
        conf.set_override('untraited_host_action', 'refuse', 'migcompat')
        self.addCleanup(conf.clear_override, 'untraited_host_action',
                        'migcompat')
        self.hosts.append(self._host('bare'))
        self.hosts.append(self._host('kernel', helpers.real(
            helpers.MILAN, kernel_version='6.19.1-fc-v700')))
        info = self._run(logging.INFO)
        debug = self._run(logging.DEBUG)
        self.assertEqual(['twin', 'kernel'], info[0])
        self.assertEqual(info[:2], debug[:2])
        # The same INFO summary; DEBUG adds its own lines.
        summary = [line for line in info[2].splitlines()
                   if 'candidates' in line]
        self.assertEqual(1, len(summary))
        self.assertIn(summary[0], debug[2])
        self.assertIn('bare: untraited', debug[2])
        self.assertNotIn('bare: untraited', info[2])


class FirstReadWaitTest(helpers.FilterBase):
    """Waiting for the process's first read keeps part of the request's
    budget for reading the source, which every judgement needs.
    """

    def setUp(self):
        super().setUp()
        self.twin = self._host('twin', self.milan)
        self.intel = self._host('intel', self.intel)
        self.release = threading.Event()
        self.addCleanup(self.release.set)
        real_get = self.placement.get
        self.hang = {'fleet'}

        def get(url, **kw):
            own = url.endswith('/traits') and self.src.uuid in url
            if ('source' if own else 'fleet') in self.hang:
                self.release.wait(30)
            return real_get(url, **kw)
        self.placement.get = get
        conf = migration_filter.CONF
        # The first read never ends within the request: the wait option
        # alone would spend the whole budget on it.
        for name, value in (('initial_profile_wait', 60),
                            ('request_time_budget', 0.5),
                            ('placement_error_action', 'refuse')):
            conf.set_override(name, value, 'migcompat')
            self.addCleanup(conf.clear_override, name, 'migcompat')

    def test_the_source_is_read_after_a_long_first_read(self):
        self.assertEqual([], self._judge([self.twin, self.intel]))
        self.assertNotIn('source cannot be judged', self.log.output)
        # Judged against the source: the destinations are not read yet.
        self.assertIn('2 candidates, 0 passed, 2 refused', self.log.output)
        self.assertIn('2 unjudged', self.log.output)

    def test_a_source_not_read_in_time_is_reported_as_such(self):
        self.hang.add('source')
        self.assertEqual([], self._judge([self.twin, self.intel]))
        self.assertIn('the source cannot be judged', self.log.output)
        self.assertIn('did not answer within the time budget',
                      self.log.output)
        self.assertIn('refusing all 2 candidate hosts '
                      '(placement_error_action)', self.log.output)
