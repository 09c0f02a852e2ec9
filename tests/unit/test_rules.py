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

"""Verdicts on real host pairs, in every guest CPU mode.

Each scenario names the source, the destination (a real host or a variant
that changes one thing), the mode and the policy, and asserts the verdict
and the factor that decides it: the blocking factors when the pair is
refused, the warning factors when it is not.
"""

import collections
import os
import re

import fixtures
import testtools

from migcompat_filter.profile import FACTOR_SCHEMA
from migcompat_filter.profile import Profile
from migcompat_filter.profile import Unknown
from migcompat_filter import rules
from migcompat_filter.rules.guest_cpu import GuestCPU
from migcompat_filter.rules import host_model
from migcompat_filter.rules.policy import Policy
from tests.unit import hosts

HM = 'host-model'
HP = 'host-passthrough'
CU = 'custom'


def tsx_off_9242():
    return hosts.with_tsx_off(hosts.xeon_9242())


def older_qemu(profile, version='7.2.0'):
    return hosts.variant(profile, qemu_version=version)


def newer(profile, qemu='8.2.2', libvirt='10.0.0'):
    return hosts.variant(profile, qemu_version=qemu, libvirt_version=libvirt)


def smt_off(profile):
    return hosts.edit(profile, 'firmware_settings', smt='off',
                      threads_per_core=1)


def new_kernel(profile):
    return hosts.variant(profile, kernel_version='6.12.12-amd64')


def new_firmware(profile):
    return hosts.edit(profile, 'firmware_version', version='2.21.2',
                      date='03/01/2025')


def new_microcode(profile):
    return hosts.variant(profile, microcode_version='0x5003707')


def tsc(profile, frequency, scaling):
    return hosts.variant(profile, tsc={'frequency': frequency,
                                       'scaling': scaling})


def invtsc_guest(frequency=2445426000):
    """A guest that runs with invtsc and its TSC frequency pinned."""
    return GuestCPU(invtsc_frequencies=[frequency], invtsc_unpinned=0,
                    origin='test guest')


def unknown(profile, factor):
    return hosts.variant(profile, **{factor: Unknown('test: not read')})


class Case(collections.namedtuple(
        'Case', 'name src dst mode policy models ok block warn guest')):
    """One scenario.

    src, dst: functions returning the profiles; mode: the guest CPU mode;
    policy: Policy keyword arguments; models: the custom guest's models;
    ok: compatible; block: the blocking factors; warn: the warning
    factors, or None to not check them; guest: a function returning the
    migrating guest's GuestCPU (None: nothing known of it).
    """

    __slots__ = ()

    def __new__(cls, name, src, dst, mode, ok, policy=None, models=None,
                block=(), warn=None, guest=None):
        return super(Case, cls).__new__(cls, name, src, dst, mode,
                                        policy or {}, models, ok, block,
                                        warn, guest)


