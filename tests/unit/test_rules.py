"""Verdicts on real host pairs, in every guest CPU mode.

Each scenario names the source, the destination (a real host or a variant
that changes one thing), the mode and the policy, and asserts the verdict
and the factor that decides it: the blocking factors when the pair is
refused, the warning factors when it is not.
"""

import os
import re

import testtools

from migcompat_filter.conf.policy import Policy
from migcompat_filter.profile import Unknown
from migcompat_filter import rules
# Imported so that rules.factor_rules exists whatever ran first in this
# worker (the rule plugins are otherwise loaded on first evaluate()).
from migcompat_filter.rules import factor_rules  # noqa: F401
from tests.unit import test_rules_hosts as hosts

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


def unknown(profile, factor):
    return hosts.variant(profile, **{factor: Unknown('test: not read')})


# (name, source, destination, mode, policy kwargs, custom guest models,
#  compatible, blocking factors, warning factors or None to not check)
SCENARIOS = [
    # -- Intel, bare metal -------------------------------------------------
    ('9242 to itself, host-model', hosts.xeon_9242, hosts.xeon_9242, HM, {},
     None, True, [], []),
    ('9242 to itself, passthrough', hosts.xeon_9242, hosts.xeon_9242, HP,
     {}, None, True, [], []),
    ('9242 to itself, custom', hosts.xeon_9242, hosts.xeon_9242, CU, {},
     ['Cascadelake-Server'], True, [], []),
    ('9242 to 4214R (TSX gone), host-model', hosts.xeon_9242,
     hosts.xeon_4214r, HM, {}, None, False, ['host_model'], []),
    ('9242 to 4214R (TSX gone), passthrough', hosts.xeon_9242,
     hosts.xeon_4214r, HP, {}, None, False, ['cpu_features'],
     ['microcode_version']),
    ('9242 to 4214R, custom Cascadelake-Server', hosts.xeon_9242,
     hosts.xeon_4214r, CU, {}, ['Cascadelake-Server'], False,
     ['usable_models'], []),
    ('9242 to 4214R, custom IvyBridge', hosts.xeon_9242, hosts.xeon_4214r,
     CU, {}, ['IvyBridge'], True, [], []),
    ('4214R to 9242: rfds-no of newer microcode missing, host-model',
     hosts.xeon_4214r, hosts.xeon_9242, HM, {}, None, False,
     ['host_model'], []),
    ('9242 to itself with tsx=off, host-model', hosts.xeon_9242,
     tsx_off_9242, HM, {}, None, False, ['host_model'], []),
    ('9242 to itself with tsx=off, passthrough', hosts.xeon_9242,
     tsx_off_9242, HP, {}, None, False, ['cpu_features'],
     ['kernel_settings']),
    ('9242 with tsx=off to 9242 (TSX back on), host-model', tsx_off_9242,
     hosts.xeon_9242, HM, {}, None, True, [], []),
    ('6148 (Skylake) to 9242 (Cascade Lake), host-model', hosts.xeon_6148,
     hosts.xeon_9242, HM, {}, None, True, [], []),
    ('9242 to 6148 (older CPU), host-model', hosts.xeon_9242,
     hosts.xeon_6148, HM, {}, None, False, ['host_model'], []),
    ('6148 to 9242, passthrough: other stepping and microcode warn',
     hosts.xeon_6148, hosts.xeon_9242, HP, {}, None, True, [],
     ['cpu_model', 'microcode_version']),
    ('6148 to 9242, passthrough strict', hosts.xeon_6148, hosts.xeon_9242,
     HP, {'strict': True}, None, False, ['cpu_model', 'microcode_version'],
     []),
    ('9242 to 6148, custom Skylake-Server', hosts.xeon_9242,
     hosts.xeon_6148, CU, {}, ['Skylake-Server'], True, [], []),
    ('9242 to 6148, custom Cascadelake-Server', hosts.xeon_9242,
     hosts.xeon_6148, CU, {}, ['Cascadelake-Server'], False,
     ['usable_models'], []),
    # -- versions ------------------------------------------------------------
    ('older QEMU on destination, host-model', hosts.xeon_9242,
     lambda: older_qemu(hosts.xeon_9242()), HM, {}, None, False,
     ['qemu_version'], []),
    ('older QEMU on destination, passthrough (nova refuses too)',
     hosts.xeon_9242, lambda: older_qemu(hosts.xeon_9242()), HP, {}, None,
     False, ['qemu_version'], []),
    ('older QEMU on destination, custom', hosts.xeon_9242,
     lambda: older_qemu(hosts.xeon_9242()), CU, {}, ['IvyBridge'], False,
     ['qemu_version'], []),
    ('older libvirt and QEMU on destination, host-model',
     lambda: newer(hosts.xeon_9242()), hosts.xeon_9242, HM, {}, None,
     False, ['libvirt_version', 'qemu_version'], []),
    ('older libvirt on destination, passthrough: libvirt warns',
     lambda: newer(hosts.xeon_9242(), qemu='7.2.22'), hosts.xeon_9242, HP,
     {}, None, True, [], ['libvirt_version']),
    ('older libvirt, passthrough policy naming libvirt_version',
     lambda: newer(hosts.xeon_9242(), qemu='7.2.22'), hosts.xeon_9242, HP,
     {'passthrough_blocking_factors': ['libvirt_version']}, None, False,
     ['libvirt_version'], []),
    ('newer QEMU and libvirt on destination, host-model', hosts.xeon_9242,
     lambda: newer(hosts.xeon_9242()), HM, {}, None, True, [], []),
    ('newer QEMU and libvirt on destination, passthrough warns',
     hosts.xeon_9242, lambda: newer(hosts.xeon_9242()), HP, {}, None, True,
     [], ['libvirt_version', 'qemu_version']),
    # -- kernel, firmware, microcode, SMT ------------------------------------
    ('other kernel, host-model', hosts.xeon_9242,
     lambda: new_kernel(hosts.xeon_9242()), HM, {}, None, True, [], []),
    ('other kernel, passthrough warns', hosts.xeon_9242,
     lambda: new_kernel(hosts.xeon_9242()), HP, {}, None, True, [],
     ['kernel_version']),
    ('other kernel, passthrough strict blocks', hosts.xeon_9242,
     lambda: new_kernel(hosts.xeon_9242()), HP, {'strict': True}, None,
     False, ['kernel_version'], []),
    ('other firmware, passthrough warns', hosts.xeon_9242,
     lambda: new_firmware(hosts.xeon_9242()), HP, {}, None, True, [],
     ['firmware_version']),
    ('other firmware, host-model', hosts.xeon_9242,
     lambda: new_firmware(hosts.xeon_9242()), HM, {}, None, True, [], []),
    ('other microcode, passthrough warns', hosts.xeon_9242,
     lambda: new_microcode(hosts.xeon_9242()), HP, {}, None, True, [],
     ['microcode_version']),
    ('other microcode, passthrough policy names it', hosts.xeon_9242,
     lambda: new_microcode(hosts.xeon_9242()), HP,
     {'passthrough_blocking_factors': ['microcode_version']}, None, False,
     ['microcode_version'], []),
    ('SMT off on destination, passthrough warns', hosts.xeon_9242,
     lambda: smt_off(hosts.xeon_9242()), HP, {}, None, True, [],
     ['firmware_settings']),
    ('SMT off on destination, passthrough policy names it', hosts.xeon_9242,
     lambda: smt_off(hosts.xeon_9242()), HP,
     {'passthrough_blocking_factors': ['firmware_settings']}, None, False,
     ['firmware_settings'], []),
    ('SMT off on destination, host-model', hosts.xeon_9242,
     lambda: smt_off(hosts.xeon_9242()), HM, {}, None, True, [], []),
    # -- AMD: bare metal and nested -----------------------------------------
    ('EPYC 7713 to itself, passthrough', hosts.epyc_7713, hosts.epyc_7713,
     HP, {}, None, True, [], []),
    ('EPYC 7713 to L1 nested Milan, host-model', hosts.epyc_7713,
     hosts.milan_l1, HM, {}, None, False, ['host_model'], []),
    ('EPYC 7713 to L1 nested Milan (expanded), host-model',
     hosts.epyc_7713, lambda: hosts.milan_l1(expanded=True), HM, {}, None,
     False, ['host_model'], []),
    ('EPYC 7713 to L1 nested Milan, passthrough', hosts.epyc_7713,
     hosts.milan_l1, HP, {}, None, False, ['cpu_features'], None),
    ('EPYC 7713 to L1 nested Milan, custom EPYC-Milan', hosts.epyc_7713,
     hosts.milan_l1, CU, {}, ['EPYC-Milan'], False, ['usable_models'], []),
    ('L1 nested Milan to itself, host-model', hosts.milan_l1,
     hosts.milan_l1, HM, {}, None, True, [], []),
    ('L1 nested Milan to itself, passthrough: no DMI warns',
     hosts.milan_l1, hosts.milan_l1, HP, {}, None, True, [],
     ['firmware_version']),
    ('L1 nested Milan (expanded) to EPYC 7713, host-model',
     lambda: hosts.milan_l1(expanded=True), hosts.epyc_7713, HM, {}, None,
     True, [], []),
    ('L1 nested Milan (named model only) to EPYC 7713: unknown warns',
     hosts.milan_l1, hosts.epyc_7713, HM, {}, None, True, [],
     ['host_model']),
    ('L1 nested Milan (named model only) to EPYC 7713, strict',
     hosts.milan_l1, hosts.epyc_7713, HM, {'strict': True}, None, False,
     ['host_model'], None),
    ('L1 nested Milan to EPYC 7713, custom EPYC-Milan', hosts.milan_l1,
     hosts.epyc_7713, CU, {}, ['EPYC-Milan'], True, [], []),
    ('EPYC 7601 after IBPB microcode to before, host-model',
     lambda: hosts.epyc_7601(ibpb=True), hosts.epyc_7601, HM, {}, None,
     False, ['host_model'], []),
    # The Rome dump lists SVM features (avic, vgif, ...) the Milan dump
    # lacks: newer CPU, fewer features reported - features decide.
    ('EPYC 7502 (Rome) to 7713 (Milan), host-model', hosts.epyc_7502,
     hosts.epyc_7713, HM, {}, None, False, ['host_model'], []),
    ('EPYC 7713 (Milan) to 7502 (Rome), host-model', hosts.epyc_7713,
     hosts.epyc_7502, HM, {}, None, False, ['host_model'], []),
    ('Intel 9242 to AMD 7713, host-model', hosts.xeon_9242, hosts.epyc_7713,
     HM, {}, None, False, ['cpu_model', 'host_model'], None),
    ('Intel 9242 to AMD 7713, passthrough', hosts.xeon_9242,
     hosts.epyc_7713, HP, {}, None, False, ['cpu_features', 'cpu_model'],
     None),
    # -- TSC (the guest has invtsc) ------------------------------------------
    ('TSC differs, destination cannot scale', hosts.epyc_7713,
     lambda: tsc(hosts.epyc_7713(), 2200000000, False), HM, {}, None,
     False, ['tsc'], []),
    ('TSC differs, destination scales', hosts.epyc_7713,
     lambda: tsc(hosts.epyc_7713(), 2200000000, True), HM, {}, None,
     True, [], []),
    ('TSC within 250 ppm, no scaling', hosts.epyc_7713,
     lambda: tsc(hosts.epyc_7713(), 2445426000 + 500000, False), HM, {},
     None, True, [], []),
    ('TSC off by 300 ppm, policy tolerance 400 ppm', hosts.epyc_7713,
     lambda: tsc(hosts.epyc_7713(), 2445426000 + 733000, False), HM,
     {'tsc_tolerance_ppm': 400}, None, True, [], []),
    ('TSC differs, guest without invtsc',
     lambda: hosts.without_features(hosts.milan_l1(), 'invtsc'),
     lambda: tsc(hosts.milan_l1(), 2200000000, False), HM, {}, None, True,
     [], []),
    # -- machine types -----------------------------------------------------
    ('destination lacks a machine type', hosts.xeon_9242,
     lambda: hosts.variant(hosts.xeon_9242(), machine_types=[
         m for m in hosts.QEMU_7_2_MACHINES if m != 'pc-q35-7.2']), HM, {},
     None, True, [], ['machine_types']),
    ('destination lacks a machine type, strict', hosts.xeon_9242,
     lambda: hosts.variant(hosts.xeon_9242(), machine_types=[
         m for m in hosts.QEMU_7_2_MACHINES if m != 'pc-q35-7.2']), HM,
     {'strict': True}, None, False, ['machine_types'], []),
    # -- phys bits -----------------------------------------------------------
    ('fewer phys bits on destination, passthrough', hosts.epyc_7713,
     lambda: hosts.variant(hosts.epyc_7713(), phys_bits=46), HP, {}, None,
     False, ['phys_bits'], []),
    # -- unknown factors -----------------------------------------------------
    ('unknown destination host-model CPU, host-model warns',
     hosts.xeon_9242, lambda: unknown(hosts.xeon_9242(), 'host_model'), HM,
     {}, None, True, [], ['host_model']),
    ('unknown destination host-model CPU, policy blocks', hosts.xeon_9242,
     lambda: unknown(hosts.xeon_9242(), 'host_model'), HM,
     {'unknown_action': {HM: 'block'}}, None, False, ['host_model'], []),
    ('unknown destination CPU features, passthrough blocks',
     hosts.xeon_9242, lambda: unknown(hosts.xeon_9242(), 'cpu_features'),
     HP, {}, None, False, ['cpu_features'], []),
    ('unknown destination CPU features, passthrough policy warns',
     hosts.xeon_9242, lambda: unknown(hosts.xeon_9242(), 'cpu_features'),
     HP, {'unknown_action': {HP: 'warn'}}, None, True, [],
     ['cpu_features']),
    ('unknown destination QEMU version, host-model blocks',
     hosts.xeon_9242, lambda: unknown(hosts.xeon_9242(), 'qemu_version'),
     HM, {}, None, False, ['qemu_version'], []),
    ('unknown destination QEMU version, policy warns', hosts.xeon_9242,
     lambda: unknown(hosts.xeon_9242(), 'qemu_version'), HM,
     {'unknown_version_action': 'warn'}, None, True, [], ['qemu_version']),
    ('unknown destination usable models, custom warns', hosts.xeon_9242,
     lambda: unknown(hosts.xeon_9242(), 'usable_models'), CU, {},
     ['IvyBridge'], True, [], ['usable_models']),
    ('unknown destination microcode, passthrough warns', hosts.xeon_9242,
     lambda: unknown(hosts.xeon_9242(), 'microcode_version'), HP, {}, None,
     True, [], ['microcode_version']),
    ('CPU features from cpuinfo vs libvirt, one missing, passthrough blocks',
     hosts.xeon_9242,
     lambda: hosts.without_features(
         hosts.edit(hosts.xeon_9242(), 'cpu_features', source='cpuinfo'),
         'vmx'), HP, {}, None, False, ['cpu_features'], []),
    ('CPU features from cpuinfo vs libvirt, one missing, policy warns',
     hosts.xeon_9242,
     lambda: hosts.without_features(
         hosts.edit(hosts.xeon_9242(), 'cpu_features', source='cpuinfo'),
         'vmx'), HP, {'unknown_action': {HP: 'warn'}}, None, True, [],
     ['cpu_features']),
    ('Intel to AMD, custom model usable on both: the vendor still moves',
     hosts.xeon_9242,
     lambda: hosts.variant(hosts.epyc_7713(), usable_models=sorted(
         set(hosts.epyc_7713()['usable_models']) | {'IvyBridge'})),
     CU, {}, ['IvyBridge'], False, ['cpu_model'], None),
    ('different architecture', hosts.xeon_9242,
     lambda: hosts.variant(hosts.xeon_9242(), arch='aarch64'), HM, {},
     None, False, ['arch'], None),
]


