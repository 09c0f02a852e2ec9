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

"""The docs an operator copies from: the nova.conf lines are what nova
reads, no literal block is too wide for the page, and the example
pictures are drawn from the demo data at build time.
"""

import importlib.util
import os
import re
import shutil

from defusedxml import ElementTree
import fixtures
import testtools

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
DOC = os.path.join(ROOT, 'doc', 'source')
#: Wider than this, a literal block is cut at the right edge of the page.
MAX_COLUMNS = 80


def literal_blocks(path):
    """[(line number, [lines])] of the ``::`` and code-block blocks."""
    with open(path, encoding='utf-8') as f:
        lines = f.read().splitlines()
    blocks = []
    i = 0
    while i < len(lines):
        line = lines[i]
        opener = (line.rstrip().endswith('::') and
                  not line.lstrip().startswith('.. ') or
                  re.match(r'\s*\.\. (code-block|code)::', line))
        if not opener:
            i += 1
            continue
        indent = len(line) - len(line.lstrip())
        j, body = i + 1, []
        while j < len(lines):
            nxt = lines[j]
            if nxt.strip() and len(nxt) - len(nxt.lstrip()) <= indent:
                break
            body.append(nxt)
            j += 1
        # Directive options (":linenos:") are not content.
        blocks.append((i + 1, [b for b in body
                               if not re.match(r'\s+:\w[\w-]*:', b)]))
        i = j
    return blocks


def ini_block(path):
    for _start, body in literal_blocks(path):
        text = '\n'.join(body)
        if '[filter_scheduler]' in text:
            return '\n'.join(b[3:] for b in body)
    raise AssertionError('%s has no nova.conf block' % path)


class TestNovaConfLines(testtools.TestCase):

    def test_nova_reads_the_documented_lines(self):
        # nova 34's own options parse the block exactly as printed.
        import nova.conf
        from oslo_config import cfg
        tmp = self.useFixture(fixtures.TempDir()).path
        path = os.path.join(tmp, 'nova.conf')
        with open(path, 'w') as f:
            f.write(ini_block(os.path.join(DOC, 'scheduler.rst')))
        conf = cfg.ConfigOpts()
        nova.conf.scheduler.register_opts(conf)
        conf([], project='nova', default_config_files=[path])
        group = conf.filter_scheduler
        self.assertEqual(['nova.scheduler.filters.all_filters',
                          'migcompat_filter.scheduler.all_filters'],
                         group.available_filters)
        self.assertEqual('MigrationCompatibilityFilter',
                         group.enabled_filters[-1])
        self.assertIn('ComputeFilter', group.enabled_filters)
        self.assertEqual(['nova.scheduler.weights.all_weighers',
                          'migcompat_filter.scheduler.all_weighers'],
                         group.weight_classes)


class TestLiteralBlocks(testtools.TestCase):

    def test_no_literal_block_is_wider_than_the_page(self):
        wide = []
        for dirpath, _dirs, files in os.walk(DOC):
            for name in sorted(files):
                if not name.endswith('.rst'):
                    continue
                path = os.path.join(dirpath, name)
                for start, body in literal_blocks(path):
                    for k, line in enumerate(body):
                        if len(line) > MAX_COLUMNS + 3:  # 3: the indent
                            wide.append('%s:%d: %d columns' % (
                                os.path.relpath(path, ROOT), start + 1 + k,
                                len(line) - 3))
        self.assertEqual([], wide)

    def test_the_detector_sees_a_wide_block(self):
        tmp = self.useFixture(fixtures.TempDir()).path
        path = os.path.join(tmp, 'x.rst')
        with open(path, 'w') as f:
            f.write('Text::\n\n   %s\n\nafter\n\n.. code-block:: ini\n\n'
                    '   [a]\n   b = 1\n' % ('x' * 90))
        blocks = literal_blocks(path)
        self.assertEqual(2, len(blocks))
        self.assertEqual(93, len(blocks[0][1][1]))
        self.assertIn('   b = 1', blocks[1][1])


class TestPicturesExtension(testtools.TestCase):

    def test_builder_hook_draws_the_demo_pictures(self):
        spec = importlib.util.spec_from_file_location(
            'migcompat_pictures',
            os.path.join(DOC, '_ext', 'migcompat_pictures.py'))
        ext = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(ext)

        class App(object):
            srcdir = self.useFixture(fixtures.TempDir()).path

        ext.draw(App)
        out = os.path.join(App.srcdir, ext.OUTPUT)
        names = sorted(os.listdir(out))
        svgs = (['demo-heatmap-%s.svg' % m for m in ext.MODES] +
                ['demo-graph-%s.svg' % m for m in ext.MODES])
        # Each also as a PNG (to paste into a ticket) when a converter is
        # installed (doc/requirements.txt has cairosvg).
        pngs = [n[:-len('.svg')] + '.png' for n in svgs]
        self.assertEqual(sorted(svgs), [n for n in names
                                        if n.endswith('.svg')])
        converter = shutil.which('rsvg-convert') or importlib.util.find_spec(
            'cairosvg')
        if converter:
            self.assertEqual(sorted(pngs), [n for n in names
                                            if n.endswith('.png')])
            for name in pngs:
                with open(os.path.join(out, name), 'rb') as f:
                    self.assertEqual(b'\x89PNG', f.read(4))
        produced = set(names)
        # The numbers demo.rst quotes come from the build too.
        self.assertEqual(['demo-excerpt-%s.txt' % m for m in ext.MODES],
                         sorted(n for n in names if n.endswith('.txt')))
        self.assertIn('pngs.rst', names)
        names = [n for n in names if n.endswith('.svg')]
        for name in names:
            with open(os.path.join(out, name), 'rb') as f:
                root = ElementTree.parse(f).getroot()
            self.assertEqual('{http://www.w3.org/2000/svg}svg', root.tag)
        # The pages include exactly what the hook draws.
        with open(os.path.join(DOC, 'demo.rst')) as f:
            used = re.findall(r'/_generated/(\S+)', f.read())
        self.assertTrue(used)
        self.assertTrue(set(used) <= produced, used)
        self.assertIn('demo-excerpt-host-model.txt', used)
        with open(os.path.join(out, 'pngs.rst')) as f:
            downloads = re.findall(r'</_generated/(\S+?)>', f.read())
        self.assertEqual(sorted(pngs) if converter else [],
                         sorted(downloads))
