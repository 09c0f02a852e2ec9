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


"""The drain tests' shared set-up in nova's functional harness: a Milan
fleet, its near twin and an Intel host (test_nova_drain,
test_nova_drain_faults, test_nova_explain)."""

import io
import json
import os

import fixtures
from keystoneauth1 import adapter as ks_adapter
from keystoneauth1 import session as ks_session
from keystoneauth1 import token_endpoint

from migcompat_filter.cmd import shell
from migcompat_filter.fleet import capacity
from migcompat_filter.fleet import nova_api
from tests.functional import nova_base
from tests.functional import nova_fixtures as mc

MILAN = 'epyc-milan-nested-l1'
INTEL = 'libvirt-cpuid-xeon-gold-6148-host'
_MILAN = mc.real_profile(MILAN)
#: A feature the Milan host's CPU has outside its host-model CPU: a host
#: without it can take host-model guests, not host-passthrough ones.
HIDDEN = 'sha-ni'


def _near_milan():
    """The Milan host after an update hid one CPU feature."""
    cf = dict(_MILAN['cpu_features'])
    cf['features'] = [f for f in cf['features'] if f != HIDDEN]
    return mc.real_profile(MILAN, cpu_features=cf)


class _DrainBase(nova_base.GuestTestBase):

    def setUp(self):
        super().setUp()
        self.flags(skip_cpu_compare_on_dest=True, group='workarounds')
        self.flags(cores=-1, ram=-1, group='quota')
        # Every fake compute reports 16 VCPUs; at 1.0 a filler server
        # can leave exactly one free (see _start_small).
        self.flags(cpu_allocation_ratio=1.0)
        self.fail_servers = set()
        self.state_dir = self.useFixture(fixtures.TempDir()).path
        self.useFixture(fixtures.MonkeyPatch(
            'migcompat_filter.fleet.nova_api.adapter_noauth',
            self._harness_adapter))

    def _start_small(self, hostname, prof):
        """A compute with room for one more 1-VCPU server: a server
        already there takes the rest of its VCPUs.
        """
        self._start(hostname, prof)
        rp = self._get_provider_uuid_by_host(hostname)
        room = capacity.read(mc.reporter_client(self), rp).free['VCPU'] - 1
        flavor = self._create_flavor(memory_mb=512, vcpu=room, disk=1)
        self._create_server(name='filler-' + hostname, host=hostname,
                            flavor_id=flavor, networks='none')

    def _harness_adapter(self, url, token='admin', timeout=30.0):
        sess = ks_session.Session(auth=token_endpoint.Token(url, token),
                                  timeout=timeout)
        return ks_adapter.Adapter(
            sess, service_type=nova_api.SERVICE_TYPE, endpoint_override=url,
            default_microversion=nova_api.COMPUTE_MICROVERSION,
            additional_headers={'X-Auth-User': 'admin',
                                'X-User-Id': 'admin',
                                'X-Auth-Project-Id': self.api.project_id,
                                'X-Roles': 'reader,member,admin'})

    def _migrate_stub(self, domain, destination, params, flags):
        uuid = domain.UUIDString()
        if uuid in self.fail_servers:
            domain.fail_job()
            return
        migs = self.api.api_get('/os-migrations?instance_uuid=%s'
                                % uuid).body['migrations']
        dest = sorted(migs, key=lambda m: m['id'])[-1]['dest_compute']
        self.computes[dest].driver._host.get_connection().createXML(
            params['destination_xml'], 'fake-createXML')
        domain.complete_job()

    def _boot(self, name, mode='host-model'):
        # An explicit 1-VCPU flavor: without one, nova's helper takes the
        # first flavor by id, which is the filler's (15 VCPUs) whenever
        # its random id sorts before '1'.
        if not hasattr(self, '_one_vcpu'):
            self._one_vcpu = self._create_flavor(memory_mb=512, vcpu=1,
                                                 disk=1)
        server = self._create_server(name=name, host='src',
                                     flavor_id=self._one_vcpu,
                                     networks='none')
        if mode != 'host-model':
            self._set_vcpu_model(server, mode)
        return server

    def run_cli(self, *argv):
        """(exit status, rows, stderr) of migcompat ARGV -f json."""
        app = shell.MigcompatApp()
        app.stdout, app.stderr = io.StringIO(), io.StringIO()
        status = app.run(list(argv) + [
            '-f', 'json', '--placement-url', self.placement.fixture.endpoint,
            '--nova-url', self.api.base_url])
        out = app.stdout.getvalue()
        rows = json.loads(out) if out.strip() else []
        return status, rows, app.stderr.getvalue()

    def drain(self, *argv, host='src'):
        return self.run_cli('drain', host, '--state-file', os.path.join(
            self.state_dir, 'state.json'), '--poll', '0.05', '--timeout',
            '30', *argv)

    def _live_migrations(self, server):
        return [m for m in self.api.api_get(
            '/os-migrations?instance_uuid=%s' % server['id']
        ).body['migrations'] if m['migration_type'] == 'live-migration']
