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

"""The CPU-expansion cache, against the real libvirt test driver: what it
remembers is what libvirt said, and a changed libvirt starts it over.
"""

import json
import os
import shutil
import subprocess
import sys

import fixtures
import testtools

from migcompat_filter.host import cpu_expansion
from migcompat_filter.host import expansion_cache

SKYLAKE = ('<cpu><arch>x86_64</arch><model>Skylake-Server-IBRS</model>'
           '<vendor>Intel</vendor><feature name="invtsc"/></cpu>')
HERE = os.path.dirname(os.path.abspath(__file__))
SNAP = os.path.join(HERE, '..', 'fixtures', 'hosts', 'epyc-milan-nested-l1')


def _no_qemu(arch):
    raise AssertionError('libvirt knows this model; QEMU is not asked')


class ExpansionCacheTest(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.dir = self.useFixture(fixtures.TempDir()).path
        # A copy of the real CPU map: a test may "upgrade" it.
        self.map = os.path.join(self.dir, 'cpu_map')
        shutil.copytree(expansion_cache.CPU_MAP_DIR, self.map)
        self.useFixture(fixtures.MonkeyPatch(
            'migcompat_filter.host.expansion_cache.CPU_MAP_DIR', self.map))
        self.useFixture(fixtures.EnvironmentVariable(
            'MIGCOMPAT_CACHE_DIR', os.path.join(self.dir, 'cache')))
        expansion_cache.forget()
        self.addCleanup(expansion_cache.forget)
        self.asked = []
        real = cpu_expansion._expand_with_cpu_map

        def counted(cpu):
            self.asked.append(cpu.model)
            return real(cpu)
        self.useFixture(fixtures.MonkeyPatch(
            'migcompat_filter.host.cpu_expansion._expand_with_cpu_map',
            counted))

    def _expand(self):
        return cpu_expansion.expand(SKYLAKE, _no_qemu)

    def _new_process(self):
        expansion_cache.forget()

    def test_a_second_process_does_not_ask_libvirt(self):
        first = self._expand()
        self.assertEqual(['Skylake-Server-IBRS'], self.asked)
        self.assertIn('invtsc', first.features)
        self.assertIn('avx512f', first.features)
        self._new_process()
        again = self._expand()
        self.assertEqual(['Skylake-Server-IBRS'], self.asked)  # not again
        self.assertEqual(first, again)

    def test_a_libvirt_upgrade_starts_over(self):
        self._expand()
        # The package manager rewrote a CPU map file.
        path = os.path.join(self.map, 'index.xml')
        st = os.stat(path)
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10 ** 9))
        self._new_process()
        self._expand()
        self.assertEqual(['Skylake-Server-IBRS'] * 2, self.asked)

    def test_a_broken_cache_file_is_ignored_and_rewritten(self):
        self._expand()
        path = os.path.join(self.dir, 'cache', 'cpu-expansions.json')
        for junk in ('{not json', '[]', json.dumps(
                {'version': 1, 'fingerprint': expansion_cache.fingerprint(),
                 'expansions': {SKYLAKE: 'not a list'}})):
            with open(path, 'w') as f:
                f.write(junk)
            self._new_process()
            self.assertIn('avx512f', self._expand().features)
        self.assertEqual(['Skylake-Server-IBRS'] * 4, self.asked)
        with open(path) as f:
            self.assertIn(SKYLAKE, json.load(f)['expansions'])

    def test_no_cpu_map_no_cache(self):
        shutil.rmtree(self.map)
        self._new_process()
        self.assertIsNone(expansion_cache.fingerprint())
        # libvirt itself still expands (its own map is where it was).
        self.assertIn('avx512f', self._expand().features)
        self.assertFalse(os.path.exists(os.path.join(self.dir, 'cache')))

    def test_empty_directory_setting_turns_it_off(self):
        self.useFixture(fixtures.EnvironmentVariable('MIGCOMPAT_CACHE_DIR',
                                                     ''))
        self._new_process()
        self._expand()
        self._new_process()
        self._expand()
        self.assertEqual(['Skylake-Server-IBRS'] * 2, self.asked)

    def test_unwritable_directory_is_not_an_error(self):
        target = os.path.join(self.dir, 'file')
        open(target, 'w').close()  # a file where the directory should be
        self.useFixture(fixtures.EnvironmentVariable(
            'MIGCOMPAT_CACHE_DIR', os.path.join(target, 'sub')))
        self._new_process()
        self.assertIn('avx512f', self._expand().features)


class ProfileCommandTest(testtools.TestCase):
    """Two ``migcompat profile`` processes with the cache print what one
    without it prints.
    """

    def _profile(self, cache):
        env = dict(os.environ, MIGCOMPAT_CACHE_DIR=cache)
        out = subprocess.run(
            [sys.executable, '-c', 'import sys; from migcompat_filter.cmd '
             'import main; sys.exit(main())', 'profile', '--root', SNAP,
             '-f', 'json'], env=env, capture_output=True, text=True,
            check=True)
        return json.loads(out.stdout)

    def test_same_profile_with_and_without_the_cache(self):
        cache = self.useFixture(fixtures.TempDir()).path
        without = self._profile('')
        first, second = self._profile(cache), self._profile(cache)
        self.assertTrue(os.path.exists(os.path.join(
            cache, 'cpu-expansions.json')))
        self.assertEqual(without, first)
        self.assertEqual(without, second)


class SymlinkedVenvTest(testtools.TestCase):
    """One venv run through its own path and through a symlink (a /tmp
    path, as tox or a benchmark uses) shares one cache, instead of each
    rewriting it with its own fingerprint.
    """

    def test_same_fingerprint_through_a_symlink(self):
        tmp = self.useFixture(fixtures.TempDir()).path
        link = os.path.join(tmp, 'venv')
        os.symlink(sys.prefix, link)
        python = os.path.join(link, 'bin', os.path.basename(sys.executable))
        code = ('from migcompat_filter.host import expansion_cache as e; '
                'print(e.fingerprint())')
        prints = [subprocess.run([exe, '-c', code], capture_output=True,
                                 text=True, check=True).stdout
                  for exe in (sys.executable, python)]
        self.assertNotEqual('None\n', prints[0])
        self.assertEqual(prints[0], prints[1])