SCENARIOS = [
    # -- Intel, bare metal -------------------------------------------------
    Case('9242 to itself, host-model', src=hosts.xeon_9242,
         dst=hosts.xeon_9242, mode=HM, ok=True, warn=[]),
    Case('9242 to itself, passthrough', src=hosts.xeon_9242,
         dst=hosts.xeon_9242, mode=HP, ok=True, warn=[]),
    Case('9242 to itself, custom', src=hosts.xeon_9242, dst=hosts.xeon_9242,
         mode=CU, models=['Cascadelake-Server'], ok=True, warn=[]),
    Case('9242 to 4214R (TSX gone), host-model', src=hosts.xeon_9242,
         dst=hosts.xeon_4214r, mode=HM, ok=False, block=['host_model'],
         warn=[]),
    Case('9242 to 4214R (TSX gone), passthrough', src=hosts.xeon_9242,
         dst=hosts.xeon_4214r, mode=HP, ok=False, block=['cpu_features'],
         warn=['microcode_version']),
    Case('9242 to 4214R, custom Cascadelake-Server', src=hosts.xeon_9242,
         dst=hosts.xeon_4214r, mode=CU, models=['Cascadelake-Server'],
         ok=False, block=['usable_models'], warn=[]),
    Case('9242 to 4214R, custom IvyBridge', src=hosts.xeon_9242,
         dst=hosts.xeon_4214r, mode=CU, models=['IvyBridge'], ok=True,
         warn=[]),
    Case('4214R to 9242: rfds-no of newer microcode missing, host-model',
         src=hosts.xeon_4214r, dst=hosts.xeon_9242, mode=HM, ok=False,
         block=['host_model'], warn=[]),
    Case('9242 to itself with tsx=off, host-model', src=hosts.xeon_9242,
         dst=tsx_off_9242, mode=HM, ok=False, block=['host_model'], warn=[]),
    Case('9242 to itself with tsx=off, passthrough', src=hosts.xeon_9242,
         dst=tsx_off_9242, mode=HP, ok=False, block=['cpu_features'],
         warn=['kernel_settings']),
    Case('9242 with tsx=off to 9242 (TSX back on), host-model',
         src=tsx_off_9242, dst=hosts.xeon_9242, mode=HM, ok=True, warn=[]),
    Case('6148 (Skylake) to 9242 (Cascade Lake), host-model',
         src=hosts.xeon_6148, dst=hosts.xeon_9242, mode=HM, ok=True, warn=[]),
    Case('9242 to 6148 (older CPU), host-model', src=hosts.xeon_9242,
         dst=hosts.xeon_6148, mode=HM, ok=False, block=['host_model'],
         warn=[]),
    Case('6148 to 9242, passthrough: other stepping and microcode warn',
         src=hosts.xeon_6148, dst=hosts.xeon_9242, mode=HP, ok=True,
         warn=['cpu_model', 'microcode_version']),
    Case('6148 to 9242, passthrough strict', src=hosts.xeon_6148,
         dst=hosts.xeon_9242, mode=HP, policy={'strict': True}, ok=False,
         block=['cpu_model', 'microcode_version'], warn=[]),
    Case('9242 to 6148, custom Skylake-Server', src=hosts.xeon_9242,
         dst=hosts.xeon_6148, mode=CU, models=['Skylake-Server'], ok=True,
         warn=[]),
    Case('9242 to 6148, custom Cascadelake-Server', src=hosts.xeon_9242,
         dst=hosts.xeon_6148, mode=CU, models=['Cascadelake-Server'], ok=False,
         block=['usable_models'], warn=[]),
    # -- versions ------------------------------------------------------------
    Case('older QEMU on destination, host-model', src=hosts.xeon_9242,
         dst=lambda: older_qemu(hosts.xeon_9242()), mode=HM, ok=False,
         block=['qemu_version'], warn=[]),
    Case('older QEMU on destination, passthrough (nova refuses too)',
         src=hosts.xeon_9242, dst=lambda: older_qemu(hosts.xeon_9242()),
         mode=HP, ok=False, block=['qemu_version'], warn=[]),
    Case('older QEMU on destination, custom', src=hosts.xeon_9242,
         dst=lambda: older_qemu(hosts.xeon_9242()), mode=CU,
         models=['IvyBridge'], ok=False, block=['qemu_version'], warn=[]),
    Case('older libvirt and QEMU on destination, host-model',
         src=lambda: newer(hosts.xeon_9242()), dst=hosts.xeon_9242, mode=HM,
         ok=False, block=['libvirt_version', 'qemu_version'], warn=[]),
    Case('older libvirt on destination, passthrough: libvirt warns',
         src=lambda: newer(hosts.xeon_9242(), qemu='7.2.22'),
         dst=hosts.xeon_9242, mode=HP, ok=True, warn=['libvirt_version']),
    Case('older libvirt, passthrough policy naming libvirt_version',
         src=lambda: newer(hosts.xeon_9242(), qemu='7.2.22'),
         dst=hosts.xeon_9242, mode=HP,
         policy={'passthrough_blocking_factors': ['libvirt_version']},
         ok=False, block=['libvirt_version'], warn=[]),
    Case('newer QEMU and libvirt on destination, host-model',
         src=hosts.xeon_9242, dst=lambda: newer(hosts.xeon_9242()), mode=HM,
         ok=True, warn=[]),
    Case('newer QEMU and libvirt on destination, passthrough warns',
         src=hosts.xeon_9242, dst=lambda: newer(hosts.xeon_9242()), mode=HP,
         ok=True, warn=['libvirt_version', 'qemu_version']),
    # -- kernel, firmware, microcode, SMT ------------------------------------
    Case('other kernel, host-model', src=hosts.xeon_9242,
         dst=lambda: new_kernel(hosts.xeon_9242()), mode=HM, ok=True, warn=[]),
    Case('other kernel, passthrough warns', src=hosts.xeon_9242,
         dst=lambda: new_kernel(hosts.xeon_9242()), mode=HP, ok=True,
         warn=['kernel_version']),
    Case('other kernel, passthrough strict blocks', src=hosts.xeon_9242,
         dst=lambda: new_kernel(hosts.xeon_9242()), mode=HP,
         policy={'strict': True}, ok=False, block=['kernel_version'], warn=[]),
    Case('other firmware, passthrough warns', src=hosts.xeon_9242,
         dst=lambda: new_firmware(hosts.xeon_9242()), mode=HP, ok=True,
         warn=['firmware_version']),
    Case('other firmware, host-model', src=hosts.xeon_9242,
         dst=lambda: new_firmware(hosts.xeon_9242()), mode=HM, ok=True,
         warn=[]),
    Case('other microcode, passthrough warns', src=hosts.xeon_9242,
         dst=lambda: new_microcode(hosts.xeon_9242()), mode=HP, ok=True,
         warn=['microcode_version']),
    Case('other microcode, passthrough policy names it', src=hosts.xeon_9242,
         dst=lambda: new_microcode(hosts.xeon_9242()), mode=HP,
         policy={'passthrough_blocking_factors': ['microcode_version']},
         ok=False, block=['microcode_version'], warn=[]),
    Case('SMT off on destination, passthrough warns', src=hosts.xeon_9242,
         dst=lambda: smt_off(hosts.xeon_9242()), mode=HP, ok=True,
         warn=['firmware_settings']),
    Case('SMT off on destination, passthrough policy names it',
         src=hosts.xeon_9242, dst=lambda: smt_off(hosts.xeon_9242()), mode=HP,
         policy={'passthrough_blocking_factors': ['firmware_settings']},
         ok=False, block=['firmware_settings'], warn=[]),
    Case('SMT off on destination, host-model', src=hosts.xeon_9242,
         dst=lambda: smt_off(hosts.xeon_9242()), mode=HM, ok=True, warn=[]),
    # -- AMD: bare metal and nested -----------------------------------------
    Case('EPYC 7713 to itself, passthrough', src=hosts.epyc_7713,
         dst=hosts.epyc_7713, mode=HP, ok=True, warn=[]),
    Case('EPYC 7713 to L1 nested Milan, host-model', src=hosts.epyc_7713,
         dst=hosts.milan_l1, mode=HM, ok=False, block=['host_model'], warn=[]),
    Case('EPYC 7713 to L1 nested Milan (expanded), host-model',
         src=hosts.epyc_7713, dst=lambda: hosts.milan_l1(expanded=True),
         mode=HM, ok=False, block=['host_model'], warn=[]),
    Case('EPYC 7713 to L1 nested Milan, passthrough', src=hosts.epyc_7713,
         dst=hosts.milan_l1, mode=HP, ok=False, block=['cpu_features']),
    Case('EPYC 7713 to L1 nested Milan, custom EPYC-Milan',
         src=hosts.epyc_7713, dst=hosts.milan_l1, mode=CU,
         models=['EPYC-Milan'], ok=False, block=['usable_models'], warn=[]),
    Case('L1 nested Milan to itself, host-model', src=hosts.milan_l1,
         dst=hosts.milan_l1, mode=HM, ok=True, warn=[]),
    Case('L1 nested Milan to itself, passthrough: no DMI warns',
         src=hosts.milan_l1, dst=hosts.milan_l1, mode=HP, ok=True,
         warn=['firmware_version']),
    Case('L1 nested Milan (expanded) to EPYC 7713, host-model',
         src=lambda: hosts.milan_l1(expanded=True), dst=hosts.epyc_7713,
         mode=HM, ok=True, warn=[]),
    Case('L1 nested Milan (named model only) to EPYC 7713: unknown warns',
         src=hosts.milan_l1, dst=hosts.epyc_7713, mode=HM, ok=True,
         warn=['host_model']),
    Case('L1 nested Milan (named model only) to EPYC 7713, strict',
         src=hosts.milan_l1, dst=hosts.epyc_7713, mode=HM,
         policy={'strict': True}, ok=False, block=['host_model']),
    Case('L1 nested Milan to EPYC 7713, custom EPYC-Milan', src=hosts.milan_l1,
         dst=hosts.epyc_7713, mode=CU, models=['EPYC-Milan'], ok=True,
         warn=[]),
    Case('EPYC 7601 after IBPB microcode to before, host-model',
         src=lambda: hosts.epyc_7601(ibpb=True), dst=hosts.epyc_7601, mode=HM,
         ok=False, block=['host_model'], warn=[]),
    # The Rome dump lists SVM features (avic, vgif, ...) the Milan dump
    # lacks: newer CPU, fewer features reported - features decide.
    Case('EPYC 7502 (Rome) to 7713 (Milan), host-model', src=hosts.epyc_7502,
         dst=hosts.epyc_7713, mode=HM, ok=False, block=['host_model'],
         warn=[]),
    Case('EPYC 7713 (Milan) to 7502 (Rome), host-model', src=hosts.epyc_7713,
         dst=hosts.epyc_7502, mode=HM, ok=False, block=['host_model'],
         warn=[]),
    Case('Intel 9242 to AMD 7713, host-model', src=hosts.xeon_9242,
         dst=hosts.epyc_7713, mode=HM, ok=False,
         block=['cpu_model', 'host_model']),
    Case('Intel 9242 to AMD 7713, passthrough', src=hosts.xeon_9242,
         dst=hosts.epyc_7713, mode=HP, ok=False,
         block=['cpu_features', 'cpu_model']),
    # -- TSC (only a guest that has invtsc) -------------------------------
    Case('TSC differs, invtsc guest, destination cannot scale',
         src=hosts.epyc_7713,
         dst=lambda: tsc(hosts.epyc_7713(), 2200000000, False), mode=HM,
         guest=invtsc_guest, ok=False, block=['tsc'], warn=[]),
    Case('TSC differs, invtsc guest, destination scales', src=hosts.epyc_7713,
         dst=lambda: tsc(hosts.epyc_7713(), 2200000000, True), mode=HM,
         guest=invtsc_guest, ok=True, warn=[]),
    Case('TSC within 250 ppm, invtsc guest, no scaling', src=hosts.epyc_7713,
         dst=lambda: tsc(hosts.epyc_7713(), 2445426000 + 500000, False),
         mode=HM, guest=invtsc_guest, ok=True, warn=[]),
    Case('TSC off by 300 ppm, policy tolerance 400 ppm', src=hosts.epyc_7713,
         dst=lambda: tsc(hosts.epyc_7713(), 2445426000 + 733000, False),
         mode=HM, policy={'tsc_tolerance_ppm': 400}, guest=invtsc_guest,
         ok=True, warn=[]),
    Case('TSC differs, host-model guest (never has invtsc)',
         src=hosts.epyc_7713,
         dst=lambda: tsc(hosts.epyc_7713(), 2200000000, False), mode=HM,
         ok=True, warn=[]),
    Case('TSC differs, passthrough guest without invtsc evidence',
         src=hosts.epyc_7713,
         dst=lambda: tsc(hosts.epyc_7713(), 2200000000, False), mode=HP,
         ok=True, warn=[]),
    Case('invtsc guest without a pinned frequency, even to itself',
         src=hosts.epyc_7713, dst=hosts.epyc_7713, mode=HM,
         guest=lambda: GuestCPU(invtsc_frequencies=[], invtsc_unpinned=1),
         ok=False, block=['tsc'], warn=[]),
    Case('TSC differs, guest without invtsc',
         src=lambda: hosts.without_features(hosts.milan_l1(), 'invtsc'),
         dst=lambda: tsc(hosts.milan_l1(), 2200000000, False), mode=HM,
         ok=True, warn=[]),
    # -- machine types (the guest's own) ----------------------------------
    Case('destination lacks a machine type no guest runs',
         src=hosts.xeon_9242,
         dst=lambda: hosts.variant(hosts.xeon_9242(), machine_types=[
                 m for m in hosts.QEMU_7_2_MACHINES if m != 'pc-q35-7.2']),
         mode=HM, ok=True, warn=[], policy={'strict': True},
         guest=lambda: GuestCPU(machine_types=['pc-q35-7.1'])),
    Case('destination lacks the machine type the guest runs',
         src=hosts.xeon_9242,
         dst=lambda: hosts.variant(hosts.xeon_9242(), machine_types=[
                 m for m in hosts.QEMU_7_2_MACHINES if m != 'pc-q35-7.2']),
         mode=HM, guest=lambda: GuestCPU(machine_types=['pc-q35-7.2']),
         ok=False, block=['machine_types'], warn=[]),
    Case('destination lacks a machine type, no guest record, strict',
         src=hosts.xeon_9242,
         dst=lambda: hosts.variant(hosts.xeon_9242(), machine_types=[
                 m for m in hosts.QEMU_7_2_MACHINES if m != 'pc-q35-7.2']),
         mode=HM, policy={'strict': True}, ok=True, warn=[]),
    # -- phys bits -----------------------------------------------------------
    Case('fewer phys bits on destination, passthrough', src=hosts.epyc_7713,
         dst=lambda: hosts.variant(hosts.epyc_7713(), phys_bits=46), mode=HP,
         ok=False, block=['phys_bits'], warn=[]),
    Case('guest maxphysaddr beyond the destination, host-model',
         src=hosts.epyc_7713,
         dst=lambda: hosts.variant(hosts.epyc_7713(), phys_bits=46), mode=HM,
         guest=lambda: GuestCPU(phys_bits=48), ok=False,
         block=['phys_bits'], warn=[]),
    Case('guest maxphysaddr within the destination, custom',
         src=hosts.epyc_7713,
         dst=lambda: hosts.variant(hosts.epyc_7713(), phys_bits=46), mode=CU,
         models=['EPYC'], guest=lambda: GuestCPU(phys_bits=43), ok=True,
         warn=[]),
    # -- unknown factors -----------------------------------------------------
    Case('unknown destination host-model CPU, host-model warns',
         src=hosts.xeon_9242,
         dst=lambda: unknown(hosts.xeon_9242(), 'host_model'), mode=HM,
         ok=True, warn=['host_model']),
    Case('unknown destination host-model CPU, policy blocks',
         src=hosts.xeon_9242,
         dst=lambda: unknown(hosts.xeon_9242(), 'host_model'), mode=HM,
         policy={'unknown_action': {HM: 'block'}}, ok=False,
         block=['host_model'], warn=[]),
    Case('unknown destination CPU features, passthrough blocks',
         src=hosts.xeon_9242,
         dst=lambda: unknown(hosts.xeon_9242(), 'cpu_features'), mode=HP,
         ok=False, block=['cpu_features'], warn=[]),
    Case('unknown destination CPU features, passthrough policy warns',
         src=hosts.xeon_9242,
         dst=lambda: unknown(hosts.xeon_9242(), 'cpu_features'), mode=HP,
         policy={'unknown_action': {HP: 'warn'}}, ok=True,
         warn=['cpu_features']),
    Case('unknown destination QEMU version, host-model blocks',
         src=hosts.xeon_9242,
         dst=lambda: unknown(hosts.xeon_9242(), 'qemu_version'), mode=HM,
         ok=False, block=['qemu_version'], warn=[]),
    Case('unknown destination QEMU version, policy warns', src=hosts.xeon_9242,
         dst=lambda: unknown(hosts.xeon_9242(), 'qemu_version'), mode=HM,
         policy={'unknown_version_action': 'warn'}, ok=True,
         warn=['qemu_version']),
    Case('unknown destination usable models, custom warns',
         src=hosts.xeon_9242,
         dst=lambda: unknown(hosts.xeon_9242(), 'usable_models'), mode=CU,
         models=['IvyBridge'], ok=True, warn=['usable_models']),
    Case('unknown destination microcode, passthrough warns',
         src=hosts.xeon_9242,
         dst=lambda: unknown(hosts.xeon_9242(), 'microcode_version'), mode=HP,
         ok=True, warn=['microcode_version']),
    Case('CPU features from cpuinfo vs libvirt, one missing, passthrough '
         'blocks', src=hosts.xeon_9242,
         dst=lambda: hosts.without_features(
             hosts.edit(hosts.xeon_9242(), 'cpu_features', source='cpuinfo'),
             'vmx'), mode=HP, ok=False, block=['cpu_features'], warn=[]),
    Case('CPU features from cpuinfo vs libvirt, one missing, policy warns',
         src=hosts.xeon_9242,
         dst=lambda: hosts.without_features(
             hosts.edit(hosts.xeon_9242(), 'cpu_features', source='cpuinfo'),
             'vmx'), mode=HP, policy={'unknown_action': {HP: 'warn'}},
         ok=True, warn=['cpu_features']),
    Case('Intel to AMD, custom model usable on both: the vendor still moves',
         src=hosts.xeon_9242,
         dst=lambda: hosts.variant(hosts.epyc_7713(), usable_models=sorted(
                 set(hosts.epyc_7713()['usable_models']) | {'IvyBridge'})),
         mode=CU, models=['IvyBridge'], ok=False, block=['cpu_model']),
    Case('different architecture', src=hosts.xeon_9242,
         dst=lambda: hosts.variant(hosts.xeon_9242(), arch='aarch64'), mode=HM,
         ok=False, block=['arch']),
]


