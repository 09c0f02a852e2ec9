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

"""The filter and weigher inside a real nova (nova 34's functional harness).

Fake libvirt computes, the real nova API, conductor and scheduler, and a
real placement (in process). Each compute's traits come from a real host
snapshot under tests/fixtures/hosts, read with the reader and published
with the reporter, as ``migcompat report`` does it.

Run with stestr (or python -m testtools.run), not pytest.
"""

import threading
import time
from unittest import mock

import fixtures

from migcompat_filter.scheduler import state
from tests.functional import nova_base
from tests.functional import nova_fixtures as mc

MILAN = nova_base.MILAN
INTEL = nova_base.INTEL


class HostModelLiveMigrationTest(nova_base.NovaTestBase):
    """host-model source; a twin, an Intel host and an untraited host."""

    def setUp(self):
        super().setUp()
        self._start_three()

    def test_no_target_lands_on_compatible_host(self):
        self._migrate_live(self.server, 'src')
        self.assertEqual('twin', self._host_of(self.server))
        lines = self._filter_lines()
        self.assertEqual(1, len(lines), lines)
        # The mode is the instance's own (the fake libvirt driver records
        # the guest CPU config it generated as instance.vcpu_model).
        self.assertIn('from src (host-model: instance vcpu_model)',
                      lines[0])
        self.assertIn('2 candidates, 1 passed, 1 refused: intel (cpu_model',
                      lines[0])

    def test_incompatible_requested_target_is_refused(self):
        self._post_live_migration_expect_no_valid_host(host='intel')
        lines = self._filter_lines()
        self.assertEqual(1, len(lines), lines)
        self.assertIn('1 candidates, 0 passed, 1 refused: intel (cpu_model',
                      lines[0])

    def test_compatible_requested_target_passes(self):
        self._migrate_live(self.server, 'src', dest='twin')
        self.assertEqual('twin', self._host_of(self.server))
        self.assertIn('1 candidates, 1 passed, 0 refused',
                      self._filter_lines()[0])

    def test_boot_and_cold_migration_are_not_filtered(self):
        # Only the Intel host is left: a live migration would be refused,
        # a boot and a cold migration must not be.
        self.api.put_service(
            self.api.get_services(host='twin',
                                  binary='nova-compute')[0]['id'],
            {'status': 'disabled'})
        booted = self._create_server(networks='none')
        self.assertIn(self._host_of(booted), ('src', 'intel'))
        # The fake libvirt has no disks to move (as in nova's own tests).
        with mock.patch('nova.virt.libvirt.driver.LibvirtDriver'
                        '.migrate_disk_and_power_off', return_value='{}'):
            self._migrate_server(self.server)
        self.assertEqual('intel', self._host_of(self.server))
        self.assertEqual([], self._filter_lines())

    def test_periodics_and_service_disable_keep_our_traits(self):
        before = {h: mc.our_traits(self, h) for h in ('src', 'twin')}
        self.assertTrue(before['src'])
        self._run_periodics()
        service = self.api.get_services(host='twin',
                                        binary='nova-compute')[0]
        self.api.put_service(service['id'], {'status': 'disabled'})
        self._run_periodics()
        self.api.put_service(service['id'], {'status': 'enabled'})
        self._run_periodics()
        after = {h: mc.our_traits(self, h) for h in ('src', 'twin')}
        self.assertEqual(before, after)
        # ... and the filter still finds the twin from those traits.
        self._migrate_live(self.server, 'src')
        self.assertEqual('twin', self._host_of(self.server))


