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

"""what-if and upgrade-plan on fleets built from real host snapshots.

Profiles are read from tests/fixtures/hosts with the real reader, sent
through the trait codec and read back (hoststate.classify) as the fleet
commands get them from Placement; the rules engine is the real one. The
libvirt CPUID dumps (Intel hosts) carry no QEMU, libvirt or kernel facts:
those are the Milan snapshot's, so only the CPU differs.
"""

import testtools

from migcompat_filter.exception import InputError
from migcompat_filter.fleet import capacity
from migcompat_filter.fleet import upgrade_plan
from migcompat_filter.fleet import whatif
from tests.fake_fleet import CLX_4214R
from tests.fake_fleet import CLX_8268
from tests.fake_fleet import fleet
from tests.fake_fleet import MILAN
from tests.fake_fleet import real
from tests.fake_fleet import with_guests


class ParseChangesTest(testtools.TestCase):

    def test_settable_factors_parse(self):
        self.assertEqual(
            [('microcode_version', '0x2007006'),
             ('kernel_cmdline', 'tsx=off'), ('qemu_version', '8.2.2'),
             ('remove_features', ['hle', 'rtm'])],
            whatif.parse_changes(['microcode_version=0x2007006',
                                  'kernel_cmdline=tsx=off',
                                  'qemu_version=8.2.2',
                                  'remove_features=hle,rtm']))

    def test_bad_input_names_the_setting(self):
        for text, words in (
                ('gpu_driver=5', ["unknown factor 'gpu_driver'",
                                  'qemu_version']),
                ('qemu_version=eight', ['qemu_version=eight',
                                        'version number']),
                ('microcode_version=12', ['hex microcode']),
                ('remove_features=HLE;x', ['remove_features']),
                ('qemu_version', ['expected FACTOR=VALUE'])):
            e = self.assertRaises(InputError, whatif.parse_changes, [text])
            for word in words:
                self.assertIn(word, str(e), text)
        self.assertRaises(InputError, whatif.parse_changes, [])

    def test_tsx_off_hides_hle_and_rtm(self):
        prof = real(CLX_8268)
        self.assertIn('hle', prof['host_model']['features'])
        after = whatif.apply(prof, [('kernel_cmdline', 'tsx=off')])
        for factor in ('host_model', 'cpu_features'):
            self.assertNotIn('hle', after[factor]['features'])
            self.assertNotIn('rtm', after[factor]['features'])
        self.assertEqual('off', after['kernel_settings']['cmdline']['tsx'])
        self.assertIn('hle', prof['host_model']['features'])  # unchanged


class WhatIfTest(testtools.TestCase):

    def test_tsx_off_delta_and_stranded_guests(self):
        hosts = fleet(c1=real(CLX_8268), c2=with_guests(real(CLX_8268)),
                      s1=real(CLX_4214R), m1=real(MILAN))
        before = whatif.unchanged_fleet(hosts)
        after = whatif.changed_fleet(hosts, {'c1'},
                                     [('kernel_cmdline', 'tsx=off')])
        verdicts = whatif.Verdicts()
        got = whatif.delta(before, after, verdicts=verdicts)
        # Guests started with TSX on c2 can no longer go to c1; c1's own
        # (now TSX-less) guests can still go to c2, and now also to the
        # TSX-less 4214R.
        self.assertIn(('c2', 'c1', 'impossible', ['host_model']), got)
        self.assertIn(('c1', 's1', 'possible', ['host_model']), got)
        self.assertEqual(2, len(got), got)
        self.assertEqual(set(), {(s, d) for s, d, _k, _f in got
                                 if 'c1' not in (s, d)})
        # c2's guests had one target (c1: the 4214R lacks TSX): none now.
        self.assertEqual([('c2', 'host-model', 2, 1)],
                         whatif.stranded(before, after, verdicts))

    def test_qemu_upgrade_makes_one_way_targets(self):
        hosts = fleet(m1=real(MILAN), m2=real(MILAN), m3=real(MILAN))
        before = whatif.unchanged_fleet(hosts)
        after = whatif.changed_fleet(hosts, {'svc-m1'},
                                     [('qemu_version', '8.2.2')])
        got = whatif.delta(before, after)
        self.assertEqual([('m1', 'm2', 'impossible', ['qemu_version']),
                          ('m1', 'm3', 'impossible', ['qemu_version'])],
                         got)

    def test_newly_possible(self):
        hosts = fleet(old=real(MILAN, qemu_version='7.0.0'),
                      new=real(MILAN))
        before = whatif.unchanged_fleet(hosts)
        after = whatif.changed_fleet(hosts, {'old'},
                                     [('qemu_version', '7.2.22')])
        self.assertEqual([('new', 'old', 'possible', ['qemu_version'])],
                         whatif.delta(before, after))


