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

"""host verify's pieces that need no libvirtd: reading libvirt's answers,
the guest CPUs of each source, counting, the published counts' names.
(tests/functional/test_verify.py runs them against a real libvirtd.)
"""

import os
import xml.etree.ElementTree as ET

import testtools

from migcompat_filter import exception
from migcompat_filter.fleet import verify
from migcompat_filter.host import verify as lv
from migcompat_filter.placement import verify_store
from migcompat_filter.profile import Profile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
GUESTS = os.path.join(ROOT, 'tests', 'fixtures', 'guests')


class TestLibvirtAnswers(testtools.TestCase):
    """libvirt 9.0's own error texts (seen on this project's machines)."""

    def test_missing_features(self):
        a = lv.read_error('the CPU is incompatible with host CPU: Host CPU '
                          'does not provide required features: pni, ssse3')
        self.assertEqual((lv.NO, {'pni', 'ssse3'}),
                         (a.verdict, set(a.missing)))

    def test_vendor(self):
        a = lv.read_error('the CPU is incompatible with host CPU: host CPU '
                          'vendor does not match required CPU vendor Intel')
        self.assertEqual((lv.NO, 'Intel'), (a.verdict, a.vendor))

    def test_what_this_libvirt_does_not_know_is_unchecked(self):
        for text in ('internal error: Unknown CPU model Cascadelake-'
                     'Server-v3', 'internal error: Unknown CPU feature '
                     'gds-no', "invalid argument: the machine 'pc-q35-9.0' "
                     "is not supported by emulator '/usr/bin/qemu'"):
            a = lv.read_error(text)
            self.assertEqual(lv.UNCHECKED, a.verdict, text)
            self.assertIn('not checkable here', a.detail)

    def test_other_errors_are_not_read(self):
        self.assertIsNone(lv.read_error('cannot connect to the daemon'))


class TestCases(testtools.TestCase):

    def test_live_guest_xml(self):
        with open(os.path.join(GUESTS, 'host-model-guest.live.xml')) as f:
            case, = verify.cases_from_domain(f.read(), 'g.xml')
        self.assertEqual(('host-model', 'kvm64', 'AMD', 'pc-q35-7.2'),
                         (case.mode, case.model, case.vendor, case.machine))
        self.assertIn('pni', case.disable)
        self.assertIn('x2apic', case.require)
        cpu = ET.fromstring(case.cpu_xml())
        self.assertEqual('kvm64', cpu.findtext('model'))
        self.assertEqual('disable', cpu.find(
            "feature[@name='pni']").get('policy'))

    def test_host_passthrough_guest_is_unchecked_with_reason(self):
        xml = ("<domain type='kvm'><name>g</name><uuid>"
               "6f1c0fd4-2f0e-4f7e-9d0e-1d2c3b4a5f60</uuid><os><type "
               "arch='x86_64' machine='pc-q35-7.2'>hvm</type></os>"
               "<cpu mode='host-passthrough'/></domain>")
        case, = verify.cases_from_domain(xml, 'pt.xml')
        answer = lv.LibvirtJudge(None, libvirt=object()).check(case)
        self.assertEqual(lv.UNCHECKED, answer.verdict)
        self.assertIn('host-passthrough', answer.detail)

    def test_profile_host_model_drops_non_migratable(self):
        p = Profile({'arch': 'x86_64', 'host_model': {
            'model': 'EPYC-Rome', 'vendor': 'AMD', 'expanded': True,
            'features': ['invtsc', 'sse2', 'xsaves'], 'disabled': []}})
        case, = verify.cases_from_profile(p, 'h')
        # A host-model guest never carries what libvirt cannot migrate.
        self.assertEqual({'sse2'}, set(case.require))

    def test_running_guests_class_is_exactly_their_features(self):
        p = Profile({'arch': 'x86_64', 'cpu_model': {'vendor': 'AMD'},
                     'running_guests': {
                         'modes': {'host-model': 2},
                         'host_model_features': ['fpu', 'sse2', 'x2apic'],
                         'unexpanded': []}})
        case, = verify.cases_from_profile(p, 'h')
        self.assertEqual('h (running guests)', case.source)
        cpu = ET.fromstring(case.cpu_xml())
        self.assertEqual((lv.BASE_MODEL, 'AMD'),
                         (cpu.findtext('model'), cpu.findtext('vendor')))
        # 486's own pse and vme are not theirs: disabled.
        self.assertEqual({'pse', 'vme'}, set(case.disable))
        self.assertTrue(case.expanded)

    def test_expanded_cpu_as_features_on_the_base_model(self):
        case = lv.GuestCPUCase('x', 's', 'host-model', model='EPYC-Genoa',
                               require={'fpu', 'sse2'}, expanded=True)
        cpu = ET.fromstring(case.cpu_xml(as_features=True))
        self.assertEqual(lv.BASE_MODEL, cpu.findtext('model'))
        self.assertEqual({'pse', 'vme'}, {
            f.get('name') for f in cpu.findall("feature[@policy='disable']")})

    def test_same_cpu_from_two_places_is_one_case(self):
        a = lv.GuestCPUCase('x', 'a', 'custom', model='EPYC')
        b = lv.GuestCPUCase('x', 'b', 'custom', model='EPYC')
        case, = verify.distinct([a, b])
        self.assertEqual('a, b', case.source)

    def test_bad_input_names_the_file(self):
        path = os.path.join(ROOT, 'setup.cfg')
        e = self.assertRaises(exception.InputError, verify.cases_from_path,
                              path, None)
        self.assertIn('setup.cfg', str(e))


