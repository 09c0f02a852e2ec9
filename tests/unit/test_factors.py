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

"""Factor readers against real-host fixtures and broken snapshots."""

import os
import shutil
import tempfile

import fixtures
import testtools

from migcompat_filter.factors import base
from migcompat_filter.factors import kernel
from migcompat_filter.host import reader
from migcompat_filter.host import source as hostsource
from migcompat_filter import profile as profile_mod

HOSTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..',
                     'fixtures', 'hosts')


def fixture(name):
    return os.path.join(HOSTS, name)


def read_file(*parts):
    with open(os.path.join(*parts), 'rb') as f:
        return f.read().decode('utf-8')


def _usable(root):
    """Usable named models, read independently of the factor code."""
    import xml.etree.ElementTree as ET
    doc = ET.parse(os.path.join(root, 'libvirt/domcapabilities.xml'))
    return sorted({m.text for m in doc.iterfind(
        "cpu/mode[@name='custom']/model[@usable='yes']")})


def profile_of(path, names=None):
    return reader.read_profile(hostsource.SnapshotSource(path), names)


def reason(value):
    assert profile_mod.is_unknown(value), 'expected unknown, got %r' % (
        value,)
    return value.reason


class SnapshotDir(testtools.TestCase):
    """A scratch snapshot directory built file by file."""

    def setUp(self):
        super(SnapshotDir, self).setUp()
        self.root = tempfile.mkdtemp(prefix='migcompat-test-')
        self.addCleanup(shutil.rmtree, self.root, True)

    def put(self, relpath, data):
        full = os.path.join(self.root, relpath)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, 'wb') as f:
            f.write(data if isinstance(data, bytes) else data.encode())
        return full

    def copy_from(self, name, *relpaths):
        for relpath in relpaths:
            with open(os.path.join(fixture(name), relpath), 'rb') as f:
                self.put(relpath, f.read())

    def profile(self, names=None):
        return profile_of(self.root, names)


class TestNestedMilanFixture(testtools.TestCase):
    """The L1 nested AMD EPYC-Milan host (real snapshot)."""

    def setUp(self):
        super(TestNestedMilanFixture, self).setUp()
        self.root = fixture('epyc-milan-nested-l1')
        self.p = profile_of(self.root)

    def test_cpu_model_from_cpuinfo(self):
        cpu = self.p['cpu_model']
        self.assertEqual('AMD', cpu['vendor'])
        self.assertEqual((25, 1, 1),
                         (cpu['family'], cpu['model'], cpu['stepping']))
        self.assertEqual('AMD EPYC', cpu['model_name'])

    def test_versions_as_the_host_shows_them(self):
        self.assertEqual('0x1000065', self.p['microcode_version'])
        self.assertEqual('7.2.22', self.p['qemu_version'])
        self.assertEqual('9.0.0', self.p['libvirt_version'])
        self.assertEqual(
            read_file(self.root, 'proc/sys/kernel/osrelease').strip(),
            self.p['kernel_version'])

    def test_nested_host(self):
        nested = self.p['nested_virt']
        self.assertIs(True, nested['nested'])
        self.assertIn('DMI', reason(nested['hypervisor']))
        self.assertIn('parameters/nested', reason(nested['nested_enabled']))

    def test_no_dmi_firmware_unknown(self):
        self.assertIn('sys/class/dmi/id/bios_version',
                      reason(self.p['firmware_version']))

    def test_host_model_expanded_with_nested_features_disabled(self):
        hm = self.p['host_model']
        self.assertEqual('EPYC-Milan', hm['model'])
        self.assertIs(True, hm['expanded'])
        for name in ('avx', 'avx2', 'aes'):
            self.assertIn(name, hm['disabled'])
            self.assertNotIn(name, hm['features'])
        # From the CPU map's EPYC-Milan, not listed in the dump itself.
        self.assertIn('sse2', hm['features'])
        self.assertEqual(sorted(hm['features']), hm['features'])

    def test_cpu_features_from_cpuinfo_in_libvirt_spelling(self):
        feats = self.p['cpu_features']
        self.assertEqual('cpuinfo', feats['source'])
        self.assertIn('sse4.1', feats['features'])
        self.assertIn('avx2', feats['features'])
        self.assertNotIn('sse4_1', feats['features'])
        self.assertNotIn('rep_good', feats['features'])

    def test_kernel_settings_and_mode(self):
        ks = self.p['kernel_settings']
        self.assertEqual('auto,no_guest_host,no_guest_guest',
                         ks['cmdline']['mitigations'])
        self.assertNotIn('console', ks['cmdline'])
        self.assertIn('etc/modprobe.d', reason(ks['modprobe']))
        self.assertEqual('host-model', self.p['cpu_mode'])
        self.assertEqual(48, self.p['phys_bits'])
        self.assertEqual({'frequency': 2445426000, 'scaling': False},
                         self.p['tsc'])
        self.assertIn('pc-q35-7.2', self.p['machine_types'])

    def test_every_schema_factor_reported(self):
        for name in profile_mod.FACTOR_SCHEMA:
            self.assertIn(name, self.p)


