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

"""The [migcompat] policy options and their effect on verdicts."""

import os
import subprocess
import sys

import fixtures
from oslo_config import cfg
import testtools

from migcompat_filter import conf as conf_mod
from migcompat_filter.conf import policy
from migcompat_filter.factors import catalogue
from migcompat_filter.profile import Profile
from migcompat_filter.profile import Unknown
from migcompat_filter import rules
from migcompat_filter.rules.guest_cpu import GuestCPU
from migcompat_filter.rules.policy import Policy
from tests.unit import hosts


def _conf(test, text):
    path = os.path.join(test.useFixture(fixtures.TempDir()).path, 'm.conf')
    with open(path, 'w') as f:
        f.write(text)
    conf = cfg.ConfigOpts()
    conf_mod.register_opts(conf)
    conf(args=[], default_config_files=[path])
    return conf


class TestPolicyOptions(testtools.TestCase):

    def test_every_option_is_listed_and_documented(self):
        groups = dict((g.name, opts) for g, opts in conf_mod.list_opts())
        names = {o.name for o in groups['migcompat']}
        for opt in policy.policy_opts:
            self.assertIn(opt.name, names)
            self.assertGreater(len(opt.help), 80, opt.name)
        self.assertEqual({conf_mod.GROUP: policy.policy_opts},
                         policy.list_opts())

    def test_register_opts_is_idempotent(self):
        # Registered again (nova and our module both register): the
        # file's value is still what is read.
        conf = _conf(self, '[migcompat]\ntsc_tolerance_ppm = 100\n')
        conf_mod.register_opts(conf)
        conf_mod.register_opts(conf)
        self.assertEqual(100, conf.migcompat.tsc_tolerance_ppm)

    def test_every_option_has_nova_help_sections(self):
        for opt in conf_mod.list_opts()[0][1]:
            self.assertIn('\nRelated options:\n', opt.help, opt.name)
            # Choices print their own "Possible values:" in the sample.
            if not getattr(opt.type, 'choices', None):
                self.assertIn('\nPossible values:\n', opt.help, opt.name)

    def test_passthrough_help_lists_the_catalogue_factors(self):
        opt = [o for o in policy.policy_opts
               if o.name == 'passthrough_blocking_factors'][0]
        flat = ' '.join(opt.help.split())
        self.assertIn(', '.join(catalogue.passthrough_identical()), flat)

    def test_an_empty_config_decides_as_the_help_says(self):
        # No [migcompat] option set: what an operator gets out of the box.
        p = conf_mod.policy_from_conf(_conf(self, ''))
        src = hosts.xeon_9242()
        # An unknown factor warns for host-model and custom guests, and
        # blocks a host-passthrough guest.
        for factor, mode, ok in (('host_model', 'host-model', True),
                                 ('usable_models', 'custom', True),
                                 ('cpu_features', 'host-passthrough', False)):
            dst = hosts.variant(src, **{factor: Unknown('test: not read')})
            verdict = rules.evaluate(src, dst, mode, p)
            self.assertEqual(ok, verdict.compatible, mode)
            self.assertEqual([factor], verdict.factors(
                'warn' if ok else 'block'), mode)
        # Not strict: a nested destination only warns a passthrough guest.
        nested = Profile(dict(src.factors, nested_virt=dict(
            src['nested_virt'], nested=True, hypervisor='KVM')))
        verdict = rules.evaluate(src, nested, 'host-passthrough', p)
        self.assertTrue(verdict.compatible)
        self.assertEqual(['nested_virt'], verdict.factors('warn'))
        # No passthrough factor blocks: another kernel does not.
        self.assertTrue(rules.evaluate(
            src, hosts.variant(src, kernel_version='6.12.9-amd64'),
            'host-passthrough', p).compatible)
        # A pinned invariant TSC tolerates 250 ppm: ~200 passes, ~300 not.
        guest = GuestCPU(invtsc_frequencies=[2445426000], invtsc_unpinned=0)
        amd = hosts.epyc_7713()
        for off_hz, ok in ((489000, True), (733000, False)):
            dst = hosts.variant(amd, tsc={'frequency': 2445426000 + off_hz,
                                          'scaling': False})
            self.assertEqual(ok, rules.evaluate(
                amd, dst, 'host-model', p, guest=guest).compatible, off_hz)

    def test_config_file_values(self):
        conf = _conf(self, '[migcompat]\nstrict = true\n'
                     'passthrough_blocking_factors = kernel_version,'
                     'microcode_version\n'
                     'unknown_action_host_model = block\n'
                     'unknown_action_host_passthrough = warn\n'
                     'unknown_version_action = warn\n'
                     'tsc_tolerance_ppm = 100\n')
        p = conf_mod.policy_from_conf(conf)
        self.assertTrue(p.strict)
        self.assertEqual({'kernel_version', 'microcode_version'},
                         p.passthrough_blocking_factors)
        self.assertEqual('block', p.unknown_action['host-model'])
        self.assertEqual('warn', p.unknown_action['host-passthrough'])
        self.assertEqual('warn', p.unknown_version_action)
        self.assertEqual(100, p.tsc_tolerance_ppm)
        # The CLI's --strict overrides the file either way.
        self.assertFalse(conf_mod.policy_from_conf(conf, strict=False).strict)

    def test_from_conf_registers_options_when_needed(self):
        conf = cfg.ConfigOpts()
        conf(args=[], default_config_files=[])
        self.assertFalse(conf_mod.policy_from_conf(conf).strict)

    def test_nova_workarounds_are_read_where_registered(self):
        text = ('[workarounds]\nskip_hypervisor_version_check_on_lm = true\n'
                'skip_cpu_compare_on_dest = true\n')
        # Not registered (a bare ConfigOpts): the defaults, and
        # policy_from_conf does not register nova's options itself.
        conf = _conf(self, text)
        p = conf_mod.policy_from_conf(conf)
        self.assertFalse(p.skip_hypervisor_version_check)
        self.assertFalse(p.skip_cpu_compare_on_dest)
        self.assertNotIn('workarounds', conf)
        # As nova registers them (nova.conf.workarounds): followed.
        conf = cfg.ConfigOpts()
        conf.register_opts([
            cfg.BoolOpt('skip_hypervisor_version_check_on_lm',
                        default=False),
            cfg.BoolOpt('skip_cpu_compare_on_dest', default=False),
        ], group='workarounds')
        path = self.useFixture(fixtures.TempDir()).join('nova.conf')
        with open(path, 'w') as f:
            f.write(text)
        conf(args=[], default_config_files=[path])
        p = conf_mod.policy_from_conf(conf)
        self.assertTrue(p.skip_hypervisor_version_check)
        self.assertTrue(p.skip_cpu_compare_on_dest)

    def test_bad_values_are_refused(self):
        conf = _conf(self, '[migcompat]\n'
                     'passthrough_blocking_factors = cpu_flavour\n')
        self.assertRaises(ValueError, conf_mod.policy_from_conf, conf)
        conf = _conf(self, '[migcompat]\nunknown_version_action = maybe\n')
        self.assertRaises(ValueError, conf_mod.policy_from_conf, conf)
        self.assertRaises(ValueError, Policy,
                          unknown_action={'host-model': 'shrug'})

    def test_out_of_range_values_are_refused_naming_the_option(self):
        # oslo.config checks each option's bounds when it is read: a typo
        # in nova.conf is an error that names the option, its file and
        # the bound, never a value silently clamped or a negative budget.
        for name, value in (('tsc_tolerance_ppm', '-1'),
                            ('request_time_budget', '0.01'),
                            ('initial_profile_wait', '-1'),
                            ('verdict_cache_size', '-5'),
                            ('profile_refresh_interval', '-1')):
            conf = _conf(self, '[migcompat]\n%s = %s\n' % (name, value))
            e = self.assertRaises(cfg.ConfigFileValueError, getattr,
                                  conf.migcompat, name)
            self.assertIn('option %s from' % name, str(e))
            self.assertIn("m.conf') is not valid: Should be", str(e))

    def test_config_generator_lists_our_options(self):
        gen = os.path.join(os.path.dirname(sys.executable),
                           'oslo-config-generator')
        if not os.path.exists(gen):
            self.skipTest('oslo-config-generator is not installed')
        out = subprocess.run([gen, '--namespace', 'migcompat'],
                             capture_output=True, text=True, timeout=120)
        self.assertEqual(0, out.returncode, out.stderr)
        self.assertIn('[migcompat]', out.stdout)
        for opt in policy.policy_opts:
            self.assertIn('\n#%s =' % opt.name, out.stdout)


