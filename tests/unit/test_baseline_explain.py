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

"""Plain-language reasons for a surprising baseline, on the real bundled
profiles (an EPYC Milan nested L1 guest, EPYC Rome and Genoa hosts) and
libvirt's own CPU map (test:///default) for the baseline itself.
"""

import testtools

from migcompat_filter.demo import pictures
from migcompat_filter.fleet import baseline
from migcompat_filter.fleet import baseline_explain
from migcompat_filter import profile as profile_mod


class Host(object):
    def __init__(self, name, profile):
        self.name = name
        self.profile = profile


class TestExplain(testtools.TestCase):

    def setUp(self):
        super(TestExplain, self).setUp()
        self.hosts = {h.name: h for h in pictures.fleet_hosts()}

    def pick(self, *names):
        return [self.hosts[n] for n in names]

    def explain(self, hosts, compute=baseline.compute):
        proposal = baseline.compute(hosts)
        return proposal, baseline_explain.explain(
            hosts, proposal.model, proposal.common, compute=compute)

    def test_nested_host_named_as_the_one_pulling_milan_down(self):
        hosts = self.pick('milan-a', 'rome-q82', 'rome-q90', 'genoa-q10')
        proposal, lines = self.explain(hosts)
        self.assertEqual('pentium3', proposal.model)
        text = '\n'.join(lines)
        self.assertIn('pentium3 is a generic, old CPU model', lines[0])
        blamed = [line for line in lines if 'pulls the baseline down' in line]
        self.assertEqual(1, len(blamed), text)
        self.assertTrue(blamed[0].startswith('milan-a '))
        self.assertIn('nested (L1) KVM guest', blamed[0])
        self.assertIn('avx', blamed[0])
        # What the others alone would get, from the real baseline.
        rest = baseline.compute(self.pick('rome-q82', 'rome-q90',
                                          'genoa-q10'))
        self.assertNotEqual('pentium3', rest.model)
        self.assertIn('Without milan-a the baseline of rome-q82, rome-q90, '
                      'genoa-q10 would be cpu_models = %s' % rest.model, text)
        self.assertIn('host-passthrough on the L0 host', text)

    def test_all_nested_fleet_says_so_and_blames_nobody(self):
        _proposal, lines = self.explain(self.pick('milan-a', 'milan-b',
                                                  'milan-c'))
        text = '\n'.join(lines)
        self.assertIn('Every host here is a nested (L1) KVM guest', text)
        self.assertIn('EPYC-Milan', text)
        self.assertIn('486, pentium, pentium2, pentium3', text)
        self.assertNotIn('pulls the baseline down', text)
        self.assertNotIn('Without', text)

    def test_nothing_to_explain_for_a_current_model(self):
        proposal, lines = self.explain(self.pick('rome-q82', 'rome-q90',
                                                 'genoa-q10'))
        self.assertFalse(baseline_explain.is_legacy(proposal.model))
        self.assertEqual([], lines)

    def test_without_compute_names_the_models_the_others_share(self):
        hosts = self.pick('milan-a', 'rome-q82', 'genoa-q10')
        proposal, lines = self.explain(hosts, compute=None)
        last = [line for line in lines if line.startswith('Without')]
        self.assertEqual(1, len(last))
        self.assertIn('EPYC', last[0])
        self.assertIn('migcompat fleet baseline rome-q82 genoa-q10', last[0])

    def test_a_failing_compute_is_a_sentence_not_an_exception(self):
        def compute(hosts):
            raise baseline.BaselineError('no common CPU: test')
        hosts = self.pick('milan-a', 'rome-q82')
        proposal = baseline.compute(hosts)
        lines = baseline_explain.explain(hosts, proposal.model,
                                         proposal.common, compute=compute)
        self.assertIn('have no baseline either: no common CPU: test',
                      lines[-2])

    def test_unknown_factors_explain_what_they_can(self):
        unknown = profile_mod.Unknown('not captured')
        bare = Host('bare', profile_mod.Profile({
            'host_model': unknown, 'usable_models': unknown,
            'nested_virt': unknown}))
        lines = baseline_explain.explain(
            [bare, self.hosts['rome-q82']], None, ())
        self.assertIn('No named CPU model is usable', lines[0])
        self.assertEqual([], baseline_explain.explain([], 'pentium3'))

    def test_legacy_models_include_their_versions(self):
        self.assertTrue(baseline_explain.is_legacy('pentium3'))
        self.assertTrue(baseline_explain.is_legacy('qemu64-v1'))
        self.assertFalse(baseline_explain.is_legacy('EPYC-IBPB'))
        self.assertFalse(baseline_explain.is_legacy(None))