class TestThisHostFixture(testtools.TestCase):
    """Our own capture (migcompat snapshot) of the development machine."""

    def test_expanded_domcapabilities_used_as_is(self):
        root = fixture('this-host-epyc-nested-l1-20261125')
        p = profile_of(root)
        hm = p['host_model']
        self.assertIs(True, hm['expanded'])
        self.assertIn("expanded='yes'",
                      read_file(root, 'libvirt/domcapabilities.xml')
                      .replace('"', "'"))
        self.assertIn('fpu', hm['features'])
        mp = p['kernel_settings']['module_parameters']
        self.assertEqual(
            read_file(root, 'sys/module/kvm/parameters/tdp_mmu').strip(),
            mp['kvm']['tdp_mmu'])
        self.assertEqual({}, p['kernel_settings']['modprobe'])
        vuln = p['kernel_settings']['vulnerabilities']
        self.assertEqual(
            read_file(root, 'sys/devices/system/cpu/vulnerabilities/'
                            'meltdown').strip(), vuln['meltdown'])


class TestLibvirtOnlyFixtures(testtools.TestCase):
    """Hosts known only by libvirt dumps: Intel and AMD, TSX on and off."""

    def test_tsx_on_cascadelake_expanded_by_cpu_map(self):
        p = profile_of(fixture('libvirt-cpuid-xeon-platinum-9242-host'))
        feats = p['cpu_features']
        self.assertEqual('libvirt', feats['source'])
        self.assertIn('hle', feats['features'])
        self.assertIn('rtm', feats['features'])
        self.assertEqual('Intel', p['cpu_model']['vendor'])
        self.assertEqual((6, 85, 7), (p['cpu_model']['family'],
                                      p['cpu_model']['model'],
                                      p['cpu_model']['stepping']))

    def test_tsx_off_model_unknown_to_this_cpu_map(self):
        p = profile_of(fixture('libvirt-cpuid-xeon-silver-4214r-host'))
        feats = p['cpu_features']
        if feats['source'] == 'libvirt':  # a newer CPU map knows -v3
            self.assertNotIn('hle', feats['features'])
            return
        self.assertEqual('libvirt-unexpanded', feats['source'])
        self.assertEqual('Cascadelake-Server-v3', feats['model'])
        self.assertIn('Cascadelake-Server-v3', feats['note'])
        self.assertNotIn('hle', feats['features'])
        self.assertIn('tsx-ctrl', feats['features'])

    def test_bare_metal_zen5_full_capabilities(self):
        p = profile_of(fixture('libvirt-caps-zen5-full'))
        self.assertEqual('0xb404023', p['microcode_version'])
        self.assertEqual({'frequency': 4299979000, 'scaling': True},
                         p['tsc'])
        self.assertEqual(48, p['phys_bits'])
        self.assertEqual('AMD', p['cpu_model']['vendor'])
        self.assertEqual(26, p['cpu_model']['family'])
        self.assertIs(False, p['nested_virt']['nested'])
        self.assertEqual(2, p['firmware_settings']['threads_per_core'])
        self.assertIn('proc/sys/kernel/osrelease',
                      reason(p['kernel_version']))

    def test_unexpanded_domcapabilities_expanded_with_cpu_map(self):
        for version in ('8.2.0', '9.0.0'):
            p = profile_of(fixture('libvirt-domcaps-rome-qemu-%s' % version))
            hm = p['host_model']
            self.assertEqual(version, p['qemu_version'])
            self.assertEqual('EPYC-Rome', hm['model'])
            self.assertIs(True, hm['expanded'])
            self.assertIn('xsaves', hm['disabled'])
            self.assertNotIn('xsaves', hm['features'])
            # From the CPU map's EPYC-Rome, and from the require list.
            self.assertIn('sse2', hm['features'])
            self.assertIn('x2apic', hm['features'])
            self.assertEqual(_usable(fixture(
                'libvirt-domcaps-rome-qemu-%s' % version)),
                p['usable_models'])

    def test_libvirt_expanded_domcapabilities_detected_by_data(self):
        root = fixture('libvirt-domcaps-genoa-qemu-10.0.0-expanded')
        p = profile_of(root)
        hm = p['host_model']
        self.assertEqual('10.0.0', p['qemu_version'])
        self.assertIs(True, hm['expanded'])
        self.assertEqual('EPYC-Genoa', hm['model'])
        text = read_file(root, 'libvirt/domcapabilities.xml')
        self.assertNotIn("expanded='yes'", text)
        self.assertIn('avx512f', hm['features'])