class TestScenarios(testtools.TestCase):
    """Every scenario: the verdict and the factor that decides it.

    One test method per scenario (test_scenario_NN_<name>), added below.
    """

    def check(self, name, src, dst, mode, policy, models, compatible,
              blocking, warning):
        verdict = rules.evaluate(src(), dst(), mode, Policy(**policy),
                                 cpu_models=models)
        self.assertEqual(mode, verdict.mode, name)
        self.assertEqual(compatible, verdict.compatible,
                         '%s: %r' % (name, verdict.findings))
        self.assertEqual(sorted(blocking), verdict.factors('block'),
                         '%s: %r' % (name, verdict.findings))
        if warning is not None:
            self.assertEqual(sorted(warning), verdict.factors('warn'),
                             '%s: %r' % (name, verdict.findings))

    def test_every_mode_and_both_vendors_are_covered(self):
        modes = {s[3] for s in SCENARIOS}
        self.assertEqual({HM, HP, CU}, modes)
        vendors = {s[1]()['cpu_model']['vendor'] for s in SCENARIOS}
        self.assertEqual({'Intel', 'AMD'}, vendors)


def _add_scenario_tests():
    for index, scenario in enumerate(SCENARIOS):
        slug = re.sub(r'[^a-z0-9]+', '_', scenario[0].lower()).strip('_')

        def test(self, scenario=scenario):
            self.check(*scenario)
        test.__doc__ = scenario[0]
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
        f = _one(v, 'machine_types', 'warn')
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
        v = rules.evaluate(hosts.epyc_7713(), dst, HP)
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
        missing, complete, _ = rules.factor_rules.compare_host_model(
            src, dst)
        self.assertTrue(complete)
        self.assertEqual({'avx', 'avx2', 'aes'}, set(missing))

    def test_same_named_model_source_requires_more(self):
        src = self.hm(['invtsc', 'x2apic'])
        dst = self.hm(['invtsc'])
        missing, complete, _ = rules.factor_rules.compare_host_model(
            src, dst)
        self.assertEqual({'x2apic'}, set(missing))

    def test_different_named_models_are_unknown_not_equal(self):
        src = self.hm(['invtsc'], model='EPYC-Rome')
        dst = self.hm(['invtsc'], model='EPYC-Milan')
        missing, complete, note = rules.factor_rules.compare_host_model(
            src, dst)
        self.assertFalse(complete)
        self.assertEqual(set(), set(missing))
        self.assertIn('EPYC-Rome', note)

    def test_expanded_source_against_named_destination_disable_list(self):
        src = self.hm(['avx', 'invtsc', 'sse'], expanded=True)
        dst = self.hm(['invtsc'], disabled=['avx'])
        missing, complete, _ = rules.factor_rules.compare_host_model(
            src, dst)
        self.assertIn('avx', missing)
        self.assertFalse(complete)  # sse may or may not be in the model

    def test_unknown_disabled_list_is_not_empty(self):
        src = self.hm(['invtsc'], disabled=['avx'])
        dst = {'model': 'EPYC-Milan', 'vendor': 'AMD',
               'features': ['invtsc'], 'expanded': False}
        missing, complete, _ = rules.factor_rules.compare_host_model(
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


class TestRealSnapshots(testtools.TestCase):
    """The engine on profiles read from the real snapshots in
    tests/fixtures/hosts (the host reader's output, unchanged)."""

    def read(self, name):
        from migcompat_filter import hostsource
        from migcompat_filter import reader
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
        # Both real L1 guests expose invtsc without TSC scaling, at
        # 2445426000 Hz and 2596138000 Hz.
        src = self.read('epyc-milan-nested-l1')
        dst = self.read('this-host-epyc-nested-l1-20261125')
        verdict = rules.evaluate(src, dst, HM)
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
        # Neither libvirt 9.0's CPU map nor QEMU 7.2 defines EPYC-Genoa-v2
        # or EPYC-Milan-v3, so both hosts' features are a named model plus
        # extras: the passthrough comparison is unknown, which blocks by
        # default.
        genoa = self.read('libvirt-cpuid-epyc-9334-32-core-host')
        milan = self.read('libvirt-cpuid-epyc-7713-64-core-host')
        kinds = {genoa['cpu_features']['source'],
                 milan['cpu_features']['source']}
        if kinds != {'libvirt-unexpanded'}:
            self.skipTest('this libvirt or QEMU expands %s or %s'
                          % (genoa['cpu_features']['model'],
                             milan['cpu_features']['model']))
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