class TestScenarios(testtools.TestCase):
    """Every scenario: the verdict and the factor that decides it.

    One test method per scenario (test_scenario_NN_<name>), added below.
    """

    def check(self, case):
        verdict = rules.evaluate(case.src(), case.dst(), case.mode,
                                 Policy(**case.policy),
                                 cpu_models=case.models,
                                 guest=case.guest() if case.guest else None)
        self.assertEqual(case.mode, verdict.mode, case.name)
        self.assertEqual(case.ok, verdict.compatible,
                         '%s: %r' % (case.name, verdict.findings))
        self.assertEqual(sorted(case.block), verdict.factors('block'),
                         '%s: %r' % (case.name, verdict.findings))
        if case.warn is not None:
            self.assertEqual(sorted(case.warn), verdict.factors('warn'),
                             '%s: %r' % (case.name, verdict.findings))

    def test_every_mode_and_both_vendors_are_covered(self):
        modes = {case.mode for case in SCENARIOS}
        self.assertEqual({HM, HP, CU}, modes)
        vendors = {case.src()['cpu_model']['vendor'] for case in SCENARIOS}
        self.assertEqual({'Intel', 'AMD'}, vendors)


def _add_scenario_tests():
    for index, case in enumerate(SCENARIOS):
        slug = re.sub(r'[^a-z0-9]+', '_', case.name.lower()).strip('_')

        def test(self, case=case):
            self.check(case)
        test.__doc__ = case.name
        setattr(TestScenarios, 'test_scenario_%02d_%s' % (index, slug),
                test)