class TestBadInput(SnapshotDir):
    """Bad snapshots: every problem is an unknown naming the file."""

    def test_missing_everything(self):
        p = self.profile()
        for name in profile_mod.FACTOR_SCHEMA:
            self.assertTrue(profile_mod.is_unknown(p[name]), name)
        self.assertIn('proc/sys/kernel/osrelease',
                      reason(p['kernel_version']))

    def test_empty_files(self):
        self.put('proc/sys/kernel/osrelease', '\n')
        self.put('proc/cpuinfo', '')
        self.put('libvirt/capabilities.xml', '')
        p = self.profile()
        self.assertEqual('proc/sys/kernel/osrelease: is empty',
                         reason(p['kernel_version']))
        self.assertIn('proc/cpuinfo: is empty', reason(p['cpu_model']))
        self.assertIn('libvirt/capabilities.xml', reason(p['tsc']))

    def test_unreadable_file(self):
        if os.geteuid() == 0:
            # root reads any mode; a directory where a file belongs is
            # unreadable as a file for everyone.
            os.makedirs(os.path.join(self.root, 'proc/sys/kernel/osrelease'))
            expected = 'is a directory'
        else:
            os.chmod(self.put('proc/sys/kernel/osrelease', '6.1\n'), 0)
            expected = 'permission denied'
        r = reason(self.profile(['kernel_version'])['kernel_version'])
        self.assertIn('proc/sys/kernel/osrelease', r)
        self.assertIn(expected, r)

    def test_malformed_xml(self):
        self.put('libvirt/capabilities.xml', '<capabilities><host><cpu>')
        self.put('libvirt/domcapabilities.xml', 'not xml at all')
        p = self.profile()
        self.assertIn('libvirt/capabilities.xml: not well-formed XML',
                      reason(p['tsc']))
        self.assertIn('libvirt/domcapabilities.xml: not well-formed XML',
                      reason(p['host_model']))

    def test_entity_bomb_refused(self):
        bomb = ('<?xml version="1.0"?>\n<!DOCTYPE lolz [\n'
                ' <!ENTITY lol "lol">\n'
                ' <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">\n'
                ' <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">\n'
                ']>\n<capabilities><host><cpu><model>&lol3;</model>'
                '</cpu></host></capabilities>\n')
        self.put('libvirt/capabilities.xml', bomb)
        r = reason(self.profile(['tsc'])['tsc'])
        self.assertIn('libvirt/capabilities.xml: refused unsafe XML', r)

    def test_symlink_outside_snapshot_refused(self):
        os.makedirs(os.path.join(self.root, 'proc'))
        os.symlink('/etc/hostname', os.path.join(self.root, 'proc/cmdline'))
        os.makedirs(os.path.join(self.root, 'proc/sys/kernel'))
        os.symlink('/proc/sys/kernel/osrelease',
                   os.path.join(self.root, 'proc/sys/kernel/osrelease'))
        p = self.profile()
        r = reason(p['kernel_version'])
        self.assertIn('link leading outside the snapshot', r)
        r = reason(p['kernel_settings'])
        self.assertIn('proc/cmdline: is a link leading outside', r)

    def test_huge_file_refused(self):
        full = self.put('proc/cpuinfo', '')
        with open(full, 'wb') as f:
            f.truncate(hostsource.MAX_FILE_BYTES + 10)
        r = reason(self.profile(['cpu_model'])['cpu_model'])
        self.assertIn('proc/cpuinfo: larger than', r)

    def test_non_utf8_and_odd_quoting_in_cmdline(self):
        self.put('proc/cmdline',
                 b'BOOT_IMAGE=/vmlinuz tsx=off "mitigations=auto,nosmt" '
                 b'clearcpuid=\xff\xfe kvm-intel.nested=1 '
                 b'spectre_v2="retpoline nosmt -- quiet\n')
        cmdline = self.profile()['kernel_settings']['cmdline']
        self.assertEqual('off', cmdline['tsx'])
        self.assertEqual('auto,nosmt', cmdline['mitigations'])
        self.assertEqual('\\xff\\xfe', cmdline['clearcpuid'])
        self.assertEqual('1', cmdline['kvm_intel.nested'])
        # The unbalanced quote runs to the end of the line, "--" included.
        self.assertEqual('retpoline nosmt -- quiet', cmdline['spectre_v2'])
        self.assertNotIn('BOOT_IMAGE', cmdline)

    def test_params_after_double_dash_go_to_init(self):
        self.put('proc/cmdline', 'nosmt -- tsx=off\n')
        cmdline = self.profile()['kernel_settings']['cmdline']
        self.assertEqual({'nosmt': True}, cmdline)

    def test_modprobe_options_and_bad_mode(self):
        self.put('etc/modprobe.d/kvm.conf',
                 '# nested for the CI\noptions kvm_intel nested=1 \\\n'
                 '  enable_apicv=N\noptions kvm-amd nested=0\n'
                 'options snd_hda power_save=1\n')
        self.put('etc/modprobe.d/notes.txt', 'options kvm ignore_msrs=1\n')
        self.put('nova/cpu_mode', 'host-modle\n')
        p = self.profile()
        self.assertEqual({'kvm_intel': {'nested': '1', 'enable_apicv': 'N'},
                          'kvm_amd': {'nested': '0'}},
                         p['kernel_settings']['modprobe'])
        self.assertIn("nova/cpu_mode: 'host-modle' is not",
                      reason(p['cpu_mode']))

    def test_cpuinfo_without_flags_falls_back_to_libvirt(self):
        self.copy_from('epyc-milan-nested-l1', 'libvirt/capabilities.xml')
        self.put('proc/cpuinfo', 'processor\t: 0\nvendor_id\t: AuthenticAMD\n'
                 'cpu family\t: 25\nmodel\t\t: 1\nstepping\t: 1\n')
        p = self.profile()
        self.assertEqual('libvirt', p['cpu_features']['source'])
        self.assertIn('sse2', p['cpu_features']['features'])
        self.assertIn('"model name"', reason(p['cpu_model']['model_name']))


