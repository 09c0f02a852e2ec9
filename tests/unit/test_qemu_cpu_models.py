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

"""CPU models libvirt's CPU map does not know, expanded with the local QEMU.

Every test runs the real qemu-system-x86_64 (no KVM, no guest) and the
real libvirt CPU map; failures are real failures too (a missing binary, a
program that is not QEMU, one that hangs or floods its output).
"""

import json
import os
import re
import shutil
import stat
import subprocess
import sys
import time

import fixtures
import libvirt
import testtools

from migcompat_filter.cpu import map_models
from migcompat_filter.host import qemu_cpu_models as qcm
from migcompat_filter.host import reader
from migcompat_filter.host import source as hostsource
from migcompat_filter import rules
from migcompat_filter.rules.policy import Policy

HERE = os.path.dirname(os.path.abspath(__file__))
HOSTS = os.path.join(os.path.dirname(HERE), 'fixtures', 'hosts')
TSX_ON = os.path.join(HOSTS, 'libvirt-cpuid-xeon-platinum-9242-host')
TSX_OFF = os.path.join(HOSTS, 'libvirt-cpuid-xeon-silver-4214r-host')
QEMU = shutil.which('qemu-system-x86_64')
HP = 'host-passthrough'


def _migcompat():
    local = os.path.join(os.path.dirname(sys.executable), 'migcompat')
    return local if os.path.exists(local) else 'migcompat'


def _libvirt_expansion(model):
    """libvirt's own CPU-map expansion of a model (independent path)."""
    libvirt.registerErrorHandler(lambda ctx, err: None, None)
    conn = libvirt.open('test:///default')
    try:
        out = conn.baselineCPU(
            ['<cpu><arch>x86_64</arch><model>%s</model></cpu>' % model],
            libvirt.VIR_CONNECT_BASELINE_CPU_EXPAND_FEATURES)
    finally:
        conn.close()
    return set(re.findall(r"policy='require' name='([^']+)'", out))


def _xml_features(snapshot):
    with open(os.path.join(snapshot, 'libvirt', 'capabilities.xml')) as f:
        return set(re.findall(r"<feature name='([^']+)'", f.read()))


class QemuTestCase(testtools.TestCase):
    """A private cache directory and an empty in-process cache."""

    def setUp(self):
        super(QemuTestCase, self).setUp()
        if QEMU is None:
            self.skipTest('qemu-system-x86_64 is not installed')
        self.tmp = self.useFixture(fixtures.TempDir()).path
        self.cache_home = os.path.join(self.tmp, 'cache')
        self.useFixture(fixtures.EnvironmentVariable(
            'MIGCOMPAT_CACHE_DIR', os.path.join(self.cache_home,
                                                'migcompat')))
        qcm.clear_memory_cache()
        self.addCleanup(qcm.clear_memory_cache)
        self.runs = []
        real_run = qcm._run

        def counting_run(binary, stdin_bytes):
            # A spy, not a mock: QEMU really runs; we count processes.
            self.runs.append(binary)
            return real_run(binary, stdin_bytes)
        self.useFixture(fixtures.MonkeyPatch(
            'migcompat_filter.host.qemu_cpu_models._run', counting_run))

    def snapshot_with_model(self, model, base=TSX_OFF):
        """A copy of a capabilities-only snapshot naming another model."""
        root = os.path.join(self.tmp, 'snap-%s' % model)
        shutil.copytree(base, root)
        path = os.path.join(root, 'libvirt', 'capabilities.xml')
        with open(path) as f:
            text = f.read()
        with open(path, 'w') as f:
            f.write(re.sub(r'<model>[^<]*</model>',
                           '<model>%s</model>' % model, text, count=1))
        return root

    def profile(self, root):
        src = hostsource.SnapshotSource(root)
        try:
            return reader.read_profile(src)
        finally:
            src.close()


