"""MigrationCompatibilityFilter's steps and the weigher's door, without nova's
database: the live-migration question is answered by the test, Placement
is the in-memory stand-in, and the host states carry only what the filter
reads (nova's own harness runs them in tests/functional/test_nova_filter).
"""

import uuid

import fixtures
import testtools

from migcompat_filter import hoststate
from migcompat_filter.scheduler import migration_filter
from tests.fake_placement import FakePlacement
from tests.unit import test_scheduler_profiles as cached


class _HostState(object):
    def __init__(self, name):
        self.host = self.nodename = name
        self.uuid = str(uuid.uuid4())


class _Spec(object):
    """A request object that takes attributes, as a RequestSpec does."""


class FilterStepsTest(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.placement = FakePlacement()
        migration_filter.reset_shared(lambda: self.placement)
        self.addCleanup(migration_filter.reset_shared)
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
        self.assertIsNone(judgement.mode)

    def test_conf_is_novas_with_our_options(self):
        import nova.conf
        self.assertIs(nova.conf.CONF, migration_filter.conf())
        self.assertEqual(10.0, migration_filter.conf().migcompat
                         .similarity_weight_multiplier)
