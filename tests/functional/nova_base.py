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

"""The bases of the tests that run the filter and weigher inside a real
nova (nova 34's functional harness): fake libvirt computes, the real nova
API, conductor and scheduler, and a real placement (in process).

Run with stestr (or python -m testtools.run), not pytest.
"""

import re

from nova import context as nova_context
from nova import objects
from nova.tests.functional.api import client as api_client
from nova.tests.functional import integrated_helpers
from nova.tests.functional.libvirt import base as libvirt_base

from migcompat_filter.scheduler import state
from tests.functional import nova_fixtures as mc

MILAN = 'epyc-milan-nested-l1'
INTEL = 'libvirt-cpuid-xeon-gold-6148-host'


class NovaTestBase(libvirt_base.LibvirtMigrationMixin,
                   libvirt_base.ServersTestBase,
                   integrated_helpers.InstanceHelperMixin):
    """A nova with fake libvirt computes, our filter enabled and its
    shared state reset per test; computes started with a profile
    published as their traits.
    """

    microversion = 'latest'
    ADMIN_API = True
    ADDITIONAL_FILTERS = [mc.FILTER]

    def setUp(self):
        mc.nova_flags(self)
        super().setUp()
        state.reset_shared()
        # The refresher thread of this test's cache ends with it.
        self.addCleanup(state.reset_shared)
        # The profiles are published after nova-scheduler started: the
        # first live migration of a test waits for the first read, so
        # that it is judged (by default it would find its destinations
        # unjudged: FirstRequestTest).
        self.flags(initial_profile_wait=30, group='migcompat')
        # No background read or poll in the middle of a test (some count
        # calls); mc.publish has the scheduler read again after each
        # write, as the next poll would (test_nova_freshness tests that).
        self.flags(profile_refresh_interval=300, group='migcompat')
        self.flags(profile_change_poll_interval=0, group='migcompat')

    def _start(self, hostname, prof=None, digest=True):
        self.start_compute(hostname)
        if prof is not None:
            mc.publish(self, hostname, prof, digest=digest)

    def _start_three(self):
        """A Milan source with a server, its twin and an Intel host."""
        self.milan = mc.real_profile(MILAN)
        self._start('src', self.milan)
        self._start('twin', self.milan)
        self._start('intel', mc.real_profile(INTEL))
        self.server = self._boot_on('src')

    def _boot_on(self, hostname):
        return self._create_server(host=hostname, networks='none')

    def _host_of(self, server):
        return self.api.get_server(server['id'])['OS-EXT-SRV-ATTR:host']

    def _migrate_live(self, server, src, dest=None):
        """Live-migrate; the LibvirtMigrationMixin stub needs src/dest."""
        self.src = self.computes[src]
        if dest is not None:
            self.dest = self.computes[dest]
        else:
            # The stub creates the domain on self.dest; find out where the
            # scheduler sent it through a wrapper that resolves lazily.
            self.dest = _LazyDest(self, server)
        return self._live_migrate(server, host=dest)

    def _post_live_migration_expect_no_valid_host(self, host=None):
        # CAST_AS_CALL (nova's harness default) turns the conductor's
        # NoValidHost into an API error; in a real cloud the API returns
        # 202 and the migration goes to "error".
        try:
            self.api.post_server_action(
                self.server['id'],
                {'os-migrateLive': {'host': host,
                                    'block_migration': 'auto'}})
        except api_client.OpenStackApiException as e:
            self.assertIn('NoValidHost', str(e))
        self._wait_for_migration_status(self.server, ['error'])
        server = self._wait_for_state_change(self.server, 'ACTIVE')
        self.assertEqual('src', server['OS-EXT-SRV-ATTR:host'])

    def _log(self):
        return self.stdlog.logger.output

    def _filter_lines(self):
        return [line for line in self._log().splitlines()
                if 'migcompat: live migration of instance' in line]


class _LazyDest(object):
    """self.dest for the migrate stub when no target is given: the
    compute the instance is being migrated to, read from the migration.
    """

    def __init__(self, test, server):
        self.test = test
        self.server = server

    @property
    def driver(self):
        migs = self.test.api.api_get(
            '/os-migrations?instance_uuid=%s' % self.server['id']
        ).body['migrations']
        live = [m for m in migs if m['migration_type'] == 'live-migration']
        dest = sorted(live, key=lambda m: m['id'])[-1]['dest_compute']
        return self.test.computes[dest].driver


class GuestTestBase(NovaTestBase):
    """NovaTestBase, plus reading refusals and setting an instance's
    vcpu_model as nova's libvirt driver stores it.
    """

    def _refused(self, line):
        """{host: factors} of the refused hosts named in an INFO line."""
        m = re.search(r'refused: (.*)$', line)
        if not m:
            return {}
        return dict(re.findall(r'(\S+) \(([^)]*)\)', m.group(1)))

    def _expect_no_valid_host(self, host, stays_on):
        """A live migration to host the scheduler refuses (see
        _post_live_migration_expect_no_valid_host).
        """
        server = self.api.get_server(self.server['id'])
        try:
            self.api.post_server_action(
                server['id'], {'os-migrateLive': {
                    'host': host, 'block_migration': 'auto'}})
        except api_client.OpenStackApiException as e:
            self.assertIn('NoValidHost', str(e))
        server = self._wait_for_state_change(server, 'ACTIVE')
        self.assertEqual(stays_on, server['OS-EXT-SRV-ATTR:host'])

    def _instance(self, server):
        ctx = nova_context.get_admin_context()
        cell = objects.InstanceMapping.get_by_instance_uuid(
            ctx, server['id']).cell_mapping
        nova_context.set_target_cell(ctx, cell)
        return ctx, objects.Instance.get_by_uuid(
            ctx, server['id'], expected_attrs=['vcpu_model'])

    def _set_vcpu_model(self, server, mode, model=None, features=()):
        """Store instance.vcpu_model as nova's libvirt driver does after
        generating the guest CPU config (see the module docstring).
        """
        _cctx, instance = self._instance(server)
        instance.vcpu_model = objects.VirtCPUModel(
            arch='x86_64', vendor='AMD', model=model, mode=mode,
            match='exact' if model else None, topology=None,
            features=[objects.VirtCPUFeature(name=n, policy=p)
                      for n, p in features])
        instance.save()
