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

"""``migcompat compare`` as a user runs it: the installed console script.

Every test runs the real ``migcompat`` executable in a subprocess and
checks what a user sees: stdout, stderr (a message, never a traceback) and
the exit status (0 compatible, 1 not compatible, 2 bad input or usage).
"""

import json
import os
import subprocess

from migcompat_filter import profile as profile_mod
from tests import cli
from tests.unit import hosts

HERE = os.path.dirname(os.path.abspath(__file__))
SNAPSHOTS = os.path.join(os.path.dirname(HERE), 'fixtures', 'hosts')


class CompareCLITest(cli.CLITestBase):

    # -- verdicts ------------------------------------------------------------

    def test_compatible_pair_exits_0(self):
        src = self.profile_file('src', hosts.xeon_6148())
        dst = self.profile_file('dst', hosts.xeon_9242())
        proc, out = self.compare_json(src, dst)
        self.assertEqual(0, proc.returncode, proc.stderr)
        self.assertIs(True, out['compatible'])
        self.assertEqual('host-model', out['mode'])
        self.assertEqual([], out['findings'])
        self.assertIn('src.json', out['source'])
        self.assertIn('dst.json', out['destination'])

    def test_tsx_off_destination_exits_1_with_reason(self):
        src = self.profile_file('src', hosts.xeon_9242())
        dst = self.profile_file('dst', hosts.with_tsx_off(hosts.xeon_9242()))
        proc, out = self.compare_json(src, dst)
        self.assertEqual(1, proc.returncode, proc.stderr)
        self.assertIs(False, out['compatible'])
        first = out['findings'][0]
        self.assertEqual('block', first['severity'])
        self.assertEqual('host_model', first['factor'])
        self.assertIn('hle, rtm', first['message'])
        self.assertIn('tsx=off', first['hint'])
        for key in ('source', 'destination'):
            self.assertIn(key, first)

    def test_table_reads_verdict_then_blocks_then_warnings(self):
        src = self.profile_file('src', hosts.xeon_9242())
        dst = hosts.with_tsx_off(hosts.xeon_9242())
        dst = self.profile_file('dst', hosts.variant(
            dst, kernel_version='6.12.9-amd64'))
        proc = self.run_cli(src, dst, '--mode', 'host-passthrough')
        self.assertEqual(1, proc.returncode, proc.stderr)
        text = proc.stdout
        verdict = text.index('NOT COMPATIBLE')
        block = text.index('BLOCK cpu_features')
        warn = text.index('WARN  kernel_settings')
        self.assertLess(verdict, block)
        self.assertLess(block, warn)
        self.assertIn('WARN  kernel_version', text)
        self.assertIn('tsx=off', text)
        # Wrapped for people: no line much wider than a terminal.
        self.assertLess(max(len(line) for line in text.splitlines()), 130)

    def test_yaml_and_value_formats(self):
        src = self.profile_file('src', hosts.epyc_7713())
        dst = self.profile_file('dst', hosts.milan_l1())
        proc = self.run_cli(src, dst, '-f', 'yaml')
        self.assertEqual(1, proc.returncode, proc.stderr)
        self.assertIn('compatible: false', proc.stdout)
        self.assertIn('factor: host_model', proc.stdout)
        proc = self.run_cli(src, dst, '-f', 'value', '-c', 'compatible')
        self.assertEqual(1, proc.returncode, proc.stderr)
        self.assertEqual('False', proc.stdout.strip())

    def test_strict_turns_a_warning_into_a_block(self):
        src = self.profile_file('src', hosts.xeon_9242())
        dst = self.profile_file('dst', hosts.variant(
            hosts.xeon_9242(), microcode_version='0x5003707'))
        proc, out = self.compare_json(src, dst, '--mode', 'host-passthrough')
        self.assertEqual(0, proc.returncode, proc.stderr)
        self.assertEqual(['warn'], [f['severity'] for f in out['findings']])
        proc, out = self.compare_json(src, dst, '--mode', 'host-passthrough',
                                      '--strict')
        self.assertEqual(1, proc.returncode, proc.stderr)
        self.assertEqual('microcode_version', out['findings'][0]['factor'])

    def test_config_file_policy(self):
        src = self.profile_file('src', hosts.xeon_9242())
        dst = self.profile_file('dst', hosts.variant(
            hosts.xeon_9242(), microcode_version='0x5003707'))
        conf = self.write('migcompat.conf', '[migcompat]\n'
                          'passthrough_blocking_factors = microcode_version\n')
        proc = subprocess.run(
            cli.command() + ['--config-file', conf, 'compare', src, dst,
                             '--mode', 'host-passthrough', '-f', 'json'],
            capture_output=True, text=True, timeout=300)
        self.assertEqual(1, proc.returncode, proc.stderr)
        self.assertEqual('block',
                         json.loads(proc.stdout)['findings'][0]['severity'])
        bad = self.write('bad.conf', '[migcompat]\n'
                         'unknown_action_host_model = maybe\n')
        proc = subprocess.run(
            cli.command() + ['--config-file', bad, 'compare', src, dst],
            capture_output=True, text=True, timeout=300)
        self.assertEqual(2, proc.returncode)
        self.assertIn('unknown_action_host_model', proc.stderr)
        self.assertNotIn('Traceback', proc.stderr)

    def test_mode_defaults_to_source_cpu_mode(self):
        src = self.profile_file('src', hosts.variant(
            hosts.xeon_9242(), cpu_mode='host-passthrough'))
        dst = self.profile_file('dst', hosts.xeon_4214r())
        proc, out = self.compare_json(src, dst)
        self.assertEqual('host-passthrough', out['mode'])
        self.assertEqual(1, proc.returncode)
        self.assertEqual('cpu_features', out['findings'][0]['factor'])

    def test_custom_mode_with_cpu_models(self):
        src = self.profile_file('src', hosts.epyc_7713())
        dst = self.profile_file('dst', hosts.milan_l1())
        proc, out = self.compare_json(src, dst, '--mode', 'custom',
                                      '--cpu-model', 'EPYC-Milan')
        self.assertEqual(1, proc.returncode, proc.stderr)
        self.assertEqual('usable_models', out['findings'][0]['factor'])
        self.assertIn('EPYC-Milan', out['findings'][0]['message'])
        proc, out = self.compare_json(src, dst, '--mode', 'custom',
                                      '--cpu-model', 'pentium3')
        self.assertEqual(0, proc.returncode, proc.stderr)

    def test_trait_list_input(self):
        from migcompat_filter.traits import codec as traits
        src_profile = hosts.xeon_9242()
        dst_profile = hosts.with_tsx_off(hosts.xeon_9242())
        src = self.write('src.traits',
                         '\n'.join(traits.encode(src_profile)) + '\n')
        dst = self.profile_file('dst', dst_profile)
        proc, out = self.compare_json(src, dst)
        self.assertEqual(1, proc.returncode, proc.stderr)
        self.assertIn('trait list', out['source'])
        self.assertEqual('host_model', out['findings'][0]['factor'])
        self.assertIn('hle, rtm', out['findings'][0]['message'])

    def test_snapshot_directories(self):
        nested = os.path.join(SNAPSHOTS, 'epyc-milan-nested-l1')
        proc, out = self.compare_json(nested, nested)
        self.assertEqual(0, proc.returncode, proc.stderr)
        self.assertIs(True, out['compatible'])
        self.assertIn('snapshot', out['source'])
        # Bare-metal EPYC 7713 (host-model CPU as our profile of it) to
        # the nested host: avx, avx2, aes are gone there.
        src = self.profile_file('src', hosts.epyc_7713())
        proc, out = self.compare_json(src, nested)
        self.assertEqual(1, proc.returncode, proc.stderr)
        blocking = [f for f in out['findings'] if f['severity'] == 'block']
        self.assertEqual(['host_model'], [f['factor'] for f in blocking])
        for feature in ('avx', 'avx2', 'aes'):
            self.assertIn(' %s,' % feature, blocking[0]['message'])
        self.assertIn('virtual machine', blocking[0]['hint'])

    def test_profile_written_by_migcompat_profile(self):
        nested = os.path.join(SNAPSHOTS, 'epyc-milan-nested-l1')
        written = subprocess.run(
            cli.command() + ['profile', '--root', nested, '-f', 'json'],
            capture_output=True, text=True, timeout=300)
        self.assertEqual(0, written.returncode, written.stderr)
        path = self.write('nested.json', written.stdout)
        proc = self.run_cli(path, nested, '--mode', 'host-passthrough')
        # Compatible with itself, with warnings for what is unknown there
        # (no DMI data), which do not change the exit status.
        self.assertEqual(0, proc.returncode, proc.stderr)
        self.assertIn('COMPATIBLE (', proc.stdout)
        self.assertIn('WARN  firmware_version', proc.stdout)
        self.assertNotIn('BLOCK', proc.stdout)

    # -- bad input -----------------------------------------------------------

    def test_path_that_is_no_snapshot_profile_or_trait_list(self):
        good = self.profile_file('good', hosts.xeon_9242())
        text = self.write('notes.txt', 'hello, this is not a host\n')
        self.assert_bad_input(self.run_cli(text, good), 'notes.txt',
                              'neither a snapshot directory')
        self.assert_bad_input(self.run_cli(good, text), 'notes.txt')
        empty_dir = os.path.join(self.tmp, 'emptydir')
        os.mkdir(empty_dir)
        self.assert_bad_input(self.run_cli(empty_dir, good), 'emptydir',
                              'not a snapshot')
        self.assert_bad_input(self.run_cli(good, 'no-such-file'),
                              'no-such-file', 'does not exist')
        binary = os.path.join(self.tmp, 'blob.bin')
        with open(binary, 'wb') as f:
            f.write(b'\x00\xff\xfe' * 10)
        self.assert_bad_input(self.run_cli(binary, good), 'blob.bin')
        broken = self.write('broken.json', '{"schema_version": 1,')
        self.assert_bad_input(self.run_cli(broken, good), 'broken.json',
                              'not valid JSON')

    def test_profile_of_a_newer_schema(self):
        data = hosts.xeon_9242().to_dict()
        data['schema_version'] = profile_mod.SCHEMA_VERSION + 1
        newer = self.write('newer.json', json.dumps(data))
        good = self.profile_file('good', hosts.xeon_9242())
        self.assert_bad_input(self.run_cli(newer, good), 'newer.json',
                              'newer', 'upgrade migcompat')

    def test_mismatched_architectures(self):
        arm = self.profile_file('arm', hosts.variant(hosts.xeon_9242(),
                                                     arch='aarch64'))
        x86 = self.profile_file('x86', hosts.xeon_9242())
        self.assert_bad_input(self.run_cli(x86, arm), 'aarch64', 'x86_64',
                              'architectures')

    def test_usage_errors_exit_2(self):
        good = self.profile_file('good', hosts.xeon_9242())
        proc = self.run_cli(good)
        self.assertEqual(2, proc.returncode)
        proc = self.run_cli(good, good, '--mode', 'maximum')
        self.assertEqual(2, proc.returncode)
        self.assertIn('maximum', proc.stderr)


