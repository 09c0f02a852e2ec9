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

"""One entry-point scan per CLI process, wherever Python is installed.

stevedore skips its on-disk cache when the interpreter lives under /tmp
and then rebuilds its whole index (slowly) in every process. The CLI
hands stevedore one scan of its own (migcompat_filter.cmd.entry_points):
these tests run the CLI from a venv path under /tmp with stevedore's own
scan made to fail, so they fail if the hand-over stops working (a
stevedore whose cache has another shape); tools/bench_startup.py prints
the times.
"""

import json
import os
import subprocess
import sys
import tempfile
import textwrap

import fixtures
import testtools

from migcompat_filter.cmd import entry_points

SNAP = os.path.join(os.path.dirname(__file__), '..', 'fixtures', 'hosts',
                    'epyc-milan-nested-l1')

_CHILD = textwrap.dedent('''\
    import sys
    from stevedore import _cache

    def _full_scan():
        raise SystemExit('stevedore scanned every distribution')

    _cache._build_cacheable_data = _full_scan
    assert _cache._c._disable_caching, 'expected the /tmp case'
    if sys.argv[1] == 'unprimed':
        from stevedore import extension
        extension.ExtensionManager('cliff.formatter.list')
    from migcompat_filter.cmd import shell
    sys.exit(shell.main(sys.argv[2:]))
    ''')


class StevedoreHandOverTest(testtools.TestCase):

    def setUp(self):
        super().setUp()
        tmp = tempfile.mkdtemp(prefix='migcompat-ep-', dir='/tmp')
        self.addCleanup(lambda: subprocess.run(['rm', '-rf', tmp]))
        link = os.path.join(tmp, 'venv')
        os.symlink(sys.prefix, link)
        self.python = os.path.join(link, 'bin',
                                   os.path.basename(sys.executable))

    def _run(self, mode, *argv):
        return subprocess.run([self.python, '-c', _CHILD, mode] + list(argv),
                              capture_output=True, text=True, timeout=120)

    def test_cli_under_tmp_never_scans_with_stevedore(self):
        proc = self._run('primed', 'profile', '--root', SNAP, '-f', 'json')
        self.assertEqual(0, proc.returncode, proc.stderr)
        self.assertEqual('x86_64', json.loads(proc.stdout)['arch'])
        # Lister formatters come through stevedore too.
        proc = self._run('primed', 'traits', '--root', SNAP, '-f', 'json')
        self.assertEqual(0, proc.returncode, proc.stderr)
        self.assertTrue(json.loads(proc.stdout))

    def test_the_check_can_fail(self):
        proc = self._run('unprimed', '--version')
        self.assertNotEqual(0, proc.returncode)
        self.assertIn('stevedore scanned every distribution', proc.stderr)


class GroupsTest(testtools.TestCase):

    def test_same_index_as_stevedore_builds(self):
        from stevedore import _cache
        self.assertEqual(_cache._build_cacheable_data()['groups'],
                         entry_points.groups())

    def test_group_finds_our_commands_and_factors(self):
        cli = {ep.name: ep.value for ep in entry_points.group('migcompat.cli')}
        self.assertEqual('migcompat_filter.cmd.trait:TraitPrune',
                         cli['trait_prune'])
        self.assertIn('arch', [ep.name for ep in
                               entry_points.group('migcompat.factors')])
        self.assertEqual([], entry_points.group('no.such.group'))

    def test_a_stevedore_of_another_shape_is_left_alone(self):
        # A newer stevedore without this cache: no hand-over, no failure.
        self.useFixture(fixtures.MonkeyPatch('stevedore._cache._c',
                                             object()))
        self.assertFalse(entry_points.prime_stevedore())
