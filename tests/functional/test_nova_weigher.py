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

"""MigrationSimilarityWeigher next to nova's own weighers, in a real nova
(nova 34's functional harness: API, conductor, scheduler, fake libvirt
computes, real placement in process).

Similarity is weighed in [0, 1] at
multiplier 1.0, so soft-anti-affinity and RAM spreading still decide
where similarity does not (or barely) differ. Run with stestr.
"""

from tests.functional import nova_base
from tests.functional import nova_fixtures as mc

MILAN = nova_base.MILAN


class _PassthroughBase(nova_base.NovaTestBase):
    """host-passthrough computes: src, its twin and an updated kernel."""

    def _start_hosts(self, *names):
        self.flags(cpu_mode='host-passthrough', group='libvirt')
        passthrough = mc.real_profile(MILAN, cpu_mode='host-passthrough')
        updated = mc.real_profile(MILAN, cpu_mode='host-passthrough',
                                  kernel_version='6.18.45-fc-v700')
        for name in names:
            self._start(name, updated if name == 'updated' else passthrough)

    def _moves_to(self, expected, multiplier=None):
        """Live-migrate self.server from src (at a similarity multiplier,
        default: the option's default); it lands on expected.
        """
        if multiplier is not None:
            self.flags(similarity_weight_multiplier=multiplier,
                       group='migcompat')
        self._migrate_live(self.server, 'src')
        self.assertEqual(expected, self._host_of(self.server))
        self.assertIn('2 candidates, 2 passed, 0 refused',
                      self._filter_lines()[0])


class SoftAntiAffinityTest(_PassthroughBase):
    """A guest of a soft-anti-affinity group does not move onto its
    sibling's host because that host is a little more similar.
    """

    def setUp(self):
        super().setUp()
        self._start_hosts('src', 'twin', 'updated')
        group = self.api.post_server_groups(
            {'name': 'spread', 'policy': 'soft-anti-affinity'})
        self.server = self._boot_in_group(group['id'], 'src')
        self._boot_in_group(group['id'], 'twin')
        # RAM and CPU alike on both candidates: one server each.
        self._boot_on('updated')

    def _boot_in_group(self, group_id, hostname):
        body = self._build_server(networks='none', host=hostname)
        server = self.api.post_server(
            {'server': body, 'os:scheduler_hints': {'group': group_id}})
        return self._wait_for_state_change(server, 'ACTIVE')

    def test_spreads_away_from_the_sibling(self):
        self._moves_to('updated')

    def test_a_high_multiplier_can_still_overrule_it(self):
        # The control: the same cloud with similarity made to count more
        # than the group goes to the twin, so the test above shows the
        # bounded weigher, not a filter or chance.
        self._moves_to('twin', multiplier=100.0)


class EquallySimilarTest(nova_base.NovaTestBase):
    """Between identical hosts, nova's RAM weigher spreads."""

    def setUp(self):
        super().setUp()
        self.flags(cpu_mode='host-passthrough', group='libvirt')
        passthrough = mc.real_profile(MILAN, cpu_mode='host-passthrough')
        for name in ('src', 'twin1', 'twin2'):
            self._start(name, passthrough)
        self.server = self._boot_on('src')
        self._boot_on('twin1')
        self._boot_on('twin1')

    def test_ram_spread_wins(self):
        self._migrate_live(self.server, 'src')
        self.assertEqual('twin2', self._host_of(self.server))


class HostModelTieBreakTest(nova_base.NovaTestBase):
    """A host-model guest sees the same CPU on any compatible host: the
    weigher is only a tie-break there, so RAM wins over similarity even
    with a high multiplier.
    """

    def setUp(self):
        super().setUp()
        milan = mc.real_profile(MILAN)
        self._start('src', milan)
        self._start('twin', milan)
        self._start('updated', mc.real_profile(
            MILAN, kernel_version='6.18.45-fc-v700'))
        self.server = self._boot_on('src')
        self._boot_on('twin')

    def test_resource_spread_wins(self):
        self.flags(similarity_weight_multiplier=100.0, group='migcompat')
        self._migrate_live(self.server, 'src')
        self.assertEqual('updated', self._host_of(self.server))
        self.assertIn('(host-model: instance vcpu_model)',
                      self._filter_lines()[0])


class DefaultMultiplierDecidesTest(_PassthroughBase):
    """At its default multiplier (1.0) the weigher decides between two
    hosts that both pass and that nova's own weighers rate almost alike:
    a host-passthrough guest goes to the host identical to its source.

    Equally loaded hosts would tie without the weigher, and nova breaks a
    tie in no fixed order, so a test that passes without the weigher half
    the time could not show it deciding. Here twin runs one server more
    and nova's RAM, CPU, disk and I/O weighers count a little (0.005
    each, at most 0.02 between two hosts), so without the weigher the
    guest goes to the emptier updated host every time; the weigher's 1.0
    x the similarity difference (0.87 - 0.83: one factor of 23 weight
    points) outweighs that.
    """

    def setUp(self):
        super().setUp()
        # io_ops too: the compute's stats still count twin's new server
        # as an I/O operation (nova's default multiplier there is -1.0).
        for name, value in (('ram', 0.005), ('cpu', 0.005),
                            ('disk', 0.005), ('io_ops', -0.005)):
            self.flags(**{name + '_weight_multiplier': value,
                          'group': 'filter_scheduler'})
        self._start_hosts('src', 'twin', 'updated')
        self.server = self._boot_on('src')
        self._boot_on('twin')

    def test_the_identical_host_wins(self):
        self._moves_to('twin')

    def test_without_the_weigher_the_emptier_host_wins(self):
        # The control: with the weigher's share at 0 the same cloud sends
        # the guest to the emptier host, so the test above shows the
        # weigher deciding, not nova's order.
        self._moves_to('updated', multiplier=0.0)