GUESTS = os.path.join(os.path.dirname(HERE), 'fixtures', 'guests')


class CompareGuestCLITest(cli.CLITestBase):
    """``compare SRC DST --guest DOMAIN.xml``: one running guest judged.

    The guest XML is the real live XML of a host-model guest on this
    machine (tests/fixtures/guests); the snapshots are real hosts.
    """

    MILAN = os.path.join(SNAPSHOTS, 'epyc-milan-nested-l1')
    THIS_HOST = os.path.join(SNAPSHOTS, 'this-host-epyc-nested-l1-20261125')

    def guest_xml(self, name='guest.xml', edit=None):
        with open(os.path.join(GUESTS, 'host-model-guest.live.xml')) as f:
            text = f.read()
        if edit:
            text = edit(text)
        return self.write(name, text)

    def test_host_model_guest_between_hosts_of_different_tsc(self):
        proc, out = self.compare_json(self.MILAN, self.THIS_HOST,
                                      '--guest', self.guest_xml())
        self.assertEqual(0, proc.returncode, proc.stdout + proc.stderr)
        self.assertIs(True, out['compatible'])
        self.assertEqual('host-model', out['mode'])
        self.assertEqual(['pc-q35-7.2'], out['guest']['machine_types'])
        self.assertIn('gfni', out['guest']['required'])

    def test_guest_machine_type_the_destination_lacks(self):
        src = self.profile_file('src', hosts.milan_l1())
        dst = self.profile_file('dst', hosts.variant(
            hosts.milan_l1(), machine_types=[
                m for m in hosts.QEMU_7_2_MACHINES if m != 'pc-q35-7.2']))
        proc, out = self.compare_json(src, dst, '--guest', self.guest_xml())
        self.assertEqual(1, proc.returncode, proc.stderr)
        self.assertEqual('machine_types', out['findings'][0]['factor'])
        self.assertIn('pc-q35-7.2', out['findings'][0]['message'])
        # Without --guest no guest's machine type is known: not decisive.
        proc, out = self.compare_json(src, dst)
        self.assertEqual(0, proc.returncode, proc.stderr)

    def test_invtsc_guest_pinned_and_unpinned(self):
        # The guest XML is this host's (it has gfni, which the Milan
        # snapshot's host-model lacks), so this host is the source.
        def invtsc(text):
            return text.replace(
                "<feature policy='disable' name='pni'/>",
                "<feature policy='disable' name='pni'/>\n"
                "    <feature policy='require' name='invtsc'/>")

        def pinned(text):
            return invtsc(text).replace(
                "<timer name='hpet' present='no'/>",
                "<timer name='hpet' present='no'/>\n"
                "    <timer name='tsc' frequency='2596138000'/>")
        proc, out = self.compare_json(self.THIS_HOST, self.THIS_HOST,
                                      '--guest',
                                      self.guest_xml('u.xml', invtsc))
        self.assertEqual(1, proc.returncode, proc.stderr)
        self.assertEqual('tsc', out['findings'][0]['factor'])
        self.assertIn('QEMU refuses', out['findings'][0]['message'])
        guest = self.guest_xml('p.xml', pinned)
        proc, out = self.compare_json(self.THIS_HOST, self.THIS_HOST,
                                      '--guest', guest)
        self.assertEqual(0, proc.returncode, proc.stdout)
        proc, out = self.compare_json(self.THIS_HOST, self.MILAN, '--guest',
                                      guest)
        self.assertEqual(1, proc.returncode, proc.stdout)
        tsc = [f for f in out['findings'] if f['factor'] == 'tsc']
        self.assertEqual(['block'], [f['severity'] for f in tsc])
        self.assertIn('2445426000', tsc[0]['message'])

    def test_bad_domain_xml_exits_2_naming_the_file(self):
        cases = {
            'malformed.xml': ('<domain><name>x', 'not well-formed'),
            'nocpu.xml': (None, 'no <cpu>'),
            'unknown-model.xml': (None, 'Frobnicator-v9'),
            'caps.xml': ('<capabilities/>', 'not <domain>'),
        }
        with open(os.path.join(GUESTS, 'host-model-guest.live.xml')) as f:
            live = f.read()
        cpu = live[live.index('  <cpu'):live.index('</cpu>') + 7]
        texts = {'nocpu.xml': live.replace(cpu, ''),
                 'unknown-model.xml': live.replace('>kvm64<',
                                                   '>Frobnicator-v9<')}
        for name, (text, words) in cases.items():
            path = self.write(name, text or texts[name])
            self.assert_bad_input(
                self.run_cli(self.MILAN, self.THIS_HOST, '--guest', path),
                name, words)
        self.assert_bad_input(
            self.run_cli(self.MILAN, self.THIS_HOST, '--guest', 'gone.xml'),
            'gone.xml')
        arm = self.profile_file('arm', hosts.variant(hosts.milan_l1(),
                                                     arch='aarch64'))
        self.assert_bad_input(
            self.run_cli(arm, arm, '--guest', self.guest_xml()),
            'guest.xml', 'x86_64', 'aarch64')

    def test_nova_workarounds_in_nova_conf(self):
        src = self.profile_file('src', hosts.xeon_9242())
        dst = self.profile_file('dst', hosts.variant(
            hosts.xeon_9242(), qemu_version='7.2.0'))

        def run(conf_text):
            conf = self.write('nova.conf', conf_text)
            return subprocess.run(
                cli.command() + ['--config-file', conf, 'compare', src, dst,
                                 '-f', 'json'],
                capture_output=True, text=True, timeout=300)
        proc = run('[workarounds]\n')
        self.assertEqual(1, proc.returncode, proc.stderr)
        proc = run('[workarounds]\nskip_hypervisor_version_check_on_lm = '
                   'true\n')
        self.assertEqual(0, proc.returncode, proc.stderr)
        finding = json.loads(proc.stdout)['findings'][0]
        self.assertEqual(('qemu_version', 'warn'),
                         (finding['factor'], finding['severity']))
        proc = run('[workarounds]\nskip_cpu_compare_on_dest = maybe\n')
        self.assertEqual(2, proc.returncode)
        self.assertIn('skip_cpu_compare_on_dest', proc.stderr)