class BrokenFactor(base.Factor):
    description = 'a plugin with a bug'

    def read(self, host):
        return {}['missing']


class TestReader(testtools.TestCase):

    def test_plugin_bug_is_unknown_not_a_crash(self):
        log = self.useFixture(fixtures.FakeLogger())
        source = hostsource.SnapshotSource(fixture('epyc-milan-nested-l1'))
        value = reader.read_factor(BrokenFactor(), 'broken', source)
        self.assertIn('factor broken failed: KeyError', reason(value))
        # The bug is logged with its traceback for the plugin's author.
        self.assertIn('factor broken failed on snapshot', log.output)
        self.assertIn("KeyError: 'missing'", log.output)

    def test_names_limit_and_unknown_name(self):
        p = profile_of(fixture('epyc-milan-nested-l1'),
                       ['kernel_version', 'gpu_driver'])
        self.assertEqual(['gpu_driver', 'kernel_version'],
                         sorted(p.factors))
        self.assertIn('no factor plugin named gpu_driver',
                      reason(p['gpu_driver']))

    def test_every_builtin_factor_is_a_plugin(self):
        names = [name for name, _ in reader.load_factors()]
        for name in profile_mod.FACTOR_SCHEMA:
            self.assertIn(name, names)


class TestKernelArgs(testtools.TestCase):

    def test_quoted_word_and_value(self):
        self.assertEqual([('a', 'b c'), ('d', True), ('e', 'f g')],
                         kernel.split_kernel_args('a="b c" d "e=f g"'))