class TestQemuDefinitions(QemuTestCase):

    def test_versioned_model_is_the_version_qemu_defines(self):
        found = qcm.expand_models(['Cascadelake-Server-v2',
                                   'Cascadelake-Server-v3'], QEMU)
        version, v2 = found['Cascadelake-Server-v2']
        v3 = found['Cascadelake-Server-v3'][1]
        self.assertRegex(version, r'^\d+\.\d+\.\d+$')
        # -v3 is -v2 without TSX (QEMU: "ARCH_CAPABILITIES, no TSX").
        self.assertEqual({'hle', 'rtm'}, v2 - v3)
        self.assertEqual(set(), v3 - v2)
        self.assertIn('arch-capabilities', v3)
        self.assertEqual(1, len(self.runs))  # one process for both

    def test_names_are_libvirt_spelling_and_cpuid_only(self):
        feats = qcm.expand_model('Cascadelake-Server-v1', QEMU)[1]
        for libvirt_name in ('pclmuldq', 'lahf_lm', 'sse4.1', 'sse4.2',
                             'tsc-deadline', 'pni', 'nx', 'lm'):
            self.assertIn(libvirt_name, feats)
        for qemu_only in ('pclmulqdq', 'lahf-lm', 'sse4-1', 'sse3', 'xd',
                          'i64', 'hypervisor', 'vme'):
            self.assertNotIn(qemu_only, feats)
        self.assertEqual([], [f for f in feats
                              if f.startswith(('kvm', 'vmx-'))])
        # Same CPU as libvirt's own Cascadelake-Server, up to the few
        # features libvirt's map keeps differently (mpx, pku, vme).
        differ = feats ^ _libvirt_expansion('Cascadelake-Server')
        self.assertLessEqual(differ, {'mpx', 'pku', 'vme'})

    def test_many_models_one_process(self):
        names = ['Skylake-Server-v%d' % i for i in range(1, 6)] + [
            'EPYC-Rome-v1', 'EPYC-Milan-v1', 'Icelake-Server-v2']
        found = qcm.expand_models(names, QEMU)
        self.assertEqual(set(names), set(found))
        self.assertEqual(1, len(self.runs))
        self.assertIn('avx512f', found['Skylake-Server-v4'][1])
        self.assertNotIn('avx512f', found['EPYC-Milan-v1'][1])

    def test_unknown_model_is_a_clear_unknown(self):
        e = self.assertRaises(qcm.QemuCpuModelError, qcm.expand_model,
                              'No-Such-Model-v9', QEMU)
        self.assertIn('No-Such-Model-v9', str(e))
        self.assertIn('not found', str(e))
        self.assertIn(QEMU, str(e))

    def test_unknown_model_does_not_spoil_the_batch(self):
        found = qcm.expand_models(['No-Such-Model-v9', 'Icelake-Server-v1'],
                                  QEMU)
        self.assertIsInstance(found['No-Such-Model-v9'],
                              qcm.QemuCpuModelError)
        self.assertIn('avx512f', found['Icelake-Server-v1'][1])