class FirstRequestTest(nova_base.NovaTestBase):
    """nova-scheduler starts the refresher when it builds the filter, and
    by default a live migration never waits for the first read.
    """

    def setUp(self):
        super().setUp()
        self.flags(initial_profile_wait=0, group='migcompat')  # default
        self._start_three()

    def _restart_scheduler(self):
        # A fresh process state, then nova-scheduler's start-up, which
        # builds the filter.
        state.reset_shared()
        self.scheduler.stop()
        self.scheduler = self.start_service('scheduler')
        return state.shared().profiles

    def test_scheduler_start_reads_before_any_migration(self):
        cache = self._restart_scheduler()
        for _ in range(200):  # the refresher's first read, in background
            if cache.snapshot(wait=False).read_at is not None:
                break
            time.sleep(0.05)
        self.assertIsNotNone(cache.snapshot(wait=False).read_at)
        self._migrate_live(self.server, 'src')
        self.assertEqual('twin', self._host_of(self.server))
        line = self._filter_lines()[-1]
        self.assertIn('2 candidates, 1 passed, 1 refused', line)
        self.assertNotIn('unjudged', line)

    def _hang_first_read(self):
        gate = threading.Event()
        self.addCleanup(gate.set)
        # A fresh process state (every request starts the refresher, the
        # boot included): its first read is the one that hangs.
        cache = state.reset_shared().profiles
        real = cache._grouping_get

        def hung(url, version):
            gate.wait(30)
            return real(url, version)
        cache._grouping_get = hung
        return gate

    def test_request_during_the_first_read_does_not_wait(self):
        # The first read hangs in Placement: the migration goes on at once
        # with its destinations unjudged (placement_error_action = pass).
        self._hang_first_read()
        t0 = time.monotonic()
        self._migrate_live(self.server, 'src')
        self.assertLess(time.monotonic() - t0, 25)  # not the 30 s hang
        self.assertIn(self._host_of(self.server), ('twin', 'intel'))
        self.assertIn('2 candidates, 2 passed, 0 refused [2 unjudged; '
                      'Placement: ', self._filter_lines()[-1])

    def test_request_during_the_first_read_refused_when_configured(self):
        self.flags(placement_error_action='refuse', group='migcompat')
        self._hang_first_read()
        self._post_live_migration_expect_no_valid_host()
        self.assertIn('0 passed, 2 refused', self._filter_lines()[-1])


class UntraitedAndPlacementErrorTest(nova_base.NovaTestBase):
    """Hosts the filter cannot judge follow the [migcompat] options."""

    def setUp(self):
        super().setUp()
        self.milan = mc.real_profile(MILAN)
        self._start('src', self.milan)
        self._start('bare')        # the reporter never ran there
        self.server = self._boot_on('src')

    def _live_migrate_expect_error(self):
        self._post_live_migration_expect_no_valid_host()

    def test_untraited_host_passes_by_default(self):
        self._migrate_live(self.server, 'src', dest=None)
        self.assertEqual('bare', self._host_of(self.server))
        self.assertIn('1 untraited', self._filter_lines()[0])

    def test_untraited_host_refused_when_configured(self):
        self.flags(untraited_host_action='refuse', group='migcompat')
        self._live_migrate_expect_error()
        self.assertIn('refused: bare (untraited)', self._filter_lines()[0])

    def _break_placement_for_migcompat(self):
        # Placement itself must keep working for nova (claims); only the
        # filter's reads fail, as when they time out.
        from nova.scheduler.client import report
        real_get = report.SchedulerReportClient.get

        def get(client, url, *args, **kwargs):
            if ('startswith:CUSTOM_MIGCOMPAT' in url or
                    'required=CUSTOM_MIGCOMPAT' in url or
                    url.endswith('/traits')):
                raise report.ks_exc.ConnectFailure('injected failure')
            return real_get(client, url, *args, **kwargs)
        self.useFixture(fixtures.MonkeyPatch(
            'nova.scheduler.client.report.SchedulerReportClient.get', get))
        # Nothing read before (the boot started the refresher, and a
        # cached profile would stand in for the failed source read).
        state.reset_shared()

    def test_placement_error_passes_by_default(self):
        self._break_placement_for_migcompat()
        self._migrate_live(self.server, 'src')
        self.assertEqual('bare', self._host_of(self.server))
        self.assertIn('injected failure', self._log())

    def test_placement_error_refuses_when_configured(self):
        self.flags(placement_error_action='refuse', group='migcompat')
        self._break_placement_for_migcompat()
        self._live_migrate_expect_error()
        self.assertIn('injected failure', self._log())
        self.assertIn('refusing all 1 candidate hosts',
                      self._filter_lines()[0])


