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

"""The rules judge the migrating guest, not its host.

Real host profiles (tests/unit/hosts.py: libvirt's own CPU test data and
our snapshots) and real guest XML (tests/fixtures/guests); the guest side
is what nova's instance.vcpu_model, the source's running_guests factor or
one domain XML says of it.
"""

import collections
import os

import testtools

from migcompat_filter.cpu import map_migratable as cpu_map_migratable
from migcompat_filter.host import domains
from migcompat_filter import rules
from migcompat_filter.rules import guest_cpu
from migcompat_filter.rules.guest_cpu import GuestCPU
from migcompat_filter.rules.policy import Policy
from tests.unit import hosts

HM = 'host-model'
HP = 'host-passthrough'
CU = 'custom'

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(os.path.dirname(HERE), 'fixtures')

Feature = collections.namedtuple('Feature', 'name policy')
VcpuModel = collections.namedtuple('VcpuModel', 'mode model features')


def running(host_model=(), custom=(), modes=None, **fields):
    """A running_guests factor value (the interface's plain data)."""
    value = {
        'count': sum((modes or {HM: 1}).values()),
        'modes': modes or {HM: 1},
        'host_model_features': sorted(host_model),
        'custom_features': sorted(custom),
        'unexpanded': [], 'machine_types': ['pc-q35-7.2'],
        'invtsc_frequencies': [], 'invtsc_unpinned': 0, 'phys_bits': [],
        'passthrough_extra': [],
    }
    value.update(fields)
    return value


def started_on(host):
    """The CPU a host-model guest started on ``host`` carries: that host's
    host-model CPU in the migratable view (what libvirt gave it).
    """
    return set(host['host_model']['features']) - \
        cpu_map_migratable.non_migratable()


def with_guests(host, **kw):
    return hosts.variant(host, running_guests=running(**kw))


def vcpu(mode, model=None, **flags):
    return guest_cpu.from_vcpu_model(VcpuModel(
        mode, model, [Feature(n, p) for n, p in sorted(flags.items())]))


def blocking(verdict, factor):
    found = [f for f in verdict.blocking if f.factor == factor]
    if len(found) != 1:
        raise AssertionError('expected one blocking %s finding, got %r'
                             % (factor, verdict.findings))
    return found[0]


class HostModelGuestTest(testtools.TestCase):

    def test_guest_moved_to_a_newer_host_can_move_back(self):
        # A host-model guest started on the Skylake 6148 moved to the
        # Cascade Lake 9242; it still has the Skylake CPU. Judged by the
        # 9242's own host-model (avx512vnni, ...), the way back was refused.
        skylake, cascade = hosts.xeon_6148(), hosts.xeon_9242()
        self.assertFalse(rules.evaluate(cascade, skylake, HM).compatible)
        source = with_guests(cascade, host_model=started_on(skylake))
        verdict = rules.evaluate(source, skylake, HM, guest=vcpu(HM))
        self.assertTrue(verdict.compatible, verdict.findings)

    def test_guest_started_before_tsx_was_removed_is_refused(self):
        # The source was rebooted with tsx=off after its guests started:
        # its own host-model lacks hle/rtm, its guests still have them.
        source = hosts.with_tsx_off(hosts.xeon_9242())
        dest = hosts.with_tsx_off(hosts.xeon_9242())
        self.assertTrue(rules.evaluate(source, dest, HM).compatible)
        source = hosts.variant(source, running_guests=running(
            host_model=started_on(hosts.xeon_9242())))
        verdict = rules.evaluate(source, dest, HM)
        f = blocking(verdict, 'host_model')
        self.assertIn('hle, rtm', f.message)
        self.assertIn("guest's CPU", f.message)
        self.assertIn('TSX is off on the destination', f.hint)

    def test_without_guest_data_the_host_stands_in_and_says_so(self):
        verdict = rules.evaluate(hosts.xeon_9242(), hosts.xeon_4214r(), HM)
        f = blocking(verdict, 'host_model')
        self.assertIn("source host's current host-model CPU standing in",
                      f.message)

    def test_invtsc_and_xsaves_are_never_required(self):
        # libvirt's CPU map marks them migratable='no': a destination
        # without them still receives a host-model guest.
        src = hosts.xeon_9242()
        dst = hosts.without_features(src, 'invtsc', 'xsaves')
        self.assertTrue(rules.evaluate(src, dst, HM).compatible)

    def test_extra_flag_the_destination_lacks_is_refused(self):
        src, dst = hosts.xeon_6148(), hosts.with_tsx_off(hosts.xeon_6148())
        guest = vcpu(HM, rtm='require')
        f = blocking(rules.evaluate(src, dst, HM, guest=guest), 'host_model')
        self.assertIn('rtm', f.message)

    def test_union_of_a_mode_without_guests_is_not_used(self):
        # Only custom guests run there: the host-model union is empty and
        # must not stand for "requires nothing".
        source = with_guests(hosts.xeon_9242(), modes={CU: 1},
                             custom=['sse4.2'])
        verdict = rules.evaluate(source, hosts.xeon_4214r(), HM)
        self.assertIn('standing in', blocking(verdict, 'host_model').message)

    def test_skip_cpu_compare_on_dest_blocks_an_incomplete_comparison(self):
        src = hosts.milan_l1()
        dst = hosts.variant(hosts.milan_l1(), host_model=dict(
            hosts.milan_l1()['host_model'], model='EPYC-Rome'))
        default = rules.evaluate(src, dst, HM)
        self.assertEqual(['host_model'], default.factors('warn'))
        skipped = rules.evaluate(src, dst, HM,
                                 Policy(skip_cpu_compare_on_dest=True))
        f = blocking(skipped, 'host_model')
        self.assertIn('skip_cpu_compare_on_dest', f.message)