_add_scenario_tests()


def _one(verdict, factor, severity='block'):
    found = [f for f in verdict.findings
             if f.factor == factor and f.severity == severity]
    if len(found) != 1:
        raise AssertionError('expected one %s finding for %s, got %r'
                             % (severity, factor, verdict.findings))
    return found[0]


class TestMessagesAndHints(testtools.TestCase):
    """What an operator reads: the missing features and the likely cause."""

    def test_tsx_off_on_destination_command_line(self):
        v = rules.evaluate(hosts.xeon_9242(), tsx_off_9242(), HM)
        f = _one(v, 'host_model')
        self.assertIn('hle, rtm', f.message)
        self.assertIn('tsx=off', f.hint)

    def test_tsx_gone_with_microcode_change(self):
        v = rules.evaluate(hosts.xeon_9242(), hosts.xeon_4214r(), HP)
        f = _one(v, 'cpu_features')
        self.assertIn('hle, rtm', f.message)
        self.assertIn('microcode differs', f.hint)
        self.assertIn('0x5003604', f.hint)
        self.assertIn('0x5003707', f.hint)
        self.assertNotIn('tsx=off', f.hint)

    def test_features_vanish_with_microcode_update(self):
        v = rules.evaluate(hosts.epyc_7601(ibpb=True), hosts.epyc_7601(),
                           HM)
        f = _one(v, 'host_model')
        self.assertIn('ibpb', f.message)
        self.assertIn('microcode differs', f.hint)

    def test_features_vanish_with_firmware_update(self):
        src = hosts.xeon_9242()
        dst = hosts.without_features(new_firmware(src), 'md-clear')
        f = _one(rules.evaluate(src, dst, HM), 'host_model')
        self.assertIn('md-clear', f.message)
        self.assertIn('firmware differs', f.hint)
        self.assertIn('2.21.2', f.hint)

    def test_nested_destination(self):
        v = rules.evaluate(hosts.epyc_7713(), hosts.milan_l1(), HM)
        f = _one(v, 'host_model')
        for feature in ('avx', 'avx2', 'aes'):
            self.assertIn(feature + ',', f.message)
        self.assertIn('virtual machine', f.hint)
        self.assertNotIn('firmware', f.hint)

    def test_different_cpu_is_named_not_microcode(self):
        v = rules.evaluate(hosts.xeon_9242(), hosts.xeon_6148(), HM)
        f = _one(v, 'host_model')
        self.assertIn('avx512vnni', f.message)
        self.assertIn('different CPU', f.hint)
        self.assertNotIn('microcode', f.hint)

    def test_older_qemu(self):
        v = rules.evaluate(hosts.xeon_9242(),
                           older_qemu(hosts.xeon_9242()), HM)
        f = _one(v, 'qemu_version')
        self.assertIn('7.2.0', f.message)
        self.assertIn('7.2.22', f.message)
        self.assertIn('upgrade QEMU', f.hint)

    def test_older_qemu_explains_missing_machine_types(self):
        dst = hosts.variant(hosts.xeon_9242(), qemu_version='7.1.0',
                            machine_types=[m for m in hosts.QEMU_7_2_MACHINES
                                           if not m.endswith('7.2')])
        v = rules.evaluate(hosts.xeon_9242(), dst, HM)
        # No record of the guest's machine type: said, never deciding.
        f = _one(v, 'machine_types', 'info')
        self.assertIn('pc-q35-7.2', f.message)
        self.assertIn('older', f.hint)

    def test_unknown_names_the_reason(self):
        v = rules.evaluate(hosts.xeon_9242(),
                           unknown(hosts.xeon_9242(), 'cpu_features'), HP)
        f = _one(v, 'cpu_features')
        self.assertIn('test: not read', f.message)

    def test_different_feature_sources_are_named(self):
        dst = hosts.without_features(
            hosts.edit(hosts.xeon_9242(), 'cpu_features', source='cpuinfo'),
            'arch-capabilities')
        f = _one(rules.evaluate(hosts.xeon_9242(), dst, HP), 'cpu_features')
        self.assertIn('arch-capabilities', f.message)
        self.assertIn('read from libvirt', f.message)
        self.assertIn('from cpuinfo', f.message)
        # The same features read differently are a superset all the same.
        dst = hosts.edit(hosts.xeon_9242(), 'cpu_features', source='cpuinfo')
        self.assertEqual(
            [], rules.evaluate(hosts.xeon_9242(), dst, HP).findings)

    def test_findings_are_ordered_block_warn_info(self):
        dst = hosts.variant(tsc(hosts.epyc_7713(), 2200000000, True),
                            kernel_version='6.12.1', phys_bits=40)
        v = rules.evaluate(hosts.epyc_7713(), dst, HP, guest=invtsc_guest())
        ranks = {'block': 0, 'warn': 1, 'info': 2}
        order = [ranks[f.severity] for f in v.findings]
        self.assertEqual(sorted(order), order)
        self.assertEqual({0, 1, 2}, set(order))

    def test_json_form(self):
        v = rules.evaluate(hosts.xeon_9242(),
                           unknown(hosts.xeon_9242(), 'cpu_features'), HP)
        data = v.to_dict()
        self.assertFalse(data['compatible'])
        f = data['findings'][0]
        self.assertEqual(
            {'factor', 'severity', 'source', 'destination', 'message',
             'hint'}, set(f))
        self.assertEqual({'unknown': True, 'reason': 'test: not read'},
                         f['destination'])


