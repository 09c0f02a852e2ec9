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

"""The bad-input corpus for the readers and file arguments (FIFOs
and devices, unknown/ARM architectures, numeric garbage, unbounded
reads, DTDs and repeated elements, wrong-typed profiles), run against
the real ``migcompat`` executable.

The contract every case checks: no traceback, no hang (each run has a
timeout far below a hang), bad input exits 2 naming the input and what is
wrong, and what cannot be read is an unknown factor with its reason, never
a value.
"""

import json
import os
import re
import shutil
import subprocess

import fixtures
import testtools

from tests import cli

HERE = os.path.dirname(os.path.abspath(__file__))
HOSTS = os.path.join(os.path.dirname(HERE), 'fixtures', 'hosts')
MILAN = os.path.join(HOSTS, 'epyc-milan-nested-l1')
ARM = os.path.join(HOSTS, 'neoverse-n1-aarch64')
CAPS = 'libvirt/capabilities.xml'

#: A run that takes this long is a hang (a normal run takes ~1 s).
HANG_SECONDS = 60


class BadInputBase(testtools.TestCase):

    def setUp(self):
        super(BadInputBase, self).setUp()
        self.tmp = self.useFixture(fixtures.TempDir()).path

    def run_cli(self, *args):
        try:
            proc = subprocess.run(
                cli.command() + list(args), capture_output=True, text=True,
                env=dict(os.environ, COLUMNS='160'), cwd=self.tmp,
                timeout=HANG_SECONDS, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            self.fail('migcompat %s hung (> %d s)' % (' '.join(args),
                                                      HANG_SECONDS))
        self.assertNotIn('Traceback', proc.stderr)
        self.assertNotIn('Traceback', proc.stdout)
        return proc

    def assert_bad_input(self, proc, *words):
        self.assertEqual(2, proc.returncode, proc.stdout + proc.stderr)
        self.assertEqual('', proc.stdout)
        for word in words:
            self.assertIn(word, proc.stderr)

    def snapshot(self, base=MILAN, name='s'):
        path = os.path.join(self.tmp, name)
        shutil.copytree(base, path, symlinks=True)
        return path

    def fifo(self, path):
        if os.path.lexists(path):
            os.unlink(path)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        os.mkfifo(path)
        return path

    def write(self, path, text):
        path = os.path.join(self.tmp, path)
        with open(path, 'w') as f:
            f.write(text)
        return path

    def edit(self, snap, relpath, old, new):
        path = os.path.join(snap, relpath)
        with open(path) as f:
            text = f.read()
        self.assertIn(old, text)
        with open(path, 'w') as f:
            f.write(text.replace(old, new, 1))

    def profile_json(self, root):
        proc = self.run_cli('profile', '--root', root, '-f', 'json')
        self.assertEqual(0, proc.returncode, proc.stderr)
        return json.loads(proc.stdout)

    def milan_profile(self, **changes):
        """The Milan fixture's profile JSON text with factors replaced;
        values are JSON text so that NaN and huge numbers stay verbatim.
        """
        data = self.profile_json(MILAN)
        text = json.dumps(data)
        for name, value in changes.items():
            text = re.sub(r'"%s": (\{[^{}]*\}|"[^"]*"|\d+)' % name,
                          '"%s": %s' % (name, value), text, count=1)
        return text


class FifoTest(BadInputBase):
    """A FIFO where a file is expected never blocks a reader."""

    def assert_unknown_because_fifo(self, root, factor, relpath):
        """The factor (or the part of it the file feeds) is unknown,
        saying that relpath is not a regular file.
        """
        value = self.profile_json(root)[factor]
        self.assertIn('%s: is not a regular file (a FIFO)' % relpath,
                      json.dumps(value))

    def test_fifo_cpuinfo(self):
        snap = self.snapshot()
        self.fifo(os.path.join(snap, 'proc/cpuinfo'))
        self.assert_unknown_because_fifo(snap, 'cpu_model', 'proc/cpuinfo')

    def test_fifo_capabilities(self):
        snap = self.snapshot()
        self.fifo(os.path.join(snap, CAPS))
        self.assert_unknown_because_fifo(snap, 'tsc', CAPS)

    def test_fifo_modprobe_conf(self):
        snap = self.snapshot()
        self.fifo(os.path.join(snap, 'etc/modprobe.d/x.conf'))
        self.assert_unknown_because_fifo(snap, 'kernel_settings',
                                         'etc/modprobe.d/x.conf')

    def test_fifo_nova_cpu_mode(self):
        snap = self.snapshot()
        self.fifo(os.path.join(snap, 'nova/cpu_mode'))
        self.assert_unknown_because_fifo(snap, 'cpu_mode', 'nova/cpu_mode')

    def test_fifo_as_compare_argument(self):
        path = self.fifo(os.path.join(self.tmp, 'pipe'))
        self.assert_bad_input(self.run_cli('compare', path, MILAN),
                              path, 'is not a regular file')

    def test_fifo_as_traits_profile(self):
        path = self.fifo(os.path.join(self.tmp, 'pipe'))
        self.assert_bad_input(self.run_cli('traits', '--profile', path),
                              path, 'is not a regular file')

    def test_fifo_as_guest(self):
        path = self.fifo(os.path.join(self.tmp, 'pipe.xml'))
        self.assert_bad_input(
            self.run_cli('compare', MILAN, MILAN, '--guest', path),
            path, 'is not a regular file')

    def test_device_as_traits_profile(self):
        """/dev/zero is refused at once, not read until memory runs
        out.
        """
        self.assert_bad_input(
            self.run_cli('traits', '--profile', '/dev/zero'),
            '/dev/zero', 'is not a regular file (a character device)')

    def test_oversized_profile(self):
        path = os.path.join(self.tmp, 'big.json')
        with open(path, 'wb') as f:
            f.truncate(16 * 1024 * 1024 + 1)
        self.assert_bad_input(self.run_cli('traits', '--profile', path),
                              path, 'larger than 16777216 bytes')


class ArchitectureTest(BadInputBase):
    """An architecture is read from ARM cpuinfo, and an unknown one
    blocks in every mode.
    """

    def test_arm_snapshot_without_capabilities_is_aarch64(self):
        data = self.profile_json(ARM)
        self.assertEqual('aarch64', data['arch'])
        self.assertEqual({'implementer': 0x41, 'part': 0xd0c,
                          'variant': 3, 'revision': 1, 'vendor': 'ARM',
                          'model_name': 'Neoverse-N1'},
                         {k: data['cpu_model'][k] for k in (
                             'implementer', 'part', 'variant', 'revision',
                             'vendor', 'model_name')})
        self.assertIn('asimd', data['cpu_features']['features'])

    def test_arm_against_x86_is_refused(self):
        proc = self.run_cli('compare', ARM, MILAN)
        self.assert_bad_input(proc, 'aarch64', 'x86_64',
                              'different CPU architectures')

    def test_other_arm_part_blocks(self):
        other = self.snapshot(ARM, 'v1')
        self.edit(other, 'proc/cpuinfo', 'CPU part\t: 0xd0c',
                  'CPU part\t: 0xd40')
        proc = self.run_cli('compare', ARM, other)
        self.assertEqual(1, proc.returncode, proc.stdout + proc.stderr)
        self.assertIn('the aarch64 CPUs differ', proc.stdout)

    def test_same_arm_cpu_is_compatible(self):
        proc = self.run_cli('compare', ARM, ARM)
        self.assertEqual(0, proc.returncode, proc.stdout + proc.stderr)

    def test_unknown_arch_blocks_in_host_model_mode(self):
        src = self.write('u.json', self.milan_profile(
            arch='{"unknown": true, "reason": "test: not read"}'))
        for mode in ('host-model', 'custom'):
            proc = self.run_cli('compare', src, MILAN, '--mode', mode)
            self.assertEqual(1, proc.returncode, proc.stdout + proc.stderr)
            self.assertIn('BLOCK arch', proc.stdout)


class NumbersTest(BadInputBase):
    """Numeric garbage is bad input in a profile and unknown
    (naming the file) in a snapshot; it never crashes a rule.
    """

    def test_nan_tsc_in_profile(self):
        src = self.write('nan.json', self.milan_profile(
            tsc='{"frequency": NaN, "scaling": false}'))
        self.assert_bad_input(self.run_cli('compare', src, MILAN),
                              src, 'NaN')

    def test_infinite_tsc_in_profile(self):
        for literal in ('Infinity', '1e400'):
            src = self.write('inf.json', self.milan_profile(
                tsc='{"frequency": %s, "scaling": false}' % literal))
            self.assert_bad_input(self.run_cli('compare', src, MILAN),
                                  src)

    def test_huge_tsc_in_profile(self):
        src = self.write('big.json', self.milan_profile(
            tsc='{"frequency": %s, "scaling": false}' % ('9' * 400)))
        self.assert_bad_input(self.run_cli('compare', src, MILAN),
                              src, 'factor tsc', 'out of range')

    def test_deep_json(self):
        src = self.write('deep.json', '{"a": ' * 100000 + '1' + '}' * 100000)
        self.assert_bad_input(self.run_cli('compare', src, MILAN),
                              src, 'nested too deeply')

    def assert_snapshot_unknown(self, snap, factor, *words):
        value = self.profile_json(snap)[factor]
        self.assertTrue(value.get('unknown'), value)
        for word in words:
            self.assertIn(word, value['reason'])

    def test_impossible_tsc_in_capabilities(self):
        for i, bad in enumerate(('-2596138000', '0', '99999999999999999999',
                                 '9' * 400)):
            snap = self.snapshot(name='tsc%d' % i)
            self.edit(snap, CAPS, "frequency='2445426000'",
                      "frequency='%s'" % bad)
            self.assert_snapshot_unknown(snap, 'tsc', CAPS, 'out of range')
            proc = self.run_cli('compare', snap, MILAN)
            self.assertIn(proc.returncode, (0, 1), proc.stderr)

    def test_impossible_phys_bits_in_capabilities(self):
        for i, bad in enumerate(('-5', '0', '65', '1' * 30)):
            snap = self.snapshot(name='bits%d' % i)
            self.edit(snap, CAPS, "bits='48'", "bits='%s'" % bad)
            self.assert_snapshot_unknown(snap, 'phys_bits', CAPS,
                                         'out of range')

    def test_negative_microcode_in_capabilities(self):
        snap = self.snapshot()
        path = os.path.join(snap, 'proc/cpuinfo')
        with open(path) as f:
            lines = [ln for ln in f if not ln.startswith('microcode')]
        with open(path, 'w') as f:
            f.writelines(lines)
        self.edit(snap, CAPS, "version='16777317'", "version='-5'")
        self.assert_snapshot_unknown(snap, 'microcode_version', CAPS,
                                     'out of range')


class XmlTest(BadInputBase):
    """No DTD, and no second <cpu> or <host> that silently wins."""

    def test_doctype_refused(self):
        snap = self.snapshot()
        self.edit(snap, CAPS, '<capabilities>',
                  '<!DOCTYPE capabilities SYSTEM '
                  '"http://127.0.0.1:9/evil.dtd">\n<capabilities>')
        value = self.profile_json(snap)['tsc']
        self.assertIn('refused unsafe XML', value['reason'])

    def test_second_cpu_refused(self):
        snap = self.snapshot()
        self.edit(snap, CAPS, '<cpu>',
                  '<cpu><arch>aarch64</arch></cpu>\n    <cpu>')
        data = self.profile_json(snap)
        self.assertIn('has two <cpu> elements in <host>',
                      data['tsc']['reason'])
        # Not the planted aarch64: the arch comes from /proc/cpuinfo.
        self.assertEqual('x86_64', data['arch'])

    def test_arch_contradicting_cpuinfo_is_unknown(self):
        snap = self.snapshot()
        self.edit(snap, CAPS, '<arch>x86_64</arch>', '<arch>aarch64</arch>')
        value = self.profile_json(snap)['arch']
        self.assertIn('%s says aarch64 but proc/cpuinfo is of an x86_64 '
                      'CPU' % CAPS, value['reason'])
        proc = self.run_cli('compare', snap, MILAN)
        self.assertEqual(1, proc.returncode, proc.stdout + proc.stderr)
        self.assertIn('BLOCK arch', proc.stdout)

    def test_second_host_refused(self):
        snap = self.snapshot()
        self.edit(snap, CAPS, '<host>',
                  '<host><cpu><arch>s390x</arch></cpu></host>\n  <host>')
        value = self.profile_json(snap)['tsc']
        self.assertIn('has two <host> elements', value['reason'])


class ProfileShapeTest(BadInputBase):
    """A profile value not of its factor's shape is bad input."""

    def test_wrong_shapes(self):
        for name, value, words in (
                ('host_model', '"garbage"', ('expected a mapping',)),
                ('kernel_version', '{"a": 1}', ('expected a string',)),
                ('phys_bits', '48.5', ('expected an integer',))):
            src = self.write('bad.json', self.milan_profile(**{name: value}))
            self.assert_bad_input(self.run_cli('compare', src, MILAN),
                                  src, 'factor %s' % name, *words)
            self.assert_bad_input(self.run_cli('traits', '--profile', src),
                                  src, 'factor %s' % name)

    def test_malformed_trait_in_a_trait_list(self):
        traits = self.run_cli('traits', '--root', MILAN, '-f', 'value')
        self.assertEqual(0, traits.returncode, traits.stderr)
        self.assertIn('CUSTOM_MIGCOMPAT_PHYSBITS_48', traits.stdout)
        src = self.write('t.txt', traits.stdout.replace(
            'CUSTOM_MIGCOMPAT_PHYSBITS_48', 'CUSTOM_MIGCOMPAT_PHYSBITS_XYZ'))
        self.assert_bad_input(self.run_cli('compare', src, MILAN), src,
                              'factor phys_bits',
                              'CUSTOM_MIGCOMPAT_PHYSBITS_XYZ')


class ReportProfileTest(BadInputBase):
    """FIFOs and unbounded files for ``profile publish --profile``:
    refused before Placement is asked (the URL is a closed loopback port).
    """

    def test_fifo_and_device(self):
        fifo = self.fifo(os.path.join(self.tmp, 'pipe'))
        for path, kind in ((fifo, 'a FIFO'),
                           ('/dev/zero', 'a character device')):
            proc = self.run_cli('report', '--profile', path,
                                '--placement-url', 'http://127.0.0.1:9')
            self.assert_bad_input(proc, path, 'is not a regular file (%s)'
                                  % kind)
