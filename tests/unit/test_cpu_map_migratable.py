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

"""libvirt's non-migratable features, generated from its own CPU map."""

import contextlib
import importlib.util
import io
import os
import re
import shutil
import tempfile

import testtools

from migcompat_filter.cpu import map_migratable as cpu_map_migratable

ROOT = os.path.join(os.path.dirname(__file__), '..', '..')
TOOL = os.path.join(ROOT, 'tools', 'make_cpu_map_data.py')
MODULE = os.path.join(ROOT, 'migcompat_filter', 'cpu', 'map_migratable.py')
INSTALLED_MAP = '/usr/share/libvirt/cpu_map'


def load_tool():
    spec = importlib.util.spec_from_file_location('make_cpu_map_data', TOOL)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    return tool


INDEX = """<cpus>
  <arch name='x86'>
    <include filename='x86_features.xml'/>
    <include filename='x86_EPYC.xml'/>
  </arch>
  <arch name='arm'><include filename='arm_features.xml'/></arch>
</cpus>"""
X86 = """<cpus>
  <feature name='invtsc' migratable='no'><cpuid eax_in='0x80000007'/>
  </feature>
  <feature name='xsaves' migratable='no'/>
  <feature name='avx'/>
  <feature name='tsc_adjust' migratable='yes'/>
</cpus>"""
EPYC = """<cpus><model name='EPYC'><feature name='avx'/></model></cpus>"""
ARM = "<cpus><feature name='sve'/></cpus>"


class TestData(testtools.TestCase):

    def test_x86_has_libvirts_two(self):
        self.assertTrue({'invtsc', 'xsaves'} <=
                        cpu_map_migratable.non_migratable('x86_64'))

    def test_arch_names(self):
        x86 = cpu_map_migratable.non_migratable()
        self.assertIsInstance(x86, frozenset)
        for arch in ('x86_64', 'i686', 'x86'):
            self.assertEqual(x86, cpu_map_migratable.non_migratable(arch))
        # libvirt marks nothing non-migratable outside x86, so nothing is
        # removed there, and no arch is an error.
        for arch in ('aarch64', 'ppc64le', 's390x', 'riscv64'):
            self.assertEqual(frozenset(),
                             cpu_map_migratable.non_migratable(arch))

    def test_version_recorded(self):
        self.assertRegex(cpu_map_migratable.LIBVIRT_VERSION,
                         r'^\d+\.\d+\.\d+$')

    def test_module_is_exactly_what_the_tool_writes(self):
        tool = load_tool()
        data = {a: list(f) for a, f in
                cpu_map_migratable.NON_MIGRATABLE.items()}
        with open(MODULE) as f:
            self.assertEqual(f.read(), tool.render(
                data, cpu_map_migratable.LIBVIRT_VERSION))


class TestTool(testtools.TestCase):

    def setUp(self):
        super(TestTool, self).setUp()
        self.tool = load_tool()
        self.map = tempfile.mkdtemp(prefix='migcompat-cpu-map-')
        self.addCleanup(shutil.rmtree, self.map, True)
        for name, text in (('index.xml', INDEX), ('x86_features.xml', X86),
                           ('x86_EPYC.xml', EPYC),
                           ('arm_features.xml', ARM)):
            with open(os.path.join(self.map, name), 'w') as f:
                f.write(text)
        self.out = os.path.join(self.map, 'out.py')

    def run_tool(self, *args):
        err, out = io.StringIO(), io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
            rc = self.tool.main(['--cpu-map', self.map, '--output', self.out]
                                + list(args))
        return rc, out.getvalue() + err.getvalue()

    def test_reads_only_migratable_no(self):
        self.assertEqual({'x86': ['invtsc', 'xsaves'], 'arm': []},
                         self.tool.read_map(self.map))

    def test_write_then_check(self):
        rc, _ = self.run_tool('--libvirt-version', '1.2.3')
        self.assertEqual(0, rc)
        namespace = {}
        with open(self.out) as f:
            exec(f.read(), namespace)
        self.assertEqual('1.2.3', namespace['LIBVIRT_VERSION'])
        self.assertEqual(frozenset(['invtsc', 'xsaves']),
                         namespace['non_migratable']('x86_64'))
        rc, text = self.run_tool('--check')
        self.assertEqual(0, rc)
        self.assertIn('agrees', text)

    def test_check_fails_when_the_map_changes(self):
        self.run_tool('--libvirt-version', '1.2.3')
        with open(os.path.join(self.map, 'x86_features.xml'), 'w') as f:
            f.write(X86.replace("name='avx'/>",
                                "name='avx' migratable='no'/>"))
        rc, text = self.run_tool('--check')
        self.assertEqual(1, rc)
        self.assertIn('x86: avx is migratable=no in the map', text)

    def test_missing_map_is_a_clear_error(self):
        os.unlink(os.path.join(self.map, 'index.xml'))
        rc, text = self.run_tool('--check')
        self.assertEqual(2, rc)
        self.assertIn('index.xml', text)
        self.assertNotIn('Traceback', text)

    def test_installed_map_agrees(self):
        if not os.path.isdir(INSTALLED_MAP):
            self.skipTest('libvirt CPU map not installed: %s' % INSTALLED_MAP)
        diff, version = self.tool.check(self.tool.read_map(INSTALLED_MAP),
                                        MODULE)
        self.assertEqual([], diff, 'regenerate with tools/make_cpu_map_data.py'
                         ' (module from libvirt %s)' % version)
        self.assertTrue(re.match(r'\d', version))
