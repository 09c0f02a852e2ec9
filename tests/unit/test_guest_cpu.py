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

"""GuestCPU: what the rules know of the migrating guest, and from where."""

import collections

import testtools

from migcompat_filter.profile import Unknown
from migcompat_filter.rules import guest_cpu

Feature = collections.namedtuple('Feature', 'name policy')
VcpuModel = collections.namedtuple('VcpuModel', 'mode model features')

RUNNING = {
    'count': 3,
    'modes': {'host-model': 2, 'custom': 1},
    'host_model_features': ['avx2', 'hle', 'rtm', 'sse4.2'],
    'custom_features': ['sse4.2'],
    'unexpanded': [],
    'machine_types': ['pc-q35-7.2'],
    'invtsc_frequencies': [],
    'invtsc_unpinned': 0,
    'phys_bits': [40, 43],
}


class FromVcpuModelTest(testtools.TestCase):

    def test_custom_guest_keeps_its_model_and_flag_policies(self):
        g = guest_cpu.from_vcpu_model(VcpuModel(
            'custom', 'Cascadelake-Server-noTSX',
            [Feature('avx512-vnni', 'require'), Feature('mpx', 'disable')]))
        self.assertEqual('custom', g.mode)
        self.assertEqual('Cascadelake-Server-noTSX', g.model)
        self.assertEqual({'avx512-vnni'}, g.given())
        self.assertEqual({'mpx'}, g.taken())
        self.assertIsNone(g.required)  # nova does not know the expansion

    def test_host_model_guest_has_no_model(self):
        g = guest_cpu.from_vcpu_model(VcpuModel('host-model', None, []))
        self.assertEqual('host-model', g.mode)
        self.assertIsNone(g.model)

    def test_unknown_or_missing_mode_is_none(self):
        self.assertIsNone(guest_cpu.from_vcpu_model(None))
        g = guest_cpu.from_vcpu_model(VcpuModel('maximum', None, []))
        self.assertIsNone(g.mode)
        self.assertEqual('', g.mode_origin)


class WithRunningTest(testtools.TestCase):

    def test_the_union_of_the_guest_mode_stands_in(self):
        g = guest_cpu.from_vcpu_model(VcpuModel('host-model', None, []))
        g = guest_cpu.with_running(g, RUNNING, 'host-model')
        self.assertEqual({'avx2', 'hle', 'rtm', 'sse4.2'}, g.required)
        self.assertTrue(g.expanded)
        self.assertEqual({'pc-q35-7.2'}, g.machine_types)
        self.assertEqual(43, g.phys_bits)
        self.assertEqual(0, g.invtsc_unpinned)
        self.assertIn('running guests', g.origin)

    def test_no_guest_of_that_mode_leaves_the_features_unknown(self):
        g = guest_cpu.with_running(None, RUNNING, 'host-passthrough')
        self.assertIsNone(g.required)
        self.assertEqual({'pc-q35-7.2'}, g.machine_types)

    def test_an_unexpanded_model_marks_the_union_incomplete(self):
        running = dict(RUNNING, unexpanded=['EPYC-Genoa-v2'])
        g = guest_cpu.with_running(None, running, 'host-model')
        self.assertFalse(g.expanded)

    def test_unknown_running_record_changes_nothing(self):
        g = guest_cpu.from_vcpu_model(VcpuModel('custom', 'Haswell', []))
        self.assertIs(g, guest_cpu.with_running(g, Unknown('old'), 'custom'))
        self.assertIsNone(g.required)
        self.assertIsNone(g.machine_types)

    def test_the_guest_given_is_completed_as_a_copy(self):
        g = guest_cpu.from_vcpu_model(VcpuModel('host-model', None, []))
        done = guest_cpu.with_running(g, RUNNING, 'host-model')
        self.assertIsNot(g, done)
        self.assertIsNone(g.required)
        self.assertNotEqual(g.key(), done.key())

    def test_passthrough_extra_only_for_passthrough_guests(self):
        running = dict(RUNNING, passthrough_extra=['pcid'])
        g = guest_cpu.with_running(None, running, 'host-passthrough')
        self.assertEqual({'pcid'}, g.passthrough_extra)
        self.assertEqual({'pcid'}, g.extra())
        g = guest_cpu.with_running(None, running, 'host-model')
        self.assertIsNone(g.passthrough_extra)
