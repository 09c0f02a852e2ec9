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

"""Properties of the rules that must hold for every host, not just ours.

Hosts are drawn from the real profiles of tests.unit.hosts, changed at
random (features dropped or added, factors made unknown), so hypothesis
explores far more pairs than the scenario table.
"""

import copy

from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
import testtools

from migcompat_filter.cpu import map_migratable as cpu_map_migratable
from migcompat_filter.profile import Profile
from migcompat_filter.profile import Unknown
from migcompat_filter import rules
from migcompat_filter.rules import cpu as cpu_rules
from migcompat_filter.rules import engine
from migcompat_filter.rules import guests as guest_rules
from migcompat_filter.rules.policy import Policy
from migcompat_filter.rules import values
from migcompat_filter.rules import versions
from tests.unit import hosts

MODES = ('host-model', 'host-passthrough', 'custom')

BUILDERS = [hosts.xeon_9242, hosts.xeon_4214r, hosts.xeon_6148,
            hosts.epyc_7713, hosts.epyc_7601, hosts.epyc_7502,
            hosts.milan_l1, lambda: hosts.milan_l1(expanded=True),
            lambda: hosts.with_tsx_off(hosts.xeon_9242())]

ALL_FEATURES = sorted(set().union(
    *(set(b()['cpu_features']['features']) for b in BUILDERS)))

# Feature names no real host has: adding them must never hurt.
NEW_FEATURE = st.text(alphabet='abcdefghijklmnopqrstuvwxyz0123456789-_.',
                      min_size=1, max_size=20)

FAST = settings(max_examples=60, deadline=None)


@st.composite
def hosts_st(draw):
    """A real host, with a random subset of its features dropped."""
    profile = draw(st.sampled_from(BUILDERS))()
    features = sorted(profile['cpu_features']['features'])
    drop = draw(st.lists(st.sampled_from(features), max_size=8,
                         unique=True))
    if drop:
        profile = hosts.without_features(profile, *drop)
    return profile


def _custom_models(profile):
    return list(profile['usable_models'])[:2]


def with_extra_features(profile, extra):
    data = copy.deepcopy(profile.factors)
    for factor in ('host_model', 'cpu_features'):
        value = data.get(factor)
        if isinstance(value, dict) and isinstance(value.get('features'),
                                                  list):
            value['features'] = sorted(set(value['features']) | set(extra))
    return Profile(data)


# Factors each mode's rules consult (their ``reads``).
CONSULTED = {mode: sorted({f for rule in engine.rules_for(mode)
                           for f in rule.reads})
             for mode in MODES}

# Rules that do not need their own factor for every pair: TscRule judges
# only guests with invtsc, VendorRule falls back to host_model's vendor,
# MachineTypesRule decides only by the guest's own machine types (the host
# lists give an info finding at most), PhysBitsRule outside
# host-passthrough only for guests with maxphysaddr bits,
# UnjudgedGuestsRule only for a source with unreadable guest XML.
_CONDITIONAL = (cpu_rules.TscRule, cpu_rules.VendorRule,
                versions.MachineTypesRule, guest_rules.UnjudgedGuestsRule)


def _conditional(rule, mode):
    return isinstance(rule, _CONDITIONAL) or (
        isinstance(rule, cpu_rules.PhysBitsRule)
        and mode != 'host-passthrough')


# The factors whose unknown value must show in a finding of their own.
DECISIVE = {mode: sorted({rule.factor for rule in engine.rules_for(mode)
                          if not _conditional(rule, mode)})
            for mode in MODES}


# Any JSON value: what a hand-edited profile file may hold.
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(
        allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(['features', 'model', 'vendor', 'expanded',
                         'disabled', 'frequency', 'scaling', 'source',
                         'nested', 'smt', 'cmdline', 'x']), inner,
        max_size=4),
    max_leaves=12)