class TestHostModelComparison(testtools.TestCase):
    """The feature-set rule on expanded and named-model host-model CPUs."""

    def hm(self, features, disabled=(), expanded=False, model='EPYC-Milan'):
        return {'model': model, 'vendor': 'AMD', 'features': list(features),
                'disabled': list(disabled), 'expanded': expanded}

    def test_same_named_model_destination_disables_more(self):
        # Real case: the nested host's host-model CPU disables avx, avx2,
        # aes of EPYC-Milan that a bare-metal Milan keeps.
        src = self.hm(['invtsc'])
        dst = self.hm(['invtsc'], disabled=['avx', 'avx2', 'aes'])
        missing, complete, _ = host_model.compare_host_model(
            src, dst)
        self.assertTrue(complete)
        self.assertEqual({'avx', 'avx2', 'aes'}, set(missing))

    def test_same_named_model_source_requires_more(self):
        src = self.hm(['invtsc', 'x2apic'])
        dst = self.hm(['invtsc'])
        missing, complete, _ = host_model.compare_host_model(
            src, dst)
        self.assertEqual({'x2apic'}, set(missing))

    def test_different_named_models_are_unknown_not_equal(self):
        src = self.hm(['invtsc'], model='EPYC-Rome')
        dst = self.hm(['invtsc'], model='EPYC-Milan')
        missing, complete, note = host_model.compare_host_model(
            src, dst)
        self.assertFalse(complete)
        self.assertEqual(set(), set(missing))
        self.assertIn('EPYC-Rome', note)

    def test_expanded_source_against_named_destination_disable_list(self):
        src = self.hm(['avx', 'invtsc', 'sse'], expanded=True)
        dst = self.hm(['invtsc'], disabled=['avx'])
        missing, complete, _ = host_model.compare_host_model(
            src, dst)
        self.assertIn('avx', missing)
        self.assertFalse(complete)  # sse may or may not be in the model

    def test_unknown_disabled_list_is_not_empty(self):
        src = self.hm(['invtsc'], disabled=['avx'])
        dst = {'model': 'EPYC-Milan', 'vendor': 'AMD',
               'features': ['invtsc'], 'expanded': False}
        missing, complete, _ = host_model.compare_host_model(
            src, dst)
        self.assertFalse(complete)