class TestKernelArgsProperties(testtools.TestCase):

    def test_any_text_parses(self):
        from hypothesis import given
        from hypothesis import settings
        from hypothesis import strategies as st

        @settings(max_examples=300, deadline=None)
        @given(st.text(alphabet=st.sampled_from('ab=" -_.\t\\\xff'),
                       max_size=40))
        def check(text):
            params = kernel.parse_cmdline(text)
            self.assertIsInstance(params, dict)
        check()

    def test_unquoted_pairs_round_trip(self):
        from hypothesis import given
        from hypothesis import settings
        from hypothesis import strategies as st
        word = st.text(alphabet='abcxyz019_,.', min_size=1, max_size=8)

        @settings(max_examples=200, deadline=None)
        @given(st.lists(st.tuples(word, word), max_size=6))
        def check(pairs):
            text = ' '.join('%s=%s' % p for p in pairs)
            self.assertEqual(list(pairs), kernel.split_kernel_args(text))
        check()


class TestHostModelApproximation(SnapshotDir):
    """No domain capabilities: host-model approximated from the host CPU,
    so a TSX-on host's guests need TSX (not an unknown that lets a
    TSX-on -> tsx=off move through).
    """

    def test_tsx_on_host_cpu_approximates_host_model_with_tsx(self):
        p = profile_of(fixture('libvirt-cpuid-xeon-platinum-8268-host'))
        hm = p['host_model']
        self.assertIs(True, hm['expanded'])
        self.assertIs(True, hm['approximated'])
        self.assertIn('approximated from the host CPU', hm['note'])
        self.assertIn('libvirt/domcapabilities.xml: does not exist',
                      hm['note'])
        self.assertEqual('Intel', hm['vendor'])
        self.assertTrue({'hle', 'rtm', 'avx512f', 'hypervisor'}
                        <= set(hm['features']))
        # The migratable view: libvirt never migrates these.
        self.assertFalse({'invtsc', 'xsaves'} & set(hm['features']))
        # The same features the host CPU factor sees (plus the hypervisor
        # bit KVM guests get), less the non-migratable ones.
        self.assertEqual(
            set(p['cpu_features']['features']) - {'invtsc', 'xsaves'}
            | {'hypervisor'}, set(hm['features']))

    def test_tsx_off_host_cpu_has_no_tsx(self):
        p = profile_of(fixture('libvirt-cpuid-xeon-silver-4214r-host'))
        hm = p['host_model']
        if profile_mod.is_unknown(hm):
            # This CPU map does not know Cascadelake-Server-v3 and QEMU's
            # own definition is not libvirt's: still an unknown, saying so.
            self.assertIn('approximate', hm.reason)
            return
        self.assertIs(True, hm['approximated'])
        self.assertNotIn('hle', hm['features'])
        self.assertNotIn('rtm', hm['features'])

    def test_real_domcapabilities_are_not_approximated(self):
        p = profile_of(fixture('this-host-epyc-nested-l1-20261125'))
        self.assertNotIn('approximated', p['host_model'])

    def test_host_model_unsupported_stays_unknown(self):
        self.copy_from('this-host-epyc-nested-l1-20261125',
                       'libvirt/capabilities.xml')
        text = read_file(fixture('this-host-epyc-nested-l1-20261125'),
                         'libvirt/domcapabilities.xml')
        self.put('libvirt/domcapabilities.xml', text.replace(
            '<mode name="host-model" supported="yes"',
            '<mode name="host-model" supported="no"'))
        hm = self.profile(['host_model'])['host_model']
        self.assertIn('not supported', reason(hm))

    def test_no_host_cpu_either_says_both(self):
        self.put('proc/cpuinfo', 'processor : 0\n')
        hm = self.profile(['host_model'])['host_model']
        self.assertIn('domcapabilities.xml: does not exist', reason(hm))
        self.assertIn('no host CPU to approximate it from', reason(hm))