class CustomGuestTest(testtools.TestCase):

    def setUp(self):
        super(CustomGuestTest, self).setUp()
        # The source's nova.conf lists a TSX model the 4214R cannot run.
        self.src = hosts.variant(
            hosts.xeon_9242(), cpu_mode=CU,
            cpu_models=['Cascadelake-Server', 'IvyBridge'])
        self.dst = hosts.xeon_4214r()

    def test_the_guest_s_own_model_decides(self):
        verdict = rules.evaluate(self.src, self.dst,
                                 guest=vcpu(CU, 'IvyBridge'))
        self.assertEqual(CU, verdict.mode)
        self.assertTrue(verdict.compatible, verdict.findings)

    def test_unknown_model_falls_back_to_every_listed_model(self):
        verdict = rules.evaluate(self.src, self.dst, guest=vcpu(CU))
        f = blocking(verdict, 'usable_models')
        self.assertIn('Cascadelake-Server', f.message)
        self.assertIn("every model of the source's [libvirt] cpu_models",
                      f.message)

    def test_extra_flag_the_destination_lacks_is_refused(self):
        guest = vcpu(CU, 'IvyBridge', hle='require')
        f = blocking(rules.evaluate(self.src, self.dst, guest=guest),
                     'usable_models')
        self.assertIn("extra CPU flag(s): hle", f.message)

    def test_disabled_flag_needs_nothing(self):
        guest = vcpu(CU, 'IvyBridge', hle='disable', avx512vnni='require')
        verdict = rules.evaluate(self.src, self.dst, guest=guest)
        self.assertTrue(verdict.compatible, verdict.findings)


