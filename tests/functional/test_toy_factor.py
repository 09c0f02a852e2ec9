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

"""A third-party factor is its own package and nothing else.

The test writes a throwaway distribution by hand: a package with a factor
reader, its catalogue row and a rule, and a dist-info registering them in
``migcompat.factors``, ``migcompat.catalogue`` and ``migcompat.rules``
(plus a rule that cannot be loaded).
With that directory on PYTHONPATH (and no patching of migcompat), the
real ``migcompat`` CLI lists the factor, captures it in a snapshot,
publishes it as a trait that decodes back, and blocks a migration on it.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap

import testtools

from tests import cli

HOSTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..',
                     'fixtures', 'hosts')
HOST = os.path.join(HOSTS, 'this-host-epyc-nested-l1-20261125')

TOY = '''
"""A toy factor: the level in etc/toy-level."""

from migcompat_filter.factors import base
from migcompat_filter.factors import catalogue
from migcompat_filter.profile import is_unknown
from migcompat_filter.rules.base import Rule
from migcompat_filter.rules.verdict import BLOCK
from migcompat_filter.rules.verdict import Finding

LEVEL_FILE = 'etc/toy-level'

ROW = catalogue.row(
    'toy_level', 'the toy level of the host (etc/toy-level)',
    'int: the toy level', snapshot_files=(LEVEL_FILE,))


class ToyLevelFactor(base.Factor):
    def read(self, host):
        return int(host.read_value(LEVEL_FILE))


class ToyLevelRule(Rule):
    """The destination's toy level must not be lower than the source's."""

    factor = 'toy_level'

    def check(self, ctx):
        src, dst = ctx.values(self.factor)
        if is_unknown(src) or is_unknown(dst):
            return [ctx.unknown(self.factor, src, dst, 'toy level')]
        if dst < src:
            return [Finding(self.factor, BLOCK, src, dst,
                            'toy level %d is lower than %d' % (dst, src))]
        return []
'''

ENTRY_POINTS = '''
[migcompat.factors]
toy_level = toy_migcompat:ToyLevelFactor

[migcompat.catalogue]
toy_level = toy_migcompat:ROW

[migcompat.rules]
toy_level = toy_migcompat:ToyLevelRule
toy_broken = toy_migcompat:NoSuchRule
'''


class TestToyFactor(testtools.TestCase):

    def setUp(self):
        super(TestToyFactor, self).setUp()
        self.dir = tempfile.mkdtemp(prefix='migcompat-toy-')
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.site = self._distribution()
        self.src = self._host('src', 3)
        self.dst = self._host('dst', 2)

    def _write(self, relpath, text):
        path = os.path.join(self.dir, relpath)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, 'w') as f:
            f.write(textwrap.dedent(text).lstrip())
        return path

    def _distribution(self):
        self._write('site/toy_migcompat/__init__.py', TOY)
        self._write('site/toy_migcompat-1.0.dist-info/METADATA',
                    'Metadata-Version: 2.1\nName: toy_migcompat\n'
                    'Version: 1.0\n')
        self._write('site/toy_migcompat-1.0.dist-info/entry_points.txt',
                    ENTRY_POINTS)
        return os.path.join(self.dir, 'site')

    def _host(self, name, level):
        root = os.path.join(self.dir, name)
        shutil.copytree(HOST, root, symlinks=True)
        self._write('%s/etc/toy-level' % name, '%d\n' % level)
        return root

    def env(self):
        path = [self.site] + [p for p in os.environ.get(
            'PYTHONPATH', '').split(os.pathsep) if p]
        return {'PYTHONPATH': os.pathsep.join(path)}

    def migcompat(self, *args):
        return cli.run(*args, env=self.env())

    def python(self, code):
        return subprocess.run([sys.executable, '-c', code], check=True,
                              capture_output=True, text=True,
                              env=dict(os.environ, **self.env())).stdout

    def compare(self, src, dst):
        rc, out, err = self.migcompat('compare', src, dst, '-f', 'json')
        self.assertIn(rc, (0, 1), err)
        return rc, json.loads(out)

    def test_listed(self):
        rc, out, err = self.migcompat('factor', 'list', '--long', '-f',
                                      'json')
        self.assertEqual(0, rc, err)
        rows = {r['name']: r for r in json.loads(out)}
        self.assertEqual('the toy level of the host (etc/toy-level)',
                         rows['toy_level']['description'])
        self.assertEqual('int', rows['toy_level']['type'])
        self.assertEqual('int: the toy level', rows['toy_level']['schema'])

    def test_a_broken_rule_is_skipped(self):
        rc, out, err = self.migcompat('compare', self.dst, self.src)
        self.assertEqual(0, rc, err)
        self.assertIn('rule plugin toy_broken', err)

    def test_read_and_judged(self):
        rc, verdict = self.compare(self.src, self.dst)
        self.assertEqual(1, rc)
        blocking = [f for f in verdict['findings']
                    if f['severity'] == 'block']
        self.assertEqual(['toy_level'], [f['factor'] for f in blocking])
        self.assertEqual((3, 2), (blocking[0]['source'],
                                  blocking[0]['destination']))
        rc, verdict = self.compare(self.dst, self.src)
        self.assertEqual(0, rc, verdict)
        self.assertNotIn('toy_level',
                         [f['factor'] for f in verdict['findings']])

    def test_published_trait_decodes_back(self):
        rc, out, err = self.migcompat('traits', '--root', self.src,
                                      '-f', 'value')
        self.assertEqual(0, rc, err)
        trait_file = self._write('src.traits', out)
        code = ('import sys\n'
                'from migcompat_filter.traits import codec as traits\n'
                'profile, problems = traits.parse(open(sys.argv[1]).read()'
                '.split())\n'
                'print(profile["toy_level"], len(problems))\n')
        self.assertEqual('3 0', self.python(code.replace(
            'sys.argv[1]', repr(trait_file))).strip())
        # A host known only by its traits is judged on the factor too.
        rc, verdict = self.compare(trait_file, self.dst)
        self.assertEqual(1, rc)
        self.assertIn('toy_level', [f['factor'] for f in verdict['findings']
                                    if f['severity'] == 'block'])

    def test_snapshot_captures_its_file(self):
        # "migcompat snapshot" reads only the live host, which has no toy
        # level; write_snapshot of the source snapshot is the same code.
        copy = os.path.join(self.dir, 'copy')
        self.python('from migcompat_filter.host import snapshot\n'
                    'from migcompat_filter.host import source as hostsource\n'
                    'snapshot.write_snapshot(hostsource.SnapshotSource(%r), '
                    '%r)\n' % (self.src, copy))
        with open(os.path.join(copy, 'etc', 'toy-level')) as f:
            self.assertEqual('3\n', f.read())