class TestQemuFailures(QemuTestCase):

    def script(self, name, body):
        path = os.path.join(self.tmp, name)
        with open(path, 'w') as f:
            f.write('#!/bin/sh\n' + body + '\n')
        os.chmod(path, stat.S_IRWXU)
        return path

    def test_missing_binary(self):
        e = self.assertRaises(qcm.QemuCpuModelError, qcm.expand_model,
                              'Cascadelake-Server-v3',
                              os.path.join(self.tmp, 'no-qemu'))
        self.assertIn('no-qemu', str(e))
        self.assertIn('No such file', str(e))

    def test_binary_that_is_not_qemu(self):
        fake = self.script('not-qemu', 'echo "usage: not-qemu" >&2; exit 3')
        e = self.assertRaises(qcm.QemuCpuModelError, qcm.expand_model,
                              'Cascadelake-Server-v3', fake)
        self.assertIn('not a working QEMU', str(e))
        self.assertIn('exit status 3', str(e))
        self.assertIn('usage: not-qemu', str(e))

    def test_hanging_binary_is_stopped(self):
        self.useFixture(fixtures.MonkeyPatch(
            'migcompat_filter.host.qemu_cpu_models.TIMEOUT', 1.0))
        hang = self.script('hang', 'exec sleep 60')
        start = time.monotonic()
        e = self.assertRaises(qcm.QemuCpuModelError, qcm.expand_model,
                              'Cascadelake-Server-v3', hang)
        self.assertLess(time.monotonic() - start, 10)
        self.assertIn('did not answer within', str(e))

    def test_flooding_binary_is_refused(self):
        self.useFixture(fixtures.MonkeyPatch(
            'migcompat_filter.host.qemu_cpu_models.MAX_OUTPUT_BYTES', 100000))
        flood = self.script('flood', 'exec yes')
        e = self.assertRaises(qcm.QemuCpuModelError, qcm.expand_model,
                              'Cascadelake-Server-v3', flood)
        self.assertIn('more than 100000 bytes', str(e))

    def test_flood_never_fills_the_disk(self):
        self.useFixture(fixtures.MonkeyPatch(
            'migcompat_filter.host.qemu_cpu_models.MAX_OUTPUT_BYTES', 100000))
        flood = self.script('flood', 'yes; sleep 60')
        start = time.monotonic()
        self.assertRaises(qcm.QemuCpuModelError, qcm.expand_model,
                          'Cascadelake-Server-v3', flood)
        self.assertLess(time.monotonic() - start, 10)

    def test_failures_under_eventlet(self):
        # nova-scheduler and nova's test harness monkey-patch the
        # standard library with eventlet; a program that exits at once
        # must still give an answer, not a busy loop.
        fake = self.script('not-qemu', 'exit 3')
        code = ('import eventlet; eventlet.monkey_patch()\n'
                'from migcompat_filter.host import qemu_cpu_models as q\n'
                'try:\n'
                '    q.expand_model("Cascadelake-Server-v3", %r)\n'
                'except q.QemuCpuModelError as e:\n'
                '    print("unknown:", e)\n'
                'print(sorted(q.expand_model("Cascadelake-Server-v3", %r)'
                '[1])[:3])\n' % (fake, QEMU))
        proc = subprocess.run([sys.executable, '-c', code],
                              capture_output=True, text=True, timeout=60,
                              env=dict(os.environ, MIGCOMPAT_CACHE_DIR=(
                                  os.path.join(self.cache_home,
                                               'migcompat'))))
        self.assertEqual(0, proc.returncode, proc.stderr)
        self.assertIn('unknown: %s is not a working QEMU' % fake,
                      proc.stdout)
        self.assertIn("['3dnowprefetch', 'abm', 'adx']", proc.stdout)

    def test_no_qemu_anywhere_leaves_the_model_unexpanded(self):
        self.useFixture(fixtures.EnvironmentVariable(
            'PATH', os.path.join(self.tmp, 'empty')))
        feats = self.profile(TSX_OFF)['cpu_features']
        self.assertEqual('libvirt-unexpanded', feats['source'])
        self.assertIn('Unknown CPU model Cascadelake-Server-v3',
                      feats['note'])
        self.assertIn('no QEMU emulator', feats['note'])
        self.assertIn('qemu-system-x86_64', feats['note'])

    def test_binary_named_by_domain_capabilities_is_preferred(self):
        link = os.path.join(self.tmp, 'qemu-from-domcaps')
        os.symlink(QEMU, link)
        self.assertEqual(link, qcm.find_binary(
            'x86_64', link, search_path=os.path.join(self.tmp, 'empty')))
        # One that does not exist here: qemu-system-x86_64 on PATH.
        self.assertEqual(QEMU, qcm.find_binary(
            'x86_64', '/nonexistent/qemu-kvm',
            search_path=os.path.dirname(QEMU)))
        e = self.assertRaises(
            qcm.QemuCpuModelError, qcm.find_binary, 'x86_64',
            '/nonexistent/qemu-kvm', os.path.join(self.tmp, 'empty'))
        self.assertIn('/nonexistent/qemu-kvm', str(e))
        e = self.assertRaises(qcm.QemuCpuModelError, qcm.find_binary,
                              'aarch64')
        self.assertIn('x86 only', str(e))