class PassthroughGuestTest(testtools.TestCase):

    def test_guest_mode_wins_over_the_host_s_cpu_mode(self):
        # The operator switched the host to host-model; the guest still
        # runs host-passthrough and is judged so (microcode differs: warn;
        # identity rules apply).
        src = hosts.variant(hosts.xeon_9242(), cpu_mode=HM)
        dst = hosts.variant(hosts.xeon_9242(), microcode_version='0x5003707')
        verdict = rules.evaluate(src, dst, guest=vcpu(HP))
        self.assertEqual(HP, verdict.mode)
        self.assertEqual(['microcode_version'], verdict.factors('warn'))
        self.assertEqual(HM, rules.evaluate(src, dst).mode)

    def test_migratable_view_on_both_sides(self):
        src = hosts.xeon_9242()
        dst = hosts.without_features(src, 'invtsc', 'xsaves')
        self.assertTrue(rules.evaluate(src, dst, HP).compatible)

    def test_nova_s_extra_flags_must_be_on_the_destination(self):
        src = hosts.with_tsx_off(hosts.xeon_9242())
        dst = hosts.with_tsx_off(hosts.xeon_9242())
        source = hosts.variant(src, running_guests=running(
            modes={HP: 1}, passthrough_extra=['hle']))
        f = blocking(rules.evaluate(source, dst, HP), 'cpu_features')
        self.assertIn('hle', f.message)


class TscTest(testtools.TestCase):

    def test_real_nested_hosts_host_model_ignore_tsc(self):
        src = hosts.milan_l1()
        dst = hosts.variant(src, tsc={'frequency': 2596138000,
                                      'scaling': False})
        self.assertTrue(rules.evaluate(src, dst, HM).compatible)

    def test_unpinned_invtsc_guest_blocks_everywhere(self):
        src = with_guests(hosts.epyc_7713(), invtsc_unpinned=2)
        for mode in (HM, HP, CU):
            verdict = rules.evaluate(src, hosts.epyc_7713(), mode,
                                     cpu_models=['EPYC'])
            f = blocking(verdict, 'tsc')
            self.assertIn('QEMU refuses', f.message)

    def test_pinned_frequency_must_match_or_scale(self):
        src = with_guests(hosts.milan_l1(), invtsc_frequencies=[2445426000])
        other = hosts.variant(src, tsc={'frequency': 2596138000,
                                        'scaling': False})
        self.assertIn('2445426000', blocking(
            rules.evaluate(src, other, HM), 'tsc').message)
        scales = hosts.variant(other, tsc={'frequency': 2596138000,
                                           'scaling': True})
        self.assertTrue(rules.evaluate(src, scales, HM).compatible)

    def test_invtsc_extra_flag_without_running_record_uses_source_tsc(self):
        src = hosts.epyc_7713()
        dst = hosts.variant(src, tsc={'frequency': 2200000000,
                                      'scaling': False})
        guest = vcpu(HP, invtsc='require')
        self.assertEqual(['tsc'], rules.evaluate(
            src, dst, guest=guest).factors('block'))


class MachineTypeAndPhysBitsTest(testtools.TestCase):

    def test_guest_machine_type_must_be_offered(self):
        src = with_guests(hosts.xeon_9242(), machine_types=['pc-q35-7.2'])
        dst = hosts.variant(hosts.xeon_9242(), machine_types=[
            m for m in hosts.QEMU_7_2_MACHINES if m != 'pc-q35-7.2'])
        f = blocking(rules.evaluate(src, dst, HM), 'machine_types')
        self.assertIn('pc-q35-7.2', f.message)
        older = with_guests(hosts.xeon_9242(), machine_types=['pc-q35-7.1'])
        self.assertTrue(rules.evaluate(older, dst, HM).compatible)

    def test_guest_phys_bits_need_a_large_enough_destination(self):
        src = with_guests(hosts.epyc_7713(), phys_bits=[40, 48])
        dst = hosts.variant(hosts.epyc_7713(), phys_bits=46)
        self.assertIn('48', blocking(rules.evaluate(src, dst, CU,
                                                    cpu_models=['EPYC']),
                                     'phys_bits').message)


class WorkaroundsTest(testtools.TestCase):

    def test_skip_hypervisor_version_check_relaxes_older_versions(self):
        src = hosts.xeon_9242()
        dst = hosts.variant(src, qemu_version='7.2.0',
                            libvirt_version='8.0.0')
        self.assertEqual(['libvirt_version', 'qemu_version'],
                         rules.evaluate(src, dst, HM).factors('block'))
        relaxed = rules.evaluate(src, dst, HM, Policy(
            skip_hypervisor_version_check=True))
        self.assertTrue(relaxed.compatible, relaxed.findings)
        self.assertEqual(['libvirt_version', 'qemu_version'],
                         relaxed.factors('warn'))
        self.assertIn('skip_hypervisor_version_check_on_lm',
                      relaxed.warnings[0].message)