def _room(vcpus):
    return capacity.Capacity({'VCPU': vcpus, 'MEMORY_MB': 65536},
                             {'VCPU': 16, 'MEMORY_MB': 65536})


def _guests(host, n, vcpus=4):
    return [upgrade_plan.Guest('%s-g%d' % (host, i), '%s-g%d' % (host, i),
                               'host-model', {'VCPU': vcpus})
            for i in range(n)]


class UpgradePlanTest(testtools.TestCase):

    def _planner(self, profiles, changes, guests, free):
        hosts = fleet(**profiles)
        before = whatif.unchanged_fleet(hosts)
        after = {h.name: h for h in whatif.changed_fleet(
            hosts, set(profiles), changes)}
        return upgrade_plan.Planner(before, after, guests, free)

    def test_order_that_drains_each_host_onto_allowed_targets(self):
        profiles = {n: real(MILAN) for n in ('m1', 'm2', 'm3')}
        planner = self._planner(
            profiles, [('qemu_version', '8.2.2')],
            {n: _guests(n, 2) for n in profiles},
            {n: _room(8) for n in profiles})
        steps = planner.plan()
        self.assertEqual(3, len(steps))
        upgraded = set()
        for step in steps:
            for guest, dest in step.moves:
                # Never from an upgraded (newer QEMU) host to an old one.
                self.assertNotEqual(dest, step.host)
                self.assertFalse(step.host in upgraded and
                                 dest not in upgraded, (step.host, dest))
            upgraded.add(step.host)
        self.assertEqual({'m1', 'm2', 'm3'}, upgraded)
        # Every guest left its host at least once (some twice).
        self.assertGreaterEqual(sum(len(st.moves) for st in steps), 6)

    def test_no_order_when_the_target_version_is_older_than_a_host(self):
        # m2 already runs a newer QEMU than the upgrade installs: its
        # guests can go nowhere, neither to m1 as it is nor once m1 is
        # "upgraded" to an older QEMU than m2's.
        profiles = {'m1': real(MILAN),
                    'm2': real(MILAN, qemu_version='9.0.0')}
        planner = self._planner(
            profiles, [('qemu_version', '8.2.2')],
            {'m1': _guests('m1', 1), 'm2': _guests('m2', 1)},
            {'m1': _room(8), 'm2': _room(4)})
        self.assertIsNone(planner.plan())
        stuck = planner.deepest
        self.assertEqual('m2', stuck.host)
        # m1's guest went to m2 at the first turn; it is the first of
        # m2's guests to find no way back.
        self.assertEqual('m1-g0', stuck.guest.name)
        self.assertEqual({'m1': 'qemu_version'}, stuck.blocked)
        self.assertIn('m2 cannot be drained after m1: guest m1-g0 '
                      '(host-model) has no target: m1: qemu_version',
                      stuck.text())

    def test_no_order_for_lack_of_room(self):
        profiles = {'m1': real(MILAN), 'm2': real(MILAN)}
        planner = self._planner(
            profiles, [('qemu_version', '8.2.2')],
            {'m1': _guests('m1', 2), 'm2': _guests('m2', 2)},
            {'m1': _room(4), 'm2': _room(4)})
        self.assertIsNone(planner.plan())
        self.assertIn('no room (VCPU 4 > 0 free)',
                      planner.deepest.text())