class TestHostExpansion(QemuTestCase):

    def test_tsx_off_cascadelake_expanded(self):
        feats = self.profile(TSX_OFF)['cpu_features']
        self.assertEqual('libvirt', feats['source'])
        self.assertEqual('libvirt+qemu', feats['expanded_by'])
        self.assertEqual('Cascadelake-Server-v3', feats['model'])
        self.assertIn('-hle -rtm', feats['note'])
        listed = _xml_features(TSX_OFF)
        base = _libvirt_expansion('Cascadelake-Server')
        self.assertIn('hle', base)
        self.assertNotIn('hle', feats['features'])
        self.assertNotIn('rtm', feats['features'])
        # The base model's features, the version's additions, and every
        # feature the capabilities list beside the model.
        self.assertLessEqual(base - {'hle', 'rtm'}, set(feats['features']))
        self.assertLessEqual(listed, set(feats['features']))
        self.assertIn('arch-capabilities', feats['features'])

    def test_model_libvirt_does_not_know_at_all(self):
        # libvirt 9.0's map has no Denverton. Since the newer map
        # migcompat carries (cpu/map_models.py) knows every model QEMU 7.2
        # defines that libvirt 9.0 lacks, it is made not to know it here:
        # QEMU's definition is then used and marked as QEMU's view.
        self.useFixture(fixtures.MockPatchObject(
            map_models, 'features', lambda model: None))
        root = self.snapshot_with_model('Denverton-v2')
        feats = self.profile(root)['cpu_features']
        if feats.get('expanded_by') == 'libvirt':
            self.skipTest("this libvirt's CPU map knows Denverton")
        self.assertEqual('qemu', feats['source'])
        self.assertEqual('qemu', feats['expanded_by'])
        self.assertIn("QEMU", feats['note'])
        qemu = qcm.expand_model('Denverton-v2', QEMU)[1]
        self.assertEqual(qemu | _xml_features(root), set(feats['features']))

    def test_model_nobody_knows_is_a_clear_unknown(self):
        root = self.snapshot_with_model('No-Such-Model-v9')
        feats = self.profile(root)['cpu_features']
        self.assertEqual('libvirt-unexpanded', feats['source'])
        self.assertIn('Unknown CPU model No-Such-Model-v9', feats['note'])
        self.assertIn("CPU model 'No-Such-Model-v9' not found",
                      feats['note'])

    def domcaps_with_model(self, model):
        """The Rome domain capabilities with another host-model model."""
        root = os.path.join(self.tmp, 'domcaps-%s' % model)
        shutil.copytree(os.path.join(HOSTS, 'libvirt-domcaps-rome-qemu-9.0.0'),
                        root)
        path = os.path.join(root, 'libvirt', 'domcapabilities.xml')
        with open(path) as f:
            text = f.read()
        with open(path, 'w') as f:
            f.write(text.replace(">EPYC-Rome</model>",
                                 ">%s</model>" % model, 1))
        return root

    def test_host_model_version_expanded(self):
        rome = self.profile(self.domcaps_with_model('EPYC-Rome'))
        rome2 = self.profile(self.domcaps_with_model('EPYC-Rome-v2'))
        hm = rome2['host_model']
        self.assertEqual('EPYC-Rome-v2', hm['model'])
        self.assertIs(True, hm['expanded'])
        self.assertEqual('libvirt+qemu', hm['expanded_by'])
        self.assertEqual('libvirt', rome['host_model']['expanded_by'])
        # What QEMU says -v2 adds to -v1 is the only difference.
        found = qcm.expand_models(['EPYC-Rome-v1', 'EPYC-Rome-v2'], QEMU)
        added = found['EPYC-Rome-v2'][1] - found['EPYC-Rome-v1'][1]
        removed = found['EPYC-Rome-v1'][1] - found['EPYC-Rome-v2'][1]
        self.assertTrue(added)
        self.assertEqual(
            (set(rome['host_model']['features']) - removed | added)
            - set(hm['disabled']), set(hm['features']))

    def test_host_model_not_expanded_with_qemu_lists(self):
        # QEMU's own model lists are not libvirt's, and host-model CPUs
        # are libvirt's: such a host-model stays a named model (the newer
        # map migcompat carries made not to know it, as above).
        self.useFixture(fixtures.MockPatchObject(
            map_models, 'features', lambda model: None))
        hm = self.profile(self.domcaps_with_model('Denverton-v2'))[
            'host_model']
        if hm.get('expanded_by') == 'libvirt':
            self.skipTest("this libvirt's CPU map knows Denverton")
        self.assertIs(False, hm['expanded'])
        self.assertIn("libvirt's CPU map does not know it", hm['note'])
        self.assertIn('Denverton-v2', hm['note'])

    def test_tsx_hosts_host_passthrough_both_ways(self):
        on = self.profile(TSX_ON)
        off = self.profile(TSX_OFF)
        lenient = Policy(unknown_action={HP: 'warn'})
        # TSX on -> TSX off: hle and rtm are certainly missing.
        verdict = rules.evaluate(on, off, HP, lenient)
        block = [f for f in verdict.blocking if f.factor == 'cpu_features']
        self.assertEqual(1, len(block))
        self.assertIn('2 feature(s)', block[0].message)
        self.assertIn('hle, rtm', block[0].message)
        self.assertIn('TSX', str(block[0].hint))
        # TSX off -> TSX on: TSX is no issue; what blocks (if anything) is
        # what the 4214R lists and the 9242 lacks.
        verdict = rules.evaluate(off, on, HP, lenient)
        block = [f for f in verdict.blocking if f.factor == 'cpu_features']
        expected = (set(off['cpu_features']['features'])
                    - set(on['cpu_features']['features']))
        self.assertEqual(bool(expected), bool(block))
        self.assertLessEqual(expected, _xml_features(TSX_OFF))
        if block:
            self.assertNotIn('hle', block[0].message)
            for name in expected:
                self.assertIn(name, block[0].message)

    def test_compare_cli_names_tsx(self):
        proc = subprocess.run(
            [_migcompat(), 'compare', TSX_ON, TSX_OFF, '--mode', HP,
             '-f', 'json'], capture_output=True, text=True, timeout=300)
        self.assertEqual(1, proc.returncode, proc.stderr)
        self.assertNotIn('Traceback', proc.stderr)
        findings = json.loads(proc.stdout)['findings']
        feats = [f for f in findings if f['factor'] == 'cpu_features']
        self.assertEqual('block', feats[0]['severity'])
        self.assertIn('hle, rtm', feats[0]['message'])
        self.assertIn('TSX', json.dumps(feats[0].get('hint')))