class EngineGuestTest(testtools.TestCase):

    def test_the_caller_s_guest_is_not_changed(self):
        guest = vcpu(HM)
        src = with_guests(hosts.xeon_9242(), host_model=['sse'])
        rules.evaluate(src, hosts.xeon_9242(), guest=guest)
        self.assertIsNone(guest.required)

    def test_key_differs_when_the_guest_differs(self):
        self.assertEqual(vcpu(CU, 'Haswell').key(), vcpu(CU, 'Haswell').key())
        self.assertNotEqual(vcpu(CU, 'Haswell').key(),
                            vcpu(CU, 'Haswell', hle='require').key())
        self.assertNotEqual(GuestCPU().key(), GuestCPU(phys_bits=40).key())
        hash(vcpu(CU, 'Haswell', hle='require').key())


class FromDomainTest(testtools.TestCase):

    def xml(self, name):
        with open(os.path.join(FIXTURES, 'guests', name)) as f:
            return f.read()

    def read(self, name):
        return domains.parse_domain(self.xml(name), name)

    def test_live_host_model_guest_of_this_host(self):
        # kvm64 plus the listed features; a stand-in for the CPU map.
        kvm64 = {'fpu', 'de', 'pse', 'tsc', 'msr', 'pae', 'mce', 'cx8',
                 'apic', 'sep', 'mtrr', 'pge', 'mca', 'cmov', 'pat',
                 'pse36', 'clflush', 'mmx', 'fxsr', 'sse', 'sse2', 'pni',
                 'cx16', 'lm', 'syscall', 'nx'}
        g = guest_cpu.from_domain(self.read('host-model-guest.live.xml'),
                                  lambda model: kvm64)
        self.assertEqual(HM, g.mode)
        self.assertIsNone(g.model)
        self.assertTrue(g.exact)
        self.assertTrue(g.expanded)
        self.assertIn('gfni', g.required)
        self.assertNotIn('pni', g.required)  # disabled in the guest XML
        self.assertEqual({'pc-q35-7.2'}, g.machine_types)
        self.assertEqual(0, g.invtsc_unpinned)
        # exact: the source's union adds nothing to one guest's record.
        self.assertIs(g, guest_cpu.with_running(
            g, running(phys_bits=[52]), HM))

    def test_unexpandable_model_is_marked_incomplete(self):
        g = guest_cpu.from_domain(self.read('host-model-guest.live.xml'),
                                  lambda model: None)
        self.assertFalse(g.expanded)

    def test_passthrough_guest_with_migratable_off(self):
        # migratable='off': QEMU gives the guest the host's invtsc too, so
        # it cannot migrate without a pinned TSC frequency.
        text = self.xml('host-model-guest.live.xml')
        cpu = text[text.index('  <cpu'):text.index('</cpu>') + 7]
        record = domains.parse_domain(text.replace(
            cpu, "  <cpu mode='host-passthrough' migratable='off'/>\n"),
            'pt.xml')
        g = guest_cpu.from_domain(record, None)
        self.assertEqual(HP, g.mode)
        self.assertEqual(1, g.migratable_off)
        src = hosts.epyc_7713()
        f = blocking(rules.evaluate(src, src, guest=g), 'tsc')
        self.assertIn('QEMU refuses', f.message)
        pinned = domains.parse_domain(text.replace(cpu, (
            "  <cpu mode='host-passthrough' migratable='off'/>\n")).replace(
            "<timer name='hpet' present='no'/>",
            "<timer name='tsc' frequency='2445426000'/>"), 'pt.xml')
        g = guest_cpu.from_domain(pinned, None)
        self.assertTrue(rules.evaluate(src, src, guest=g).compatible)
        other = hosts.variant(src, tsc={'frequency': 2200000000,
                                        'scaling': False})
        self.assertEqual(['tsc'], rules.evaluate(
            src, other, guest=g).factors('block'))
