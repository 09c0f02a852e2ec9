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

"""Schema-2 traits inside a real nova (nova 34's functional harness).

The reporter publishes each compute's profile (real host snapshots under
tests/fixtures/hosts) through reporter.sync, in schema 2 or, for an older
reporter, schema 1; nova's scheduler with the migcompat filter reads them
back. A flavor's ``trait:CUSTOM_MIGCOMPAT_HM_<feature>=required`` is
enforced by Placement itself.

Run with stestr (or python -m testtools.run), not pytest.
"""

from nova.tests.functional.api import client as api_client

from migcompat_filter.placement import reporter
from migcompat_filter.traits import codec as traits
from tests.functional import nova_base
from tests.functional import nova_fixtures as mc

MILAN = 'epyc-milan-nested-l1'
INTEL = 'libvirt-cpuid-xeon-gold-6148-host'


def publish(test, hostname, prof, schema):
    """Publish as ``migcompat report`` of that schema's version does."""
    rp_uuid = test._get_provider_uuid_by_host(hostname)
    return reporter.sync(mc.reporter_client(test), rp_uuid,
                         traits.encode(prof, schema))


class _Base(nova_base.NovaTestBase):

    def _start_schema(self, hostname, prof, schema):
        self.start_compute(hostname)
        publish(self, hostname, prof, schema)


class Schema2LiveMigrationTest(_Base):
    """Published in schema 2, read back by the filter."""

    def setUp(self):
        super().setUp()
        self._start_schema('src', mc.real_profile(MILAN), 2)
        self._start_schema('twin', mc.real_profile(MILAN), 2)
        self._start_schema('intel', mc.real_profile(INTEL), 2)
        self.server = self._boot_on('src')

    def test_traits_are_schema_2_and_readable(self):
        names = mc.our_traits(self, 'twin')
        self.assertIn('CUSTOM_MIGCOMPAT_SCHEMA_2', names)
        self.assertIn('CUSTOM_MIGCOMPAT_QEMU_7_2_22', names)
        self.assertTrue(all(len(n) <= 128 for n in names))

    def test_lands_only_on_the_compatible_host(self):
        self._migrate_live(self.server, 'src')
        self.assertEqual('twin', self._host_of(self.server))
        line = self._filter_lines()[0]
        self.assertIn('2 candidates, 1 passed, 1 refused: intel (cpu_model',
                      line)

    def test_a_twin_with_another_tsc_is_still_a_twin(self):
        # A reboot recalibrated the twin's TSC: its own trait changes, its
        # group does not, and it still takes the guest.
        base = mc.real_profile(MILAN)
        tsc = dict(base['tsc'], frequency=base['tsc']['frequency'] + 4000)
        publish(self, 'twin', mc.real_profile(MILAN, tsc=tsc), 2)
        self.assertEqual(
            traits.digest_trait(mc.our_traits(self, 'src')),
            traits.digest_trait(mc.our_traits(self, 'twin')))
        self._migrate_live(self.server, 'src')
        self.assertEqual('twin', self._host_of(self.server))


class MixedSchemaFleetTest(_Base):
    """A fleet half upgraded: schema-1 and schema-2 hosts both judged."""

    def setUp(self):
        super().setUp()
        self._start_schema('src', mc.real_profile(MILAN), 2)
        self._start_schema('old-twin', mc.real_profile(MILAN), 1)
        self._start_schema('old-intel', mc.real_profile(INTEL), 1)
        self.server = self._boot_on('src')

    def test_schema_1_hosts_are_judged(self):
        self._migrate_live(self.server, 'src')
        self.assertEqual('old-twin', self._host_of(self.server))
        line = self._filter_lines()[0]
        self.assertIn('2 candidates, 1 passed, 1 refused: old-intel '
                      '(cpu_model', line)

    def test_schema_1_source_to_schema_2_destination(self):
        self._start_schema('new-twin', mc.real_profile(MILAN), 2)
        server = self.server = self._boot_on('old-twin')  # the stub's
        self._migrate_live(server, 'old-twin', dest='new-twin')
        self.assertEqual('new-twin', self._host_of(server))
        self.assertIn('1 candidates, 1 passed, 0 refused',
                      self._filter_lines()[-1])

    def test_an_upgraded_reporter_rewrites_the_host_in_one_go(self):
        publish(self, 'old-intel', mc.real_profile(INTEL), 2)
        names = mc.our_traits(self, 'old-intel')
        self.assertIn('CUSTOM_MIGCOMPAT_SCHEMA_2', names)
        self.assertNotIn('CUSTOM_MIGCOMPAT_SCHEMA_1', names)
        self._post_live_migration_expect_no_valid_host(host='old-intel')


class FlavorTraitTest(_Base):
    """trait:CUSTOM_MIGCOMPAT_HM_<feature>=required in a flavor: Placement
    offers only hosts whose host-model CPU has the feature.
    """

    def setUp(self):
        super().setUp()
        self._start_schema('milan', mc.real_profile(MILAN), 2)
        self._start_schema('intel', mc.real_profile(INTEL), 2)
        self.assertIn('avx512f', mc.real_profile(INTEL)['host_model'][
            'features'])
        self.assertNotIn('avx512f', mc.real_profile(MILAN)['host_model'][
            'features'])

    def _flavor(self, trait):
        return self._create_flavor(
            extra_spec={'trait:%s' % trait: 'required'})

    def test_boot_lands_only_where_the_feature_is(self):
        flavor = self._flavor('CUSTOM_MIGCOMPAT_HM_AVX512F')
        hosts = set()
        for _i in range(3):
            server = self._create_server(flavor_id=flavor,
                                         networks='none')
            hosts.add(self._host_of(server))
        self.assertEqual({'intel'}, hosts)

    def test_no_host_has_the_feature(self):
        # amx-tile: neither host-model CPU has it.
        flavor = self._flavor('CUSTOM_MIGCOMPAT_HM_AMX_TILE')
        try:
            server = self._create_server(flavor_id=flavor, networks='none',
                                         expected_state='ERROR')
        except api_client.OpenStackApiException as e:
            self.assertIn('No valid host', str(e))
        else:
            self.assertIn('No valid host',
                          server.get('fault', {}).get('message', ''))
