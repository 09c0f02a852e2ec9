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

"""What a host's running guests need from any destination.

The guests are the real dump and the hand-written variants of
test_domains (tests/fixtures/guests, see tests/fixtures/README.rst).
"""

import json

import testtools

from migcompat_filter.cpu import map_migratable as cpu_map_migratable
from migcompat_filter import exception
from migcompat_filter.host import domains
from tests.unit.guest_xml import domain
from tests.unit.guest_xml import invtsc
from tests.unit.guest_xml import LIVE
from tests.unit.guest_xml import passthrough
from tests.unit.guest_xml import UUID


#: kvm64 in a pretend CPU map (the real one has more features).
KVM64 = {'fpu', 'sse2', 'pni', 'lm', 'syscall'}


class TestRequirements(testtools.TestCase):

    def guests(self, *texts):
        return [domains.parse_domain(t, 'g%d' % i)
                for i, t in enumerate(texts)]

    def test_host_model_guest_expanded(self):
        calls = []

        def expand(model):
            calls.append(model)
            return KVM64 if model == 'kvm64' else None

        other = LIVE.replace(UUID, UUID[:-1] + '1')
        req = domains.requirements(self.guests(LIVE, other), expand)
        self.assertEqual(['kvm64'], calls)  # once per model
        need = set(req['features']['host-model'])
        self.assertIn('fpu', need)           # from the model
        self.assertIn('gfni', need)          # listed require
        self.assertNotIn('pni', need)        # in kvm64, disabled
        self.assertNotIn('arch-capabilities', need)
        self.assertEqual([], req['unexpanded'])
        self.assertEqual({'host-model': 2}, req['modes'])
        self.assertEqual(2, req['guests'])
        self.assertEqual(['pc-q35-7.2'], req['machine_types'])
        self.assertEqual(req, json.loads(json.dumps(req)))

    def test_unknown_model_reported_not_empty(self):
        g = self.guests(domain(cpu="""<cpu mode='custom'>
            <model>Cascadelake-Server-v3</model>
            <feature policy='require' name='avx512vnni'/></cpu>"""))
        req = domains.requirements(g, lambda model: None)
        self.assertEqual(['avx512vnni'], req['features']['custom'])
        [entry] = req['unexpanded']
        self.assertEqual(('Cascadelake-Server-v3', 'custom', [UUID]),
                         (entry['model'], entry['nova_mode'],
                          entry['guests']))
        self.assertIn('does not know', entry['reason'])

    def test_expand_failure_and_no_expander(self):
        def expand(model):
            raise exception.SourceError('libvirt 9.0.0 cannot expand it')

        req = domains.requirements(self.guests(domain()), expand)
        self.assertIn('cannot expand', req['unexpanded'][0]['reason'])
        req = domains.requirements(self.guests(domain()))
        self.assertIn('no CPU map', req['unexpanded'][0]['reason'])
        self.assertEqual(['pcid', 'x2apic'], req['features']['custom'])

    def test_non_migratable_features_dropped(self):
        g = self.guests(domain(cpu="""<cpu mode='custom'><model>EPYC</model>
            <feature policy='require' name='invtsc'/>
            <feature policy='require' name='xsaves'/>
            <feature policy='require' name='avx'/></cpu>"""))
        req = domains.requirements(g, lambda m: {'sse2', 'xsaves'})
        self.assertEqual(['avx', 'sse2'], req['features']['custom'])
        self.assertEqual(['invtsc', 'xsaves'], req['non_migratable_dropped'])
        self.assertEqual(cpu_map_migratable.LIBVIRT_VERSION, req['cpu_map'])

    def test_invtsc_pinned_and_unpinned(self):
        pinned = invtsc("<clock><timer name='tsc' frequency='2445426000'/>"
                        "</clock>")
        other = UUID[:-1] + '2'
        unpinned = invtsc('<clock/>').replace(UUID, other)
        req = domains.requirements(self.guests(pinned, unpinned, LIVE))
        self.assertEqual({'guests': 2, 'frequencies': [2445426000],
                          'unpinned': [other]}, req['invtsc'])

    def test_passthrough_guests(self):
        req = domains.requirements(self.guests(
            passthrough('off'), passthrough('on').replace(UUID[-4:], 'beef')))
        self.assertEqual({'host-passthrough': 2}, req['modes'])
        self.assertEqual({}, req['features'])
        self.assertEqual([UUID], req['passthrough_migratable_off'])
        self.assertEqual([], req['passthrough_required'])

    def test_passthrough_extra_flags(self):
        # nova's cpu_model_extra_flags land on host-passthrough guests too.
        req = domains.requirements(self.guests(domain(
            cpu="""<cpu mode='host-passthrough' check='none'>
            <feature policy='require' name='pcid'/>
            <feature policy='require' name='invtsc'/>
            <feature policy='disable' name='hle'/></cpu>""")))
        self.assertEqual(['pcid'], req['passthrough_required'])
        self.assertEqual(['invtsc'], req['non_migratable_dropped'])
        self.assertEqual(1, req['invtsc']['guests'])

    def test_phys_bits_and_machine_types(self):
        req = domains.requirements(self.guests(
            domain(cpu="""<cpu mode='custom'><model>EPYC</model>
                <maxphysaddr mode='emulate' bits='42'/></cpu>""",
                   machine='pc-i440fx-7.2'),
            domain(cpu="""<cpu mode='host-passthrough'>
                <maxphysaddr mode='passthrough'/></cpu>"""), LIVE),
            lambda m: set())
        self.assertEqual([42], req['phys_bits'])
        self.assertEqual(1, req['phys_bits_passthrough'])
        self.assertEqual(['pc-i440fx-7.2', 'pc-q35-7.2'],
                         req['machine_types'])
        self.assertEqual({'custom': 1, 'host-model': 1,
                          'host-passthrough': 1}, req['modes'])

    def test_order_does_not_matter_and_empty(self):
        gs = self.guests(LIVE, domain().replace(UUID[-4:], 'cafe'),
                         passthrough('off').replace(UUID[-4:], 'f00d'))
        expand = lambda m: KVM64  # noqa: E731
        self.assertEqual(domains.requirements(gs, expand),
                         domains.requirements(gs[::-1], expand))
        req = domains.requirements([])
        self.assertEqual((0, {}, {}), (req['guests'], req['modes'],
                                       req['features']))
        self.assertEqual(cpu_map_migratable.LIBVIRT_VERSION, req['cpu_map'])