class TestProperties(testtools.TestCase):

    @FAST
    @given(hosts_st(), st.sampled_from(MODES), st.booleans())
    def test_a_host_is_compatible_with_itself(self, host, mode, strict):
        # The nested host has no DMI, so strict (unknown blocks) only
        # applies to hosts whose factors are all known.
        if strict and any(isinstance(v, Unknown)
                          for v in host.factors.values()):
            strict = False
        verdict = rules.evaluate(host, host, mode, Policy(strict=strict),
                                 cpu_models=_custom_models(host))
        self.assertTrue(verdict.compatible, verdict.findings)

    @FAST
    @given(hosts_st(), hosts_st(), st.lists(
        st.one_of(st.sampled_from(ALL_FEATURES), NEW_FEATURE),
        min_size=1, max_size=10))
    def test_adding_destination_features_never_breaks_host_model(
            self, src, dst, extra):
        before = rules.evaluate(src, dst, 'host-model')
        after = rules.evaluate(src, with_extra_features(dst, extra),
                               'host-model')
        if before.compatible:
            self.assertTrue(after.compatible, after.findings)
        self.assertLessEqual(set(after.factors('block')),
                             set(before.factors('block')))

    @FAST
    @given(hosts_st(), st.data())
    def test_removing_a_source_feature_from_destination_blocks(
            self, src, data):
        for mode, factor in (('host-model', 'host_model'),
                             ('host-passthrough', 'cpu_features')):
            # Not the features libvirt never migrates (invtsc, xsaves): a
            # guest never has them, so their loss does not matter.
            features = sorted(set(src[factor]['features'])
                              - cpu_map_migratable.non_migratable())
            gone = data.draw(st.sampled_from(features))
            dst = hosts.without_features(src, gone)
            verdict = rules.evaluate(src, dst, mode)
            self.assertFalse(verdict.compatible, (mode, gone))
            self.assertIn(factor, verdict.factors('block'))
            self.assertIn(
                gone, [f.message for f in verdict.blocking
                       if f.factor == factor][0])

    @FAST
    @given(hosts_st(), st.sampled_from(MODES), st.data(),
           st.sampled_from(['source', 'destination', 'both']))
    def test_unknown_is_never_reported_equal(self, host, mode, data, side):
        factor = data.draw(st.sampled_from(CONSULTED[mode]))
        if factor == 'usable_models' and side == 'source':
            # Only the destination's usable models matter to a guest.
            side = 'both'
        unknown = hosts.variant(host, **{factor: Unknown('property test')})
        src = unknown if side in ('source', 'both') else host
        dst = unknown if side in ('destination', 'both') else host
        verdict = rules.evaluate(src, dst, mode,
                                 cpu_models=_custom_models(host))
        if factor in DECISIVE[mode]:
            about = [f for f in verdict.findings if f.factor == factor]
            self.assertTrue(about, '%s unknown on %s gave no finding in %s'
                            % (factor, side, mode))
            self.assertTrue(all(f.severity in ('warn', 'block')
                                for f in about))
            self.assertTrue(any('property test' in f.message
                                for f in about))
        else:
            # Consulted for some pairs only: where it was needed its
            # reason shows, and it never makes the pair look better.
            known = rules.evaluate(host, host, mode,
                                   cpu_models=_custom_models(host))
            shown = [f for f in verdict.findings
                     if f.severity in ('warn', 'block')
                     and 'property test' in f.message]
            self.assertTrue(shown or [(f.factor, f.severity)
                                      for f in verdict.findings] ==
                            [(f.factor, f.severity)
                             for f in known.findings],
                            '%s unknown on %s in %s: %r'
                            % (factor, side, mode, verdict.findings))
            self.assertLessEqual(verdict.compatible, known.compatible)
        self.assertLess(rules.similarity(src, dst),
                        rules.similarity(host, host) + 1e-9)
        # Strictly less when it was known (the nested host has no DMI, so
        # its firmware_version is unknown already).
        if factor in rules.engine.SIMILARITY_WEIGHTS and \
                not values.contains_unknown(host[factor]):
            self.assertLess(rules.similarity(src, dst),
                            rules.similarity(host, host))

    @FAST
    @given(hosts_st(), hosts_st())
    def test_similarity_is_a_symmetric_score(self, a, b):
        score = rules.similarity(a, b)
        self.assertGreaterEqual(score, 0.0)
        self.assertLessEqual(score, 1.0)
        self.assertEqual(score, rules.similarity(b, a))

    @FAST
    @given(hosts_st(), hosts_st(), st.sampled_from(MODES))
    def test_strict_never_accepts_what_default_refuses(self, a, b, mode):
        default = rules.evaluate(a, b, mode, Policy(),
                                 cpu_models=_custom_models(a))
        strict = rules.evaluate(a, b, mode, Policy(strict=True),
                                cpu_models=_custom_models(a))
        self.assertLessEqual(set(default.factors('block')),
                             set(strict.factors('block')))

    @FAST
    @given(hosts_st(), st.sampled_from(MODES), st.data())
    def test_any_value_shape_gives_a_verdict_not_a_crash(self, host, mode,
                                                         data):
        factors = data.draw(st.lists(st.sampled_from(sorted(host.factors)),
                                     min_size=1, max_size=4, unique=True))
        broken = hosts.variant(host, **{f: data.draw(JSON) for f in factors})
        for src, dst in ((broken, host), (host, broken), (broken, broken)):
            verdict = rules.evaluate(src, dst, mode,
                                     cpu_models=['IvyBridge'])
            # What a user reads: refused exactly when a finding blocks,
            # and every finding says what it means.
            self.assertEqual(not verdict.blocking, verdict.compatible)
            self.assertTrue(all(f.message for f in verdict.findings))
            self.assertEqual(verdict.compatible,
                             verdict.to_dict()['compatible'])
            score = rules.similarity(src, dst)
            self.assertTrue(0.0 <= score <= 1.0)