class TestChooseMode(testtools.TestCase):

    def test_source_cpu_mode_decides(self):
        src = hosts.variant(hosts.xeon_9242(), cpu_mode='host-passthrough')
        self.assertEqual(HP, rules.evaluate(src, hosts.xeon_9242()).mode)

    def test_explicit_mode_wins(self):
        src = hosts.variant(hosts.xeon_9242(), cpu_mode='host-passthrough')
        self.assertEqual(CU, rules.evaluate(src, src, CU).mode)

    def test_unknown_or_none_mode_is_host_model(self):
        for value in (Unknown('no nova.conf'), 'none'):
            src = hosts.variant(hosts.xeon_9242(), cpu_mode=value)
            self.assertEqual(HM, rules.evaluate(src, src).mode)

    def test_custom_uses_source_cpu_models(self):
        src = hosts.variant(hosts.xeon_9242(), cpu_mode='custom',
                            cpu_models=['Cascadelake-Server'])
        v = rules.evaluate(src, hosts.xeon_4214r())
        self.assertEqual(['usable_models'], v.factors('block'))
        self.assertIn('Cascadelake-Server', v.blocking[0].message)

    def test_bad_mode_is_refused(self):
        self.assertRaises(ValueError, rules.evaluate, hosts.xeon_9242(),
                          hosts.xeon_9242(), 'maximum')


class TestSimilarity(testtools.TestCase):

    def test_identical_fully_known_host_is_one(self):
        self.assertEqual(1.0, rules.similarity(hosts.xeon_9242(),
                                               hosts.xeon_9242()))

    def test_unknown_factor_lowers_self_similarity(self):
        # No DMI on the nested host: firmware is unknown, never equal.
        score = rules.similarity(hosts.milan_l1(), hosts.milan_l1())
        self.assertLess(score, 1.0)
        self.assertGreater(score, 0.5)

    def test_closer_hosts_score_higher(self):
        src = hosts.xeon_9242()
        same_cpu_new_microcode = rules.similarity(src, new_microcode(src))
        tsx_off = rules.similarity(src, tsx_off_9242())
        other_cpu = rules.similarity(src, hosts.xeon_6148())
        other_vendor = rules.similarity(src, hosts.epyc_7713())
        self.assertGreater(1.0, same_cpu_new_microcode)
        self.assertGreater(same_cpu_new_microcode, tsx_off)
        self.assertGreater(tsx_off, other_cpu)
        self.assertGreaterEqual(other_cpu, other_vendor)
        self.assertLessEqual(0.0, other_vendor)

    def test_empty_profiles_score_zero(self):
        from migcompat_filter.profile import Profile
        self.assertEqual(0.0, rules.similarity(Profile(), Profile()))

    def test_per_host_fields_do_not_count(self):
        # A twin read through its digest group has no TSC frequency (per
        # host); it scores what the host scores against itself, 1.0 here.
        src = hosts.xeon_9242()
        self.assertIn('frequency', src['tsc'])
        twin = Profile(dict(src.factors, tsc={
            k: v for k, v in src['tsc'].items() if k != 'frequency'}))
        self.assertEqual(1.0, rules.similarity(src, twin))
        recalibrated = Profile(dict(src.factors, tsc=dict(
            src['tsc'], frequency=src['tsc']['frequency'] + 1000)))
        self.assertEqual(1.0, rules.similarity(src, recalibrated))
        self.assertLess(rules.similarity(src, Profile(dict(
            src.factors, tsc=dict(src['tsc'], scaling=not src['tsc'].get(
                'scaling'))))), 1.0)


