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

"""One answer to "would the filter accept this host for this guest": the
scheduler's filter, ``fleet matrix`` (matrix.accepts), ``host drain``
(drain.make_plan) and ``server check`` (check.rows) agree host by host on
one fleet, for a judged and an unjudged source, under the default and the
refusing actions.

The scheduler reads the fleet from the in-memory Placement; the CLI side
reads the same trait lists with the fleet inventory's own Host (as
``Fleet.load`` does). Profiles are real snapshots, encoded with the real
codec.
"""

import fixtures
import testtools

from migcompat_filter.cmd import check
from migcompat_filter import conf as conf_mod
from migcompat_filter.fleet import capacity
from migcompat_filter.fleet import drain
from migcompat_filter.fleet import inventory
from migcompat_filter.fleet import matrix
from migcompat_filter.placement import acceptance
from migcompat_filter.placement import hoststate
from migcompat_filter.scheduler import instances
from migcompat_filter.scheduler import migration_filter
from migcompat_filter.scheduler import state as scheduler_state
from migcompat_filter.traits import codec as traits
from tests.fake_placement import FakePlacement
from tests.unit import scheduler_helpers as helpers

_REFUSE_ALL = {name: 'refuse' for name in acceptance.Actions.OPTIONS}


def _newer(names):
    schema = traits.PREFIX + traits.SCHEMA_CODE + '_'
    return [t for t in names if not t.startswith(schema)] + [schema + '99']


def _fleet_traits():
    milan = helpers.real(helpers.MILAN)
    return {
        'src': helpers.published(milan),
        'twin': helpers.published(milan),
        'kernel': helpers.published(helpers.real(
            helpers.MILAN, kernel_version='6.19.1-fc-v700')),
        'intel': helpers.published(helpers.real(helpers.INTEL)),
        'bare': [],
        'newer': _newer(helpers.published(helpers.real(
            helpers.MILAN, qemu_version='9.9.0'))),
    }


class AgreementTest(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.useFixture(fixtures.FakeLogger(
            name='migcompat_filter.scheduler.filter'))
        self.placement = FakePlacement()
        scheduler_state.reset_shared(lambda: self.placement)
        self.addCleanup(scheduler_state.reset_shared)
        self.conf = migration_filter.CONF

    def _configure(self, source_traits, actions):
        overrides = dict(actions, initial_profile_wait=10)
        for name, value in overrides.items():
            self.conf.set_override(name, value, 'migcompat')
            self.addCleanup(self.conf.clear_override, name, 'migcompat')
        names = _fleet_traits()
        names['src'] = source_traits(names['src'])
        self.states, self.fleet = {}, []
        for name, found in sorted(names.items()):
            hs = helpers.HostState(name)
            self.states[name] = hs
            self.placement.set(hs.uuid, found + ['COMPUTE_NODE'])
            host = inventory.Host(name, hs.uuid)
            host.traits = set(found + ['COMPUTE_NODE'])
            host.classify()
            self.fleet.append(host)
        self.source = [h for h in self.fleet if h.name == 'src'][0]
        others = [hs for n, hs in sorted(self.states.items()) if n != 'src']
        return others

    def _scheduler(self, others):
        migration = instances.LiveMigration(
            'inst-1', 'src', 'src', self.states['src'].uuid)
        passed = migration_filter.judge(others, helpers.Spec(), migration)
        return sorted(hs.host for hs in passed)

    def _mode(self):
        if self.source.state != hoststate.TRAITED:
            return None
        return migration_filter.guest_mode(None, self.source.profile)[0]

    def _matrix(self, policy, actions):
        return sorted(h.name for h, ok, _why, _v in matrix.accepts(
            self.fleet, self.source, policy=policy, mode=self._mode(),
            actions=actions) if ok)

    def _drain(self, policy, actions):
        inv = {'VCPU': {'total': 64, 'reserved': 0, 'allocation_ratio': 1.0}}
        free = {h.uuid: capacity.Capacity.from_placement(inv, {})
                for h in self.fleet}
        server = {'id': 'id-a', 'name': 'a', 'status': 'ACTIVE'}
        plan = drain.make_plan(self.source, self.fleet, [server],
                               {'id-a': {'VCPU': 1}}, free,
                               lambda s: (self._mode(), 'test'),
                               policy=policy, actions=actions)
        return sorted(t.host.name for t in plan.servers[0].targets)

    def _check(self, policy, actions):
        return sorted(name for name, ok, _why in check.rows(
            self.fleet, self.source, self._mode(), policy, actions) if ok)

    def _all_agree(self, source_traits, actions, expected):
        others = self._configure(source_traits, actions)
        policy = conf_mod.policy_from_conf(self.conf)
        fleet_actions = acceptance.Actions.from_options(self.conf.migcompat)
        got = {
            'scheduler': self._scheduler(others),
            'matrix': self._matrix(policy, fleet_actions),
            'drain': self._drain(policy, fleet_actions),
            'check': self._check(policy, fleet_actions),
        }
        self.assertEqual(dict.fromkeys(got, expected), got)

    def test_judged_source_default_actions(self):
        self._all_agree(list, {},
                        ['bare', 'kernel', 'newer', 'twin'])

    def test_judged_source_refusing_actions(self):
        self._all_agree(list, _REFUSE_ALL, ['kernel', 'twin'])

    def test_untraited_source_default_actions(self):
        self._all_agree(lambda names: [], {},
                        ['bare', 'intel', 'kernel', 'newer', 'twin'])

    def test_untraited_source_refusing_actions(self):
        self._all_agree(lambda names: [], _REFUSE_ALL, [])

    def test_newer_schema_source_follows_untraited_source_action(self):
        self._all_agree(_newer, dict(untraited_source_action='refuse'), [])
        self.assertEqual(hoststate.NEWER_SCHEMA, self.source.state)


class DecideTest(testtools.TestCase):
    """The table itself, state by state."""

    def test_each_unjudged_state_follows_its_option(self):
        for state, option in acceptance.ACTION_OPTIONS.items():
            for action in ('pass', 'refuse'):
                d = acceptance.decide(hoststate.TRAITED, state,
                                      acceptance.Actions(**{option: action}),
                                      self.fail)
                self.assertEqual((action == 'pass', acceptance.BY_STATE,
                                  option), (d.accepted, d.by, d.option))

    def test_an_unjudged_source_decides_for_every_destination(self):
        actions = acceptance.Actions(untraited_source_action='refuse',
                                     placement_error_action='pass')
        for state in hoststate.NOT_JUDGED:
            d = acceptance.decide(state, hoststate.TRAITED, actions,
                                  self.fail)
            expected = state == hoststate.UNJUDGED
            self.assertEqual((expected, acceptance.BY_SOURCE),
                             (d.accepted, d.by), state)

    def test_a_judged_pair_follows_the_verdict(self):
        class Verdict(object):
            compatible = False
        d = acceptance.decide(hoststate.TRAITED, hoststate.TRAITED,
                              acceptance.Actions(), Verdict)
        self.assertFalse(d.accepted)
        self.assertEqual(acceptance.BY_VERDICT, d.by)

    def test_an_unknown_option_is_an_error(self):
        self.assertRaises(TypeError, acceptance.Actions, untraited='pass')
