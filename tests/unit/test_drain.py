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

"""The drain plan's ordering and capacity ledger, on real host profiles.

The hosts are snapshots read with the real reader and sent through the
trait codec (see test_whatif); the rules engine and the weigher's
similarity are the real ones. nova and Placement are exercised in
tests/functional/test_nova_drain.py; here Placement's answers are given
as it returns them (inventories with allocation ratios, usages).
"""

import json
import os

import fixtures
import testtools

from migcompat_filter.exception import InputError
from migcompat_filter.fleet import capacity
from migcompat_filter.fleet import drain
from migcompat_filter.fleet import drain_run
from migcompat_filter.placement import acceptance
from tests import fake_fleet as fleets

MILAN = fleets.MILAN


def inv(vcpus, ratio=1.0, reserved=0, mem=65536):
    return {'VCPU': {'total': vcpus, 'reserved': reserved,
                     'allocation_ratio': ratio},
            'MEMORY_MB': {'total': mem, 'reserved': 0,
                          'allocation_ratio': 1.0}}


def server(name, vcpus=2):
    return {'id': 'id-' + name, 'name': name,
            'flavor': {'vcpus': vcpus, 'ram': 1024, 'disk': 0}}


class CapacityTest(testtools.TestCase):

    def test_placement_arithmetic_with_ratio_and_reserved(self):
        cap = capacity.Capacity.from_placement(
            inv(8, ratio=4.0, reserved=2), {'VCPU': 20, 'MEMORY_MB': 1024})
        self.assertEqual(4, cap.free['VCPU'])     # (8-2)*4 - 20
        self.assertTrue(cap.fits({'VCPU': 4}))
        self.assertFalse(cap.fits({'VCPU': 5}))
        self.assertEqual('VCPU 5 > 4 free', cap.short({'VCPU': 5}))
        # A class the host has no inventory of has no room.
        self.assertFalse(cap.fits({'VGPU': 1}))

    def test_need_from_allocation_else_flavor(self):
        self.assertEqual({'VCPU': 3}, drain.server_need(server('a'),
                                                        {'VCPU': 3}))
        self.assertEqual({'VCPU': 2, 'MEMORY_MB': 1024},
                         drain.server_need(server('a'), {}))


class PlanTest(testtools.TestCase):

    def setUp(self):
        super().setUp()
        milan = fleets.real(MILAN)
        self.hosts = fleets.fleet(
            src=milan, twin=fleets.real(MILAN),
            newer=fleets.real(MILAN, microcode_version='0xa0011d5',
                              kernel_version='6.19.1'),
            intel=fleets.real(fleets.CLX_8268, qemu_version='9.0.0'))
        self.src = [h for h in self.hosts if h.name == 'src'][0]
        self.mode = lambda s: ('host-model', 'test')

    def _plan(self, free, servers, mode_of=None):
        needs = {s['id']: drain.server_need(s, {}) for s in servers}
        return drain.make_plan(self.src, self.hosts, servers, needs, free,
                               mode_of or self.mode)

    def _free(self, **vcpus):
        return {'uuid-' + n: capacity.Capacity.from_placement(inv(v), {})
                for n, v in vcpus.items()}

    def test_preference_verdict_then_similarity_then_room(self):
        plan = self._plan(self._free(twin=2, newer=64, intel=64),
                          [server('a')])
        sp = plan.servers[0]
        # The identical twin before the host with another microcode and
        # kernel, though it has less room; the Intel host is refused.
        self.assertEqual(['twin', 'newer'], [t.host.name for t in
                                             sp.targets])
        self.assertEqual('twin', sp.target.host.name)
        self.assertEqual(['intel'], [t.host.name for t in sp.refused])
        self.assertIn('cpu_model', sp.refused[0].blocking)

    def test_no_host_is_overcommitted(self):
        servers = [server('a'), server('b'), server('c')]
        plan = self._plan(self._free(twin=2, newer=2, intel=64), servers)
        placed = [sp.target.host.name for sp in plan.placed]
        self.assertEqual(['newer', 'twin'], sorted(placed))
        self.assertEqual(1, len(plan.unplaced))
        sp = plan.unplaced[0]
        self.assertEqual(plan.servers[0], sp)  # unplaced first
        self.assertIn('no valid target has room', sp.why_unplaced)
        self.assertIn('twin: VCPU 2 > 0 free', sp.why_unplaced)
        # The caller's capacities are not spent by planning.
        free = self._free(twin=2, newer=2)
        self._plan(free, servers)
        self.assertEqual(2, free['uuid-twin'].free['VCPU'])

    def test_a_stopped_server_is_not_planned(self):
        stopped = dict(server('off'), status='SHUTOFF')
        plan = self._plan(self._free(twin=8, newer=8), [stopped,
                                                        server('on')])
        self.assertEqual(['off'], [sp.name for sp in plan.unplaced])
        self.assertIn('status SHUTOFF', plan.unplaced[0].why_unplaced)
        # Its valid targets are still shown.
        self.assertEqual(['twin', 'newer'],
                         [t.host.name for t in plan.unplaced[0].targets])

    def test_most_constrained_server_is_placed_first(self):
        # The passthrough guest may only go to the twin; the host-model
        # one could go to either, so it must not take the twin's room.
        modes = {'id-pt': 'host-passthrough', 'id-hm': 'host-model'}
        hosts = fleets.fleet(
            src=fleets.real(MILAN), twin=fleets.real(MILAN),
            other=fleets.real(MILAN, cpu_features=dict(
                fleets.real(MILAN)['cpu_features'], features=['fpu'])))
        self.hosts = hosts
        self.src = hosts[[h.name for h in hosts].index('src')]
        plan = self._plan(
            self._free(twin=2, other=2), [server('hm'), server('pt')],
            mode_of=lambda s: (modes[s['id']], 'test'))
        got = {sp.name: sp.target.host.name for sp in plan.placed}
        self.assertEqual({'pt': 'twin', 'hm': 'other'}, got)