class TestNestedVirt(testtools.TestCase):

    def test_a_nested_destination_warns_and_blocks_when_strict(self):
        # A bare-metal source, the same host nested under KVM: a
        # host-passthrough guest should not move (warns; strict blocks).
        src = hosts.xeon_9242()
        dst = Profile(dict(src.factors, nested_virt=dict(
            src['nested_virt'], nested=True, hypervisor='KVM')))
        verdict = rules.evaluate(src, dst, 'host-passthrough')
        self.assertTrue(verdict.compatible)
        self.assertEqual(['nested_virt'], verdict.factors('warn'))
        strict = rules.evaluate(src, dst, 'host-passthrough',
                                Policy(strict=True))
        self.assertEqual(['nested_virt'], strict.factors('block'))


class TestVendor(testtools.TestCase):

    def test_vendor_case_does_not_matter(self):
        # libvirt says "Intel", /proc/cpuinfo "GenuineIntel" is mapped to
        # it; a hand-written or older snapshot may say "intel".
        src = hosts.xeon_9242()
        lower = {}
        for factor in ('cpu_model', 'host_model'):
            lower[factor] = dict(src[factor],
                                 vendor=src[factor]['vendor'].lower())
        dst = Profile(dict(src.factors, **lower))
        verdict = rules.evaluate(src, dst, 'host-model')
        self.assertNotIn('CPU vendor differs',
                         ' '.join(f.message for f in verdict.findings))
        other = hosts.epyc_7713()
        self.assertIn('CPU vendor differs', ' '.join(
            f.message for f in rules.evaluate(src, other,
                                              'host-model').findings))


class TestRealSnapshots(testtools.TestCase):
    """The engine on profiles read from the real snapshots in
    tests/fixtures/hosts (the host reader's output, unchanged).
    """

    def read(self, name):
        from migcompat_filter.host import reader
        from migcompat_filter.host import source as hostsource
        path = os.path.join(os.path.dirname(os.path.dirname(
            os.path.abspath(__file__))), 'fixtures', 'hosts', name)
        return reader.read_profile(hostsource.SnapshotSource(path))

    def test_nested_host_with_itself_in_every_mode(self):
        host = self.read('epyc-milan-nested-l1')
        for mode in (HM, HP, CU):
            verdict = rules.evaluate(host, host, mode,
                                     cpu_models=['pentium3'])
            self.assertTrue(verdict.compatible, (mode, verdict.findings))
        # No DMI there: firmware is unknown, so never "identical".
        self.assertIn('firmware_version', rules.evaluate(
            host, host, HP).factors('warn'))

    def test_two_nested_hosts_with_different_tsc(self):
        # Both real L1 hosts list invtsc in their host-model CPU and cannot
        # scale TSC (2445426000 Hz and 2596138000 Hz). libvirt never gives
        # a host-model guest invtsc (not migratable), so the frequency does
        # not matter to it: this pair used to block on tsc alone.
        src = self.read('epyc-milan-nested-l1')
        dst = self.read('this-host-epyc-nested-l1-20261125')
        verdict = rules.evaluate(src, dst, HM)
        self.assertEqual([], verdict.factors('block'), verdict.findings)
        self.assertTrue(verdict.compatible)
        # A guest that does run with invtsc, pinned at the source's
        # frequency, still cannot land there.
        verdict = rules.evaluate(src, dst, HM, guest=invtsc_guest())
        self.assertEqual(['tsc'], verdict.factors('block'))
        self.assertIn('2596138000', verdict.blocking[0].message)

    def test_rome_under_older_qemu(self):
        new = self.read('libvirt-domcaps-rome-qemu-9.0.0')
        old = self.read('libvirt-domcaps-rome-qemu-8.2.0')
        verdict = rules.evaluate(new, old, HM)
        self.assertIn('qemu_version', verdict.factors('block'))
        self.assertNotIn('host_model', verdict.factors('block'))
        self.assertNotIn('qemu_version', rules.evaluate(
            old, new, HM).factors('block'))

    def test_named_models_without_expansion_are_not_equal(self):
        # Neither libvirt 9.0's CPU map, QEMU 7.2 nor migcompat's own CPU
        # model data defines EPYC-Milan-v3, so the host's features are a
        # named model plus extras; beside it, the same host as if its CPU
        # were a model nobody defines, with one extra more. The
        # passthrough comparison is unknown, which blocks by default.
        milan = self.read('libvirt-cpuid-epyc-7713-64-core-host')
        named = milan['cpu_features']
        self.assertEqual('libvirt-unexpanded', named['source'])
        other = dict(named, model='EPYC-Nobody-v9',
                     features=sorted(set(named['features']) | {'avx512f'}))
        genoa = Profile(dict(milan.factors, cpu_features=other))
        # Both directions: the extras listed beside two different models
        # say nothing about the models' own features, even where one
        # host's extras are a subset of the other's.
        for src, dst in ((genoa, milan), (milan, genoa)):
            verdict = rules.evaluate(src, dst, HP)
            self.assertIn('cpu_features', verdict.factors('block'))
            verdict = rules.evaluate(
                src, dst, HP, Policy(unknown_action={HP: 'warn'}))
            self.assertIn('cpu_features', verdict.factors('warn'))

    def test_versioned_model_expanded_blocks_whatever_the_policy(self):
        # Cascadelake-Server-v3 (the 4214R) is expanded (libvirt's map
        # for the base model, QEMU's definition of what -v3 changes), so
        # the 9242's TSX is known to be missing: a block, not an unknown.
        src = self.read('libvirt-cpuid-xeon-platinum-9242-host')
        dst = self.read('libvirt-cpuid-xeon-silver-4214r-host')
        verdict = rules.evaluate(
            src, dst, HP, Policy(unknown_action={HP: 'warn'}))
        self.assertIn('cpu_features', verdict.factors('block'))
        finding = [f for f in verdict.blocking
                   if f.factor == 'cpu_features'][0]
        self.assertIn('hle, rtm', finding.message)