class PassthroughWeigherTest(nova_base.NovaTestBase):
    """A host-passthrough source goes to the identical host when one is
    free, even when nova's own weighers prefer another compatible one.
    """

    def setUp(self):
        super().setUp()
        # The guests are host-passthrough guests: the filter judges the
        # instance's vcpu_model mode, not the profile's cpu_mode, so the
        # computes' nova.conf says it too (as it does in a real cloud).
        self.flags(cpu_mode='host-passthrough', group='libvirt')
        passthrough = mc.real_profile(MILAN, cpu_mode='host-passthrough')
        self._start('src', passthrough)
        self._start('twin', passthrough)
        # The same machine after a kernel update: compatible (a warning
        # for host-passthrough), but not identical.
        updated = mc.real_profile(MILAN, cpu_mode='host-passthrough',
                                  kernel_version='6.18.45-fc-v700')
        self._start('updated', updated)
        self._start('intel', mc.real_profile(INTEL,
                                             cpu_mode='host-passthrough'))
        self.server = self._boot_on('src')
        # Make the twin the least attractive host to nova's RAM and CPU
        # weighers, so only our weigher can pick it.
        self._boot_on('twin')
        self._boot_on('twin')

    def test_resource_spread_wins_at_the_default_multiplier(self):
        # Similarity in [0, 1] at multiplier 1.0 counts like nova's
        # own weighers; the twin is 0.04 more similar but much fuller.
        self._migrate_live(self.server, 'src')
        self.assertEqual('updated', self._host_of(self.server))
        line = self._filter_lines()[0]
        self.assertIn('(host-passthrough: instance vcpu_model)', line)
        self.assertIn('3 candidates, 2 passed, 1 refused: intel', line)

    def test_identical_host_preferred_with_a_high_multiplier(self):
        self.flags(similarity_weight_multiplier=100.0, group='migcompat')
        self._migrate_live(self.server, 'src')
        self.assertEqual('twin', self._host_of(self.server))

    def test_aggregate_metadata_overrides_the_multiplier(self):
        # nova's per-aggregate *_weight_multiplier convention: only the
        # twin's aggregate says 100, the option stays at its default.
        agg = self._create_aggregate('identical-milans')
        self.api.add_host_to_aggregate(agg, 'twin')
        self.api.post_aggregate_action(agg, {'set_metadata': {'metadata': {
            'migration_similarity_weight_multiplier': '100'}}})
        self._migrate_live(self.server, 'src')
        self.assertEqual('twin', self._host_of(self.server))

    def test_without_weigher_multiplier_ram_wins(self):
        # The control: with the weigher off the aggregate makes no
        # difference, so the test above shows the weigher's effect.
        self.flags(similarity_weight_multiplier=0.0, group='migcompat')
        self._migrate_live(self.server, 'src')
        self.assertEqual('updated', self._host_of(self.server))


class NoDigestTest(nova_base.NovaTestBase):
    """Hosts published without the digest trait are read one by one."""

    def setUp(self):
        super().setUp()
        self.milan = mc.real_profile(MILAN)
        self._start('src', self.milan, digest=False)
        self._start('twin', self.milan, digest=False)
        self._start('intel', mc.real_profile(INTEL), digest=False)
        self.server = self._boot_on('src')

    def test_lands_on_compatible_host(self):
        self._migrate_live(self.server, 'src')
        self.assertEqual('twin', self._host_of(self.server))
        self.assertIn('refused: intel (cpu_model', self._filter_lines()[0])