class TestCounting(testtools.TestCase):

    def row(self, ours, theirs, ours_missing=None, missing=()):
        case = lv.GuestCPUCase('x', 's', 'host-model', model='m')
        answer = lv.Answer(theirs, 'libvirt', missing=missing)
        return verify.Row(case, ours, 'ours', answer, ours_missing)

    def test_counts(self):
        rows = [self.row(lv.YES, lv.YES), self.row(lv.NO, lv.YES),
                self.row(lv.NO, lv.UNCHECKED), self.row(lv.UNCHECKED, lv.NO)]
        self.assertEqual({'checked': 2, 'agree': 1, 'disagree': 1,
                          'unchecked': 2}, verify.counts(rows))

    def test_both_no_with_other_features_is_a_disagreement(self):
        row = self.row(lv.NO, lv.NO, frozenset({'avx'}), {'avx', 'pni'})
        self.assertFalse(row.agree)
        self.assertIn('only libvirt: pni', row.detail())
        self.assertTrue(self.row(lv.NO, lv.NO, frozenset({'pni'}),
                                 {'pni'}).agree)


class TestPublishedCounts(testtools.TestCase):

    def test_counts_come_from_the_note(self):
        class Host(object):
            note = {'verify': {'checked': 1, 'agree': 1, 'disagree': 0,
                               'unchecked': 0}}
        self.assertEqual(Host.note['verify'], verify_store.counts_of(Host))

    def test_a_malformed_note_is_no_counts(self):
        negative = {'checked': -1, 'agree': 0, 'disagree': 0,
                    'unchecked': 0}
        for value in ({'checked': 'x'}, negative, [1, 2], None):
            class Host(object):
                note = {'verify': value}
            self.assertIsNone(verify_store.counts_of(Host), value)


class TestCustomGuestThatDisablesFeatures(testtools.TestCase):
    """The rule fix ``host verify`` led to (rules/custom.py): a running
    custom guest whose XML disables the model features this host lacks
    runs here although the model itself is not usable here (libvirt said
    yes, migcompat said no).
    """

    #: libvirt 9.0's CPU map expansion of qemu64.
    QEMU64 = ('apic clflush cmov cx16 cx8 de fpu fxsr lm mca mce mmx msr '
              'mtrr nx pae pat pge pni pse pse36 sep sse sse2 svm syscall '
              'tsc').split()

    def verdict(self, xml):
        from migcompat_filter.cmd import common
        from migcompat_filter.host import domains
        from migcompat_filter.rules import engine
        from migcompat_filter.rules import guest_cpu
        host = common.load_profile(os.path.join(
            ROOT, 'tests', 'fixtures', 'hosts',
            'this-host-epyc-nested-l1-20261125'))[0]
        record = domains.parse_domain(xml, 'guest.xml')
        guest = guest_cpu.from_domain(record, lambda m: self.QEMU64)
        return engine.evaluate(host, host, guest=guest)

    def fixture(self):
        with open(os.path.join(GUESTS, 'custom-qemu64-guest.live.xml')) as f:
            return f.read()

    def test_the_running_guest_fits_its_own_host(self):
        verdict = self.verdict(self.fixture())
        self.assertEqual('custom', verdict.mode)
        self.assertNotIn('usable_models', verdict.factors())

    def test_without_the_disable_it_does_not(self):
        xml = self.fixture().replace(
            '<feature policy="disable" name="pni" />', '')
        self.assertIn('usable_models', self.verdict(xml).factors())