class TestHostBuilders(testtools.TestCase):
    """The builders give profiles in the contract's shapes."""

    def test_profiles_use_only_schema_factors(self):
        for build in (hosts.xeon_9242, hosts.xeon_4214r, hosts.xeon_6148,
                      hosts.epyc_7713, hosts.epyc_7601, hosts.epyc_7502,
                      hosts.milan_l1):
            profile = build()
            self.assertEqual(set(), set(profile.factors) - set(FACTOR_SCHEMA),
                             build.__name__)

    def test_profiles_round_trip_through_json(self):
        for build in (hosts.xeon_9242, hosts.milan_l1):
            profile = build()
            self.assertEqual(profile, Profile.from_json(profile.to_json()))

    def test_tsx_variant_loses_only_hle_rtm(self):
        base = hosts.xeon_9242()
        off = hosts.with_tsx_off(hosts.xeon_9242())
        gone = (set(base['cpu_features']['features']) -
                set(off['cpu_features']['features']))
        self.assertEqual({'hle', 'rtm'}, gone)
        self.assertEqual('off', off['kernel_settings']['cmdline']['tsx'])


class NoRulesTest(testtools.TestCase):
    """Without any installed rule the engine refuses to judge: a verdict
    from no rule would say "compatible" for anything.
    """

    def test_no_rules_is_an_error_not_a_compatible_verdict(self):
        from migcompat_filter.rules import engine
        self.useFixture(fixtures.MonkeyPatch(
            'migcompat_filter.rules.engine._load_rules', lambda: ()))
        engine.reload_rules()
        self.addCleanup(engine.reload_rules)
        prof = hosts.milan_l1()
        self.assertRaises(engine.NoRulesInstalled, engine.evaluate,
                          prof, prof, 'host-model')


class TestHostileValues(testtools.TestCase):
    """Numeric garbage never raises or hides a
    block, and an unknown architecture or vendor blocks in every mode.
    """

    def test_number_helpers_never_raise(self):
        from migcompat_filter.rules import values
        for bad in (float('nan'), float('inf'), -float('inf'), 10 ** 400,
                    '12', True, None):
            self.assertIsInstance(values.number(bad, 'x'), Unknown, bad)
        for bad in (0, -5, 10 ** 12, 10 ** 400, float('nan')):
            self.assertIsInstance(
                values.bounded(bad, 'tsc', *values.TSC_HZ_RANGE), Unknown)
        self.assertEqual(48, values.bounded(48, 'bits', 1, 64))

    def test_garbage_tsc_never_raises_and_never_passes(self):
        host = hosts.milan_l1()
        dst = tsc(host, 2596138000, False)
        for bad in (float('nan'), float('inf'), 10 ** 400, -1, 0):
            src = tsc(host, bad, False)
            for guest in (invtsc_guest(), invtsc_guest(bad)):
                verdict = rules.evaluate(src, dst, HP, guest=guest)
                self.assertIn('tsc', verdict.factors('block')
                              + verdict.factors('warn'), (bad, verdict))
            # The Infinity tolerance (inf * ppm) used to make every
            # destination match: no verdict may call it equal.
            verdict = rules.evaluate(src, dst, HM,
                                     guest=invtsc_guest(float('inf')))
            self.assertNotEqual([], [f for f in verdict.findings
                                     if f.factor == 'tsc'])

    def test_garbage_phys_bits_never_raise(self):
        host = hosts.milan_l1()
        for bad in (float('nan'), 10 ** 400, -5, 0, 65):
            verdict = rules.evaluate(hosts.variant(host, phys_bits=bad),
                                     host, HP)
            self.assertIn('phys_bits', verdict.factors('block')
                          + verdict.factors('warn'), bad)

    def test_unknown_arch_blocks_in_every_mode(self):
        host = hosts.milan_l1()
        for mode in (HM, HP, CU):
            verdict = rules.evaluate(unknown(host, 'arch'), host, mode,
                                     cpu_models=['EPYC'])
            self.assertIn('arch', verdict.factors('block'), mode)
            self.assertFalse(verdict.compatible)

    def test_unknown_vendor_blocks_in_every_mode(self):
        host = hosts.milan_l1()
        src = hosts.edit(host, 'cpu_model', vendor=Unknown('test'))
        src = hosts.edit(src, 'host_model', vendor=Unknown('test'))
        for mode in (HM, HP, CU):
            verdict = rules.evaluate(src, host, mode, cpu_models=['EPYC'])
            self.assertIn('cpu_model', verdict.factors('block'), mode)
