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

"""The filter and weigher enabled the way an operator does it: nova.conf
options only, in nova's own functional harness, in a fresh process.

Not a test module of its own (stestr does not discover it): in a test run
other modules import the scheduler plugin long before nova's fixtures
start, which once hid a plugin that failed every read (when nova loaded
the filter after its harness had patched the report client).
test_nova_config_only.py runs these tests in a child process
(``python -m testtools.run``) and checks that they passed.

Nothing here imports ``migcompat_filter.scheduler``: nova loads it from
``available_filters`` and ``weight_classes`` when it starts the scheduler,
and each test checks that it was not loaded before.
"""

import sys

from nova.tests.functional import integrated_helpers
from nova.tests.functional.libvirt import base as libvirt_base

from tests.functional import nova_fixtures as mc

MILAN = 'epyc-milan-nested-l1'
INTEL = 'libvirt-cpuid-xeon-gold-6148-host'
SCHEDULER_PACKAGE = 'migcompat_filter.scheduler'


def scheduler_modules():
    """Our scheduler modules this process has imported."""
    return sorted(m for m in sys.modules
                  if m == SCHEDULER_PACKAGE or
                  m.startswith(SCHEDULER_PACKAGE + '.'))


class ConfigOnlyLiveMigrationTest(libvirt_base.LibvirtMigrationMixin,
                                  libvirt_base.ServersTestBase,
                                  integrated_helpers.InstanceHelperMixin):
    """Enabled by nova.conf alone; the reporter publishes after
    nova-scheduler started; the live migration lands on the one
    compatible host.
    """
    microversion = 'latest'
    ADMIN_API = True
    ADDITIONAL_FILTERS = [mc.FILTER]
    REFRESH_AFTER_PUBLISH = False  # the refresh is triggered below

    def setUp(self):
        # Nothing of the scheduler plugin before nova's fixtures start.
        self.assertEqual([], scheduler_modules())
        mc.nova_flags(self)  # available_filters, weight_classes
        super().setUp()
        # nova loaded the filter and the weigher by their names.
        self.assertIn(SCHEDULER_PACKAGE + '.migration_filter',
                      scheduler_modules())
        names = [type(f).__name__ for f in
                 self.scheduler.manager.host_manager.enabled_filters]
        self.assertIn(mc.FILTER, names)
        self.assertIn('MigrationSimilarityWeigher', [
            type(w).__name__ for w in
            self.scheduler.manager.host_manager.weighers])

    def _host_of(self, server):
        return self.api.get_server(server['id'])['OS-EXT-SRV-ATTR:host']

    def _filter_lines(self):
        return [line for line in self.stdlog.logger.output.splitlines()
                if 'migcompat: live migration of instance' in line]

    def test_live_migration_lands_on_the_compatible_host(self):
        for name in ('src', 'twin', 'intel'):
            self.start_compute(name)
        # nova-scheduler is running and has read Placement once (nothing
        # published yet); now the reporter publishes, as on a compute
        # node whose timer fires after the scheduler started.
        milan = mc.real_profile(MILAN)
        mc.publish(self, 'src', milan)
        mc.publish(self, 'twin', milan)
        mc.publish(self, 'intel', mc.real_profile(INTEL))
        # The refresher's next read, triggered now instead of waited for
        # (the module nova loaded: importing it now changes no order).
        sys.modules[SCHEDULER_PACKAGE + '.state'] \
            .shared().profiles.refresh_now()
        server = self.server = self._create_server(host='src',
                                                   networks='none')
        self.src = self.computes['src']
        self.dest = self.computes['twin']
        self._live_migrate(server)
        self.assertEqual('twin', self._host_of(server))
        lines = self._filter_lines()
        self.assertEqual(1, len(lines), lines)
        self.assertIn('2 candidates, 1 passed, 1 refused: intel', lines[0])
        log = self.stdlog.logger.output
        self.assertNotIn('cannot be judged', log)
        self.assertNotIn('auth plugin', log)
