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

"""Kernel and libvirt CPU feature names meet in libvirt's spelling."""

import os
import re

import testtools

from migcompat_filter.cpu import features as cpufeatures

HOSTS = os.path.join(os.path.dirname(__file__), '..', 'fixtures', 'hosts')
MILAN = os.path.join(HOSTS, 'epyc-milan-nested-l1')
CPU_MAP = '/usr/share/libvirt/cpu_map/x86_features.xml'


def _cpuinfo_flags(root):
    with open(os.path.join(root, 'proc', 'cpuinfo')) as f:
        for line in f:
            if line.startswith('flags'):
                return line.split(':', 1)[1].split()
    raise AssertionError('no flags line')


class TestCanonicalFeature(testtools.TestCase):

    def test_kernel_renames(self):
        for kernel, libvirt in [('pclmulqdq', 'pclmuldq'),
                                ('sse4_1', 'sse4.1'), ('sse4_2', 'sse4.2'),
                                ('tsc_deadline_timer', 'tsc-deadline'),
                                ('cr8_legacy', 'cr8legacy'),
                                ('sha_ni', 'sha-ni'), ('pni', 'pni'),
                                ('avx512_vnni', 'avx512vnni'),
                                ('md_clear', 'md-clear')]:
            self.assertEqual(libvirt,
                             cpufeatures.canonical_feature(kernel), kernel)

    def test_libvirt_underscore_names_kept(self):
        for name in ('tsc_adjust', 'fxsr_opt', 'lahf_lm', 'cmp_legacy',
                     'perfctr_core', 'ds_cpl', 'mbm_total'):
            self.assertEqual(name, cpufeatures.canonical_feature(name))

    def test_synthetic_flags_dropped(self):
        for name in ('constant_tsc', 'rep_good', 'nopl', 'xtopology', 'cpuid',
                     'tsc_known_freq', 'extd_apicid', 'vmmcall'):
            self.assertIsNone(cpufeatures.canonical_feature(name), name)

    def test_libvirt_names_unchanged(self):
        self.assertEqual('sse4.1',
                         cpufeatures.canonical_feature('SSE4.1', 'libvirt'))
        self.assertEqual('tsc_adjust', cpufeatures.canonical_feature(
            'tsc_adjust', 'libvirt'))

    def test_real_cpuinfo_flags_land_in_libvirt_cpu_map(self):
        """Every canonical flag of a real AMD host that the installed CPU
        map knows by some spelling is spelled the CPU map's way.
        """
        if not os.path.exists(CPU_MAP):
            self.skipTest('libvirt CPU map not installed: %s' % CPU_MAP)
        with open(CPU_MAP) as f:
            known = set(re.findall(r"feature name='([^']+)'", f.read()))
        squash = {re.sub(r'[-_.]', '', n): n for n in known}
        for flag in cpufeatures.canonical_features(_cpuinfo_flags(MILAN)):
            spelled = squash.get(re.sub(r'[-_.]', '', flag))
            if spelled is not None:
                self.assertEqual(spelled, flag)
        canon = cpufeatures.canonical_features(_cpuinfo_flags(MILAN))
        for name in ('pclmuldq', 'sse4.1', 'tsc-deadline', 'cr8legacy',
                     'sha-ni', 'tsc_adjust', 'lahf_lm', 'invtsc'):
            self.assertIn(name, canon)
        self.assertNotIn('constant_tsc', canon)