class UntraitedSourceTest(testtools.TestCase):
    """A source without readable traits: the filter applies its
    untraited_source_action to every destination; so does the plan.
    """

    def test_action_applies_to_every_host(self):
        hosts = fleets.fleet(src=fleets.real(MILAN), twin=fleets.real(MILAN))
        src = hosts[0]
        src.state = 'untraited'
        free = {h.uuid: capacity.Capacity.from_placement(inv(8), {})
                for h in hosts}
        for action, targets in (('pass', ['twin']), ('refuse', [])):
            plan = drain.make_plan(src, hosts, [server('a')],
                                   {'id-a': {'VCPU': 2}}, free,
                                   lambda s: ('host-model', 'test'),
                                   actions=acceptance.Actions(
                                       untraited_source_action=action))
            sp = plan.servers[0]
            self.assertEqual(targets, [t.host.name for t in sp.targets])
            reasons = [t.reason for t in sp.targets + sp.refused]
            self.assertIn('untraited_source_action', reasons[0])


S1 = '3f0a7c1e-2b4d-4e8a-9c61-5d2f8e7a1b90'
S2 = '9d1b7e2a-4c3f-4a8b-8e6d-2f1a0c9b7e53'


class StateFileTest(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.dir = self.useFixture(fixtures.TempDir()).path
        self.path = os.path.join(self.dir, 'sub', 'drain-src.json')

    def test_round_trip_and_atomic_write(self):
        s1, s2 = S1, S2
        state = drain_run.State.load(self.path, 'src')
        state.update(s1, migrated='twin')
        state.update(s2, failed='boom')
        self.assertEqual(['drain-src.json'],
                         os.listdir(os.path.dirname(self.path)))
        again = drain_run.State.load(self.path, 'src')
        self.assertEqual({s1: 'twin'}, again.migrated)
        self.assertEqual({s2: 'boom'}, again.failed)

    def test_bad_state_files_are_bad_input(self):
        os.makedirs(os.path.dirname(self.path))
        for text, word in (('{', 'not a drain state file'),
                           ('[]', 'not a version 1'),
                           (json.dumps({'version': 1, 'host': 'other'}),
                            "records a drain of 'other'"),
                           (json.dumps({'version': 1, 'host': 'src',
                                        'failed': []}),
                            "'failed' is not an object")):
            with open(self.path, 'w') as f:
                f.write(text)
            e = self.assertRaises(InputError, drain_run.State.load,
                                  self.path, 'src')
            self.assertIn(self.path, str(e))
            self.assertIn(word, str(e))

    def test_default_path_follows_xdg(self):
        self.useFixture(fixtures.EnvironmentVariable('XDG_STATE_HOME',
                                                     self.dir))
        self.assertEqual(os.path.join(self.dir, 'migcompat',
                                      'drain-a_b.json'),
                         drain_run.default_state_path('a/b'))