class TestPolicyDecides(testtools.TestCase):
    """The same pair, different policies, different verdicts."""

    def test_tolerance_decides_tsc(self):
        src = hosts.epyc_7713()
        dst = hosts.variant(src, tsc={'frequency': 2445426000 + 733000,
                                      'scaling': False})  # ~300 ppm
        # A guest that runs with invtsc pinned at the source's frequency.
        guest = GuestCPU(invtsc_frequencies=[2445426000], invtsc_unpinned=0)
        tight = rules.evaluate(src, dst, 'host-model',
                               Policy(tsc_tolerance_ppm=250), guest=guest)
        loose = rules.evaluate(src, dst, 'host-model',
                               Policy(tsc_tolerance_ppm=400), guest=guest)
        self.assertEqual(['tsc'], tight.factors('block'))
        self.assertTrue(loose.compatible)

    def test_named_factor_blocks_only_in_passthrough(self):
        src = hosts.xeon_9242()
        dst = hosts.variant(src, kernel_version='6.12.9-amd64')
        p = Policy(passthrough_blocking_factors=['kernel_version'])
        self.assertEqual(['kernel_version'], rules.evaluate(
            src, dst, 'host-passthrough', p).factors('block'))
        self.assertTrue(rules.evaluate(src, dst, 'host-model', p).compatible)