#: The first processor block (and POWER's trailing block) of real
#: /proc/cpuinfo files, as the kernels print them: an IBM POWER9 LPAR
#: (arch/powerpc/kernel/setup-common.c) and an IBM z15 LPAR
#: (arch/s390/kernel/processor.c).
POWER9_CPUINFO = (
    'processor\t: 0\n'
    'cpu\t\t: POWER9 (architected), altivec supported\n'
    'clock\t\t: 2750.000000MHz\n'
    'revision\t: 2.2 (pvr 004e 1202)\n\n'
    'timebase\t: 512000000\n'
    'platform\t: pSeries\n'
    'model\t\t: IBM,9009-22A\n'
    'machine\t\t: CHRP IBM,9009-22A\n')
S390_CPUINFO = (
    'vendor_id       : IBM/S390\n'
    '# processors    : 4\n'
    'bogomips per cpu: 3033.00\n'
    'max thread id   : 0\n'
    'features\t: esan3 zarch stfle msa ldisp eimm dfp edat etf3eh '
    'highgprs te vx vxd vxe gs vxe2 vxp sort dflt sie\n')


class ArchFromCpuinfoTest(SnapshotDir):
    """The architecture of a snapshot without libvirt
    dumps, from every cpuinfo format.
    """

    def arch(self, cpuinfo):
        self.put('proc/cpuinfo', cpuinfo)
        return profile_of(self.root, ['arch']).factors['arch']

    def test_power(self):
        self.assertEqual('ppc64le', self.arch(POWER9_CPUINFO))

    def test_s390(self):
        self.assertEqual('s390x', self.arch(S390_CPUINFO))

    def test_aarch64(self):
        self.assertEqual('aarch64', self.arch(read_file(
            fixture('neoverse-n1-aarch64'), 'proc', 'cpuinfo')))

    def test_arm32(self):
        self.assertEqual('armv7l', self.arch(
            'processor\t: 0\nmodel name\t: ARMv7 Processor rev 5 (v7l)\n'
            'CPU implementer\t: 0x41\nCPU architecture: 7\n'
            'CPU part\t: 0xc07\n'))

    def test_unreadable_format_is_unknown(self):
        self.assertIn('does not say the architecture',
                      reason(self.arch('processor\t: 0\nfoo\t: bar\n')))

    def test_aarch64_midr_out_of_range_is_unknown(self):
        self.put('proc/cpuinfo', 'processor\t: 0\nCPU implementer\t: '
                 '0x41\nCPU architecture: 8\nCPU part\t: 0x99999\n'
                 'Features\t: fp\n')
        value = profile_of(self.root, ['cpu_model']).factors['cpu_model']
        self.assertIn('proc/cpuinfo: "CPU part"', reason(value))


class NonRegularFileTest(SnapshotDir):
    """A FIFO or a device never blocks a reader."""

    def test_fifo_is_refused_without_blocking(self):
        os.makedirs(os.path.join(self.root, 'proc'))
        os.mkfifo(os.path.join(self.root, 'proc', 'cpuinfo'))
        source = hostsource.SnapshotSource(self.root)
        e = self.assertRaises(hostsource.SourceError, source.read_text,
                              'proc/cpuinfo')
        self.assertEqual('proc/cpuinfo: is not a regular file (a FIFO)',
                         str(e))

    def test_device_is_refused(self):
        source = hostsource.LiveSource('/')
        e = self.assertRaises(hostsource.SourceError, source.read_bytes,
                              'dev/zero')
        self.assertIn('is not a regular file (a character device)', str(e))