class TestCache(QemuTestCase):

    def cache_doc(self):
        with open(os.path.join(self.cache_home, 'migcompat',
                               qcm.CACHE_FILE)) as f:
            return json.load(f)

    def test_second_process_reads_the_disk_cache(self):
        first = qcm.expand_model('Icelake-Server-v2', QEMU)
        self.assertEqual(1, len(self.runs))
        (entry,) = self.cache_doc()['binaries'].values()
        self.assertIn('Icelake-Server-v2', entry['models'])
        qcm.clear_memory_cache()  # as a new process would start
        self.assertEqual(first, qcm.expand_model('Icelake-Server-v2', QEMU))
        self.assertEqual(1, len(self.runs))
        # In-process: no file read needed either.
        os.unlink(os.path.join(self.cache_home, 'migcompat',
                               qcm.CACHE_FILE))
        self.assertEqual(first, qcm.expand_model('Icelake-Server-v2', QEMU))
        self.assertEqual(1, len(self.runs))

    def test_refusal_is_cached(self):
        self.assertRaises(qcm.QemuCpuModelError, qcm.expand_model,
                          'No-Such-Model-v9', QEMU)
        qcm.clear_memory_cache()
        e = self.assertRaises(qcm.QemuCpuModelError, qcm.expand_model,
                              'No-Such-Model-v9', QEMU)
        self.assertIn('not found', str(e))
        self.assertEqual(1, len(self.runs))

    def test_damaged_cache_is_ignored_and_replaced(self):
        os.makedirs(os.path.join(self.cache_home, 'migcompat'))
        path = os.path.join(self.cache_home, 'migcompat', qcm.CACHE_FILE)
        with open(path, 'w') as f:
            f.write('{"format": 2, "binaries": {"x": [')
        feats = qcm.expand_model('Skylake-Server-v1', QEMU)[1]
        self.assertIn('avx512f', feats)
        self.assertIn('binaries', self.cache_doc())

    def test_unwritable_cache_is_not_required(self):
        blocker = os.path.join(self.tmp, 'a-file')
        with open(blocker, 'w') as f:
            f.write('not a directory')
        self.useFixture(fixtures.EnvironmentVariable(
            'MIGCOMPAT_CACHE_DIR', os.path.join(blocker, 'migcompat')))
        feats = qcm.expand_model('Skylake-Server-v1', QEMU)[1]
        self.assertIn('avx512f', feats)

    def test_changed_binary_is_asked_again(self):
        # A wrapper of its own (a copied QEMU would not find its modules).
        copy = os.path.join(self.tmp, 'qemu-wrapper')
        with open(copy, 'w') as f:
            f.write('#!/bin/sh\nexec %s "$@"\n' % QEMU)
        os.chmod(copy, stat.S_IRWXU)
        qcm.expand_model('Cascadelake-Server-v3', copy)
        old_keys = set(self.cache_doc()['binaries'])
        # An upgrade: the same path, a new mtime.
        os.utime(copy, (time.time() + 10, time.time() + 10))
        qcm.clear_memory_cache()
        qcm.expand_model('Cascadelake-Server-v3', copy)
        self.assertEqual(2, len(self.runs))
        new_keys = set(self.cache_doc()['binaries'])
        self.assertEqual(1, len(new_keys))
        self.assertEqual(set(), old_keys & new_keys)