class PlacementCallsTest(nova_base.NovaTestBase):
    """A warm cache costs a live migration one Placement call of ours (the
    source's traits: its running-guests record is per host, in no digest);
    a newer trait schema follows newer_schema_action.
    """

    def setUp(self):
        super().setUp()
        self._start_three()
        from nova.scheduler.client import report
        real_get = report.SchedulerReportClient.get
        self.ours = []

        def get(client, url, *args, **kwargs):
            if 'MIGCOMPAT' in url or url.endswith('/traits'):
                self.ours.append(url)
            return real_get(client, url, *args, **kwargs)
        self.useFixture(fixtures.MonkeyPatch(
            'nova.scheduler.client.report.SchedulerReportClient.get', get))
        # The boot started the refresher; the counted read is a fresh
        # process's first.
        state.reset_shared()

    def test_warm_request_costs_one_placement_call(self):
        self._migrate_live(self.server, 'src')
        self.assertEqual('twin', self._host_of(self.server))
        # Counted exactly: the documented cost (doc/source/scheduler.rst,
        # "2 + 2 x profiles calls when the process starts", one call per
        # live migration). Cold: digest list, schema members, then per
        # distinct profile (src and twin share one) its members and one
        # decode; then the source's own traits.
        cold = len(self.ours)
        self.assertEqual(2 + 2 * 2 + 1, cold, self.ours)
        # Warm: only the source is read again. Its running guests are per
        # host and change as guests start and stop, so no cached profile
        # of its digest group may stand in for them.
        twin = self._get_provider_uuid_by_host('twin')
        self._migrate_live(self.server, 'twin')
        self.assertEqual('src', self._host_of(self.server))
        self.assertEqual(['/resource_providers/%s/traits' % twin],
                         self.ours[cold:])

    def test_ttl_refresh_sees_a_changed_host(self):
        self._migrate_live(self.server, 'src')
        self.assertEqual('twin', self._host_of(self.server))
        # The intel host is re-imaged as a Milan twin; the refresher's
        # next read (forced here instead of waiting
        # profile_refresh_interval)
        # reads the mapping again, not the profiles, which are known by
        # their digest.
        mc.publish(self, 'intel', self.milan)
        self.ours[:] = []
        state.shared().profiles.refresh_now()
        # trait list, schema members, the one profile's members.
        self.assertEqual(2 + 1, len(self.ours), self.ours)
        self._migrate_live(self.server, 'twin')
        # ... and the request itself only the source's traits.
        self.assertEqual(2 + 1 + 1, len(self.ours), self.ours)
        self.assertIn('2 candidates, 2 passed, 0 refused',
                      self._filter_lines()[-1])

    def _publish_newer_schema(self, hostname):
        from migcompat_filter.placement import reporter
        from migcompat_filter.traits import codec as traits
        names = [t.replace('SCHEMA_%d' % traits.TRAIT_SCHEMA,
                           'SCHEMA_%d' % (max(traits.SCHEMAS) + 1))
                 for t in traits.encode(self.milan)
                 if not t.startswith(traits.DIGEST_PREFIX)]
        # A newer reporter publishes the digest too (its contract does not
        # depend on the schema).
        names.append(traits.digest_trait(names))
        reporter.sync(mc.reporter_client(self),
                      self._get_provider_uuid_by_host(hostname), names)

    def test_newer_schema_host_passes_by_default(self):
        self._publish_newer_schema('intel')
        self._migrate_live(self.server, 'src', dest='intel')
        self.assertEqual('intel', self._host_of(self.server))
        self.assertIn('1 newer-schema', self._filter_lines()[0])

    def test_newer_schema_host_refused_when_configured(self):
        self.flags(newer_schema_action='refuse', group='migcompat')
        self._publish_newer_schema('intel')
        self._post_live_migration_expect_no_valid_host(host='intel')
        self.assertIn('refused: intel (newer-schema)',
                      self._filter_lines()[0])


class SourceReCreatedTest(nova_base.NovaTestBase):
    """A compute node re-created with a new UUID (reinstalled host,
    lost compute_id file) is looked up again when Placement answers 404
    for the UUID the scheduler learnt, not unjudged until a restart.
    """

    def setUp(self):
        super().setUp()
        self._start_three()

    def test_stale_compute_node_uuid_is_read_again(self):
        self._migrate_live(self.server, 'src')
        self.assertEqual('twin', self._host_of(self.server))
        self._migrate_live(self.server, 'twin')
        self.assertEqual('src', self._host_of(self.server))
        nodes = state.shared().compute_nodes
        key = next(k for k in nodes._uuids if k[0] == 'src')
        real = nodes._uuids[key]
        # What the scheduler learnt before the node was re-created: a
        # UUID Placement does not know (any more).
        nodes._uuids[key] = '7d5f3a3e-0000-4000-8000-000000000404'
        self._migrate_live(self.server, 'src')
        self.assertEqual('twin', self._host_of(self.server))
        self.assertIn('2 candidates, 1 passed, 1 refused: intel',
                      self._filter_lines()[-1])
        self.assertIn('compute node UUID changed', self._log())
        self.assertEqual(real, nodes._uuids[key])


class UntraitedSourceTest(nova_base.NovaTestBase):
    """A source without traits follows untraited_source_action."""

    def setUp(self):
        super().setUp()
        self._start('src')        # the reporter never ran on the source
        self._start('twin', mc.real_profile(MILAN))
        self.server = self._boot_on('src')

    def test_passes_by_default(self):
        self._migrate_live(self.server, 'src')
        self.assertEqual('twin', self._host_of(self.server))
        self.assertIn('the source cannot be judged',
                      self._filter_lines()[0])

    def test_refused_when_configured(self):
        self.flags(untraited_source_action='refuse', group='migcompat')
        self._post_live_migration_expect_no_valid_host()
        self.assertIn('refusing all 1 candidate hosts',
                      self._filter_lines()[0])
