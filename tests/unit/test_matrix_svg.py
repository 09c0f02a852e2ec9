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

"""The matrix heat map is a valid SVG whose cells say what the table says,
and a picture that survives being pasted into a ticket as a PNG: host
names on the axes, every label inside its box, nothing clipped, verdicts
told apart by glyph and by colour even with a colour-vision deficiency.
"""

import itertools
import os

from defusedxml import ElementTree
import fixtures
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
import testtools

from migcompat_filter.exception import InputError
from migcompat_filter.fleet import matrix
from migcompat_filter.pictures import heatmap
from migcompat_filter.pictures import svgdraw
from tests.unit import colour_vision
from tests.unit import fleet_hosts
from tests.unit.svg_helpers import NS
from tests.unit.svg_helpers import parse
from tests.unit.svg_helpers import text_box
from tests.unit.svg_helpers import texts
from tests.unit import truetype


def sample_matrix(names=('a<1>', 'a&2', 'b', 'c'), mode=None):
    old = fleet_hosts.profile(qemu='7.2.0')
    new = fleet_hosts.profile(qemu='8.2.0', extra=['avx'])
    newest = fleet_hosts.profile(qemu='9.0.0', extra=['avx', 'avx2'],
                                 microcode='0x99')
    hosts = [fleet_hosts.host(names[0], old), fleet_hosts.host(names[1], old),
             fleet_hosts.host(names[2], new),
             fleet_hosts.host(names[3], newest),
             fleet_hosts.host('bare"one', None)]
    return matrix.build(hosts, mode=mode)


class TestSvg(testtools.TestCase):

    def test_cells_match_the_matrix(self):
        m = sample_matrix()
        root = parse(heatmap.svg(m))
        self.assertEqual(NS + 'svg', root.tag)
        rects = [r for r in root.iter(NS + 'rect')
                 if r.get('class') == 'cell']
        self.assertEqual(len(m.groups) ** 2, len(rects))
        statuses = set()
        for rect in rects:
            src = [g for g in m.groups if g.label == rect.get('data-source')]
            dst = [g for g in m.groups
                   if g.label == rect.get('data-destination')]
            cell = m.cell(src[0], dst[0])
            self.assertEqual(cell.status, rect.get('data-status'))
            self.assertEqual(heatmap.status(cell), rect.get('data-shown'))
            self.assertEqual(','.join(cell.blocking),
                             rect.get('data-blocking'))
            self.assertEqual(heatmap.COLOURS[heatmap.status(cell)],
                             rect.get('fill'))
            tip = rect.find(NS + 'title').text
            if heatmap.status(cell) != 'n/a':
                self.assertIn(cell.text(), tip)
            statuses.add(rect.get('data-shown'))
        # The sample has every outcome, so a wrong colour would show.
        self.assertEqual({'ok', 'refused', 'n/a'}, statuses)

    def test_axes_carry_host_names_groups_collapsed_with_counts(self):
        m = sample_matrix()
        root = parse(heatmap.svg(m))
        rows = [t.text for t in texts(root, 'row')]
        cols = [t.text for t in texts(root, 'column')]
        # G1 is the two identical hosts, named by the first of them.
        self.assertEqual(['a&2 (+1)', 'b', 'c'], rows)
        self.assertEqual(rows, cols)
        self.assertEqual([g.label for g in m.groups],
                         [t.get('data-group') for t in texts(root, 'row')])

    def test_groups_listed_in_full_and_names_escaped(self):
        m = sample_matrix()
        root = parse(heatmap.svg(m))
        groups = {t.get('data-group'): t.text for t in texts(root, 'group')}
        self.assertEqual('a&2 (+1) = G1 (2 hosts): a&2, a<1>', groups['G1'])
        # A one-host group's name is on the axes already: no legend line.
        self.assertNotIn('G2', groups)
        left = [t.text for t in texts(root, 'left-out')]
        self.assertEqual(['bare"one: no migcompat traits'], left)

    def test_one_host_group_against_itself_is_not_applicable(self):
        m = sample_matrix()
        root = parse(heatmap.svg(m))
        cells = {(r.get('data-source'), r.get('data-destination')): r
                 for r in root.iter(NS + 'rect') if r.get('class') == 'cell'}
        # Two identical hosts: a real migration between them, shown.
        self.assertEqual('ok', cells[('G1', 'G1')].get('data-shown'))
        for label in ('G2', 'G3'):
            rect = cells[(label, label)]
            self.assertEqual('n/a', rect.get('data-shown'))
            # The matrix's own verdict stays in the data.
            self.assertEqual(m.cells[(label, label)].status,
                             rect.get('data-status'))
            self.assertIn('itself', rect.find(NS + 'title').text)
        boxes = [g for g in root.iter(NS + 'g')
                 if g.get('class') == 'cell-box']
        na = [g for g in boxes
              if g.find(NS + 'rect').get('data-shown') == 'n/a']
        self.assertEqual(2, len(na))
        for g in na:
            self.assertEqual(['n/a'], [t.text for t in g.iter(NS + 'text')])
            self.assertEqual('dash', g.find(NS + 'g').get('data-glyph'))

    def test_every_cell_label_is_inside_its_cell(self):
        # Long factor names and several blocking factors: the labels are
        # cut, never spill into the neighbours.
        m = sample_matrix()
        for cell in m.cells.values():
            if cell.verdict.blocking:
                cell.verdict.blocking[0].factor = 'firmware_settings_x' * 3
        root = parse(heatmap.svg(m))
        boxes = [g for g in root.iter(NS + 'g')
                 if g.get('class') == 'cell-box']
        self.assertEqual(len(m.groups) ** 2, len(boxes))
        cut = 0
        for g in boxes:
            rect = g.find(NS + 'rect')
            x, y = float(rect.get('x')), float(rect.get('y'))
            w, h = float(rect.get('width')), float(rect.get('height'))
            labels = list(g.iter(NS + 'text'))
            self.assertTrue(labels)
            for t in labels:
                x0, y0, x1, y1 = text_box(t)
                self.assertTrue(x <= x0 and x1 <= x + w and
                                y <= y0 and y1 <= y + h,
                                '%r outside its cell' % t.text)
                cut += t.text.endswith(svgdraw.ELLIPSIS)
        # Nothing is cut: a cell names its key, the legend the factors
        # in full.
        self.assertEqual(0, cut)
        reasons = ' '.join(t.text for t in texts(root, 'reason'))
        self.assertIn('firmware_settings_x' * 3, reasons)

    def test_every_blocking_factor_is_in_the_cell_or_its_legend_key(self):
        m = sample_matrix()
        root = parse(heatmap.svg(m, scope='aggregate rack-7',
                                 when='2026-12-07 01:00 UTC'))
        legend = dict(t.text.split(': ', 1) for t in texts(root, 'reason'))
        refused = 0
        for g in root.iter(NS + 'g'):
            if g.get('class') != 'cell-box':
                continue
            rect = g.find(NS + 'rect')
            if rect.get('data-shown') != 'refused':
                continue
            refused += 1
            factors = rect.get('data-blocking').split(',')
            words = [t.text for t in g.iter(NS + 'text')]
            self.assertIn(words[0], legend)
            self.assertEqual(', '.join(factors), legend[words[0]])
        self.assertGreater(refused, 0)
        # The title says when and which hosts.
        scope = texts(root, 'scope')[0].text
        self.assertIn('aggregate rack-7', scope)
        self.assertIn('2026-12-07 01:00 UTC', scope)

    def test_can_migrate_and_refused_differ_in_greyscale(self):
        # Luminance contrast at least 3:1 (WCAG's for graphics).
        self.assertGreaterEqual(svgdraw.contrast(heatmap.COLOURS['ok'],
                                                 heatmap.COLOURS['refused']),
                                3)

    def test_nothing_is_clipped_by_the_canvas(self):
        # Long names and a long title: the canvas grows to hold them.
        names = ('host-with-a-rather-long-name-%d.example.org' % i
                 for i in range(4))
        m = sample_matrix(names=tuple(names), mode='host-passthrough')
        title = 'A title much longer than the grid is wide, ' * 3
        root = parse(heatmap.svg(m, title=title))
        width, height = float(root.get('width')), float(root.get('height'))
        grid_top = min(float(r.get('y')) for r in root.iter(NS + 'rect')
                       if r.get('class') == 'cell')
        checked = 0
        for t in root.iter(NS + 'text'):
            if t.get('transform'):
                # Column names read upwards from (x, y).
                x, y = float(t.get('x')), float(t.get('y'))
                length = svgdraw.text_width(t.text, float(t.get('font-size')))
                self.assertGreaterEqual(y - length, 0, t.text)
                self.assertLessEqual(x, width)
                self.assertLess(y, grid_top)
            else:
                x0, y0, x1, y1 = text_box(t)
                self.assertTrue(0 <= x0 and x1 <= width and 0 <= y0 and
                                y1 <= height, '%r clipped' % t.text)
            checked += 1
        self.assertGreater(checked, 20)
        subtitle = texts(root, 'subtitle')[0].text
        self.assertIn('host-passthrough', subtitle)
        self.assertEqual(title, texts(root, 'title')[0].text)

    def test_verdicts_differ_by_glyph_and_by_colour_for_every_viewer(self):
        glyphs = svgdraw.GLYPHS
        self.assertEqual(len(glyphs), len(set(glyphs.values())))
        # Each verdict's glyph is drawn in its cells and in the legend.
        root = parse(heatmap.svg(sample_matrix()))
        drawn = {}
        for g in root.iter(NS + 'g'):
            if g.get('class') in ('cell-box', 'swatch'):
                status = (g.get('data-status') or
                          g.find(NS + 'rect').get('data-shown'))
                drawn.setdefault(status, set()).add(
                    g.find(NS + 'g').get('data-glyph'))
        self.assertEqual({s: {glyphs[s]} for s in glyphs}, drawn)
        # Colours apart for protanopia, deuteranopia, tritanopia (and
        # normal vision); the old red/green pair failed deuteranopia.
        for kind in colour_vision.MACHADO:
            for a, b in itertools.combinations(sorted(heatmap.COLOURS), 2):
                delta = colour_vision.delta(heatmap.COLOURS[a],
                                            heatmap.COLOURS[b], kind)
                self.assertGreater(delta, 15, '%s: %s/%s' % (kind, a, b))
        self.assertLess(colour_vision.delta('#4caf50', '#e53935',
                                            'deuteranopia'), 15)
        # The glyph and label ink is readable on its fill (WCAG AA).
        for colour in heatmap.COLOURS.values():
            self.assertGreaterEqual(
                svgdraw.contrast(svgdraw.ink(colour), colour), 4.5)

    def test_write_svg_and_refuse_other_formats(self):
        tmp = self.useFixture(fixtures.TempDir()).path
        path = os.path.join(tmp, 'm.svg')
        heatmap.write(sample_matrix(), path)
        with open(path, 'rb') as f:
            self.assertEqual(NS + 'svg', ElementTree.parse(f).getroot().tag)
        e = self.assertRaises(InputError, heatmap.write, sample_matrix(),
                              os.path.join(tmp, 'm.gif'))
        self.assertIn('m.gif', str(e))
        e = self.assertRaises(InputError, heatmap.write, sample_matrix(),
                              os.path.join(tmp, 'nodir', 'm.svg'))
        self.assertIn('cannot be written', str(e))

    def test_empty_fleet_is_still_a_picture(self):
        m = matrix.build([])
        root = parse(heatmap.svg(m))
        self.assertEqual([], [r for r in root.iter(NS + 'rect')
                              if r.get('class') == 'cell'])


def _without_cpu_mode(prof):
    from migcompat_filter.profile import Profile
    from migcompat_filter.profile import Unknown
    factors = dict(prof.factors)
    factors['cpu_mode'] = Unknown('nova.conf: no [libvirt] section')
    return Profile(factors)


class TestUnknownCpuMode(testtools.TestCase):
    """A fleet whose hosts report no nova cpu_mode is judged in nova's
    default mode, and both pictures say so plainly (not "each source's
    own cpu_mode", a mode no source has).
    """

    def matrix(self, silent=('a', 'b', 'c')):
        old = fleet_hosts.profile(qemu='7.2.0')
        new = fleet_hosts.profile(qemu='8.2.0', extra=['avx'])
        hosts = [fleet_hosts.host(n, _without_cpu_mode(p) if n in silent
                                  else p)
                 for n, p in (('a', old), ('b', new), ('c', new))]
        return matrix.build(hosts)

    def lines(self, text):
        from migcompat_filter.pictures import graph as fleet_graph
        out = []
        for svg_text in (heatmap.svg(text), fleet_graph.svg(text)):
            root = parse(svg_text)
            assert_inside(self, root)
            out.append(([t.text for t in texts(root, 'subtitle')],
                        [t.text for t in texts(root, 'mode-note')]))
        return out

    def test_every_mode_unknown_is_said_plainly(self):
        for subtitle, note in self.lines(self.matrix()):
            self.assertIn('guest CPU mode: unknown on every host, so judged '
                          'as host-model', subtitle[0])
            self.assertNotIn("each source's own", subtitle[0])
            self.assertEqual(["no host reports nova's [libvirt] cpu_mode: "
                              "every cell is judged as a host-model guest, "
                              "nova's default (--mode judges another)"],
                             note)

    def test_some_modes_unknown_names_those_hosts(self):
        for subtitle, note in self.lines(self.matrix(silent=('a',))):
            self.assertIn("guest CPU mode: each source's own cpu_mode",
                          subtitle[0])
            self.assertEqual(['1 of 3 hosts report no [libvirt] cpu_mode '
                              '(a): their rows are judged as a host-model '
                              "guest, nova's default"], note)

    def test_known_or_given_modes_need_no_note(self):
        for subtitle, note in self.lines(self.matrix(silent=())):
            self.assertIn("each source's own cpu_mode", subtitle[0])
            self.assertEqual([], note)
        hosts = [fleet_hosts.host('a', _without_cpu_mode(
            fleet_hosts.profile()))]
        for subtitle, note in self.lines(matrix.build(hosts,
                                                      mode='custom')):
            self.assertIn('guest CPU mode: custom;', subtitle[0])
            self.assertEqual([], note)


def assert_inside(test, root):
    """Every unrotated text inside the canvas and every cell label inside
    its cell.
    """
    width, height = float(root.get('width')), float(root.get('height'))
    for t in root.iter(NS + 'text'):
        if t.get('transform'):
            length = svgdraw.text_width(t.text, float(t.get('font-size')))
            test.assertGreaterEqual(float(t.get('y')) - length, 0, t.text)
            continue
        x0, y0, x1, y1 = text_box(t)
        test.assertTrue(0 <= x0 and x1 <= width and 0 <= y0 and
                        y1 <= height, '%r clipped' % t.text)
    for g in root.iter(NS + 'g'):
        if g.get('class') != 'cell-box':
            continue
        rect = g.find(NS + 'rect')
        x, y = float(rect.get('x')), float(rect.get('y'))
        for t in g.iter(NS + 'text'):
            x0, y0, x1, y1 = text_box(t)
            test.assertTrue(x <= x0 and x1 <= x + heatmap.CELL and
                            y <= y0 and y1 <= y + heatmap.CELL, t.text)


#: Host names as operators write them, and worse (non-ASCII, markup).
NAMES = st.text(st.characters(min_codepoint=33, max_codepoint=0x2fff,
                              blacklist_categories=('Cs', 'Cc')),
                min_size=1, max_size=60)


class TestLayoutProperties(testtools.TestCase):

    @settings(max_examples=40, deadline=None)
    @given(st.lists(NAMES, min_size=4, max_size=4, unique=True),
           st.text(min_size=1, max_size=40))
    def test_any_names_and_factors_stay_inside(self, names, factor):
        m = sample_matrix(names=tuple(names))
        for cell in m.cells.values():
            for finding in cell.verdict.blocking:
                finding.factor = factor
        root = parse(heatmap.svg(m))
        assert_inside(self, root)
        from migcompat_filter.pictures import graph as fleet_graph
        assert_inside(self, parse(fleet_graph.svg(m)))


#: Fonts the pictures name, where Debian and Fedora install them.
FONT_FILES = (
    '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf',
    '/usr/share/fonts/dejavu-sans-fonts/DejaVuSans.ttf',
    '/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf',
    '/usr/share/fonts/liberation-sans/LiberationSans-Regular.ttf',
)


def installed_fonts():
    return [truetype.Font(p) for p in FONT_FILES if os.path.exists(p)]


class TestAgainstRealFonts(testtools.TestCase):
    """The metric is checked against the font files a renderer uses, not
    against itself.
    """

    def setUp(self):
        super(TestAgainstRealFonts, self).setUp()
        self.fonts = installed_fonts()
        if not self.fonts:
            self.skipTest('none of %s installed (fonts-dejavu-core)'
                          % ', '.join(FONT_FILES))

    @settings(max_examples=200, deadline=None)
    @given(st.text(st.characters(min_codepoint=32, max_codepoint=126),
                   max_size=80),
           st.integers(min_value=6, max_value=24))
    def test_measured_width_is_never_narrower_than_the_font(
            self, text, size):
        for font in self.fonts:
            self.assertGreaterEqual(svgdraw.text_width(text, size) + 1e-9,
                                    font.width(text, size), text)

    def test_cell_labels_fit_as_the_font_sets_them(self):
        m = sample_matrix()
        for cell in m.cells.values():
            if cell.verdict.blocking:
                cell.verdict.blocking[0].factor = 'firmware_settings'
        root = parse(heatmap.svg(m))
        for g in root.iter(NS + 'g'):
            if g.get('class') != 'cell-box':
                continue
            for t in g.iter(NS + 'text'):
                for font in self.fonts:
                    self.assertLessEqual(
                        font.width(t.text, float(t.get('font-size'))),
                        heatmap.CELL - 6, t.text)


class TestTextFit(testtools.TestCase):

    def test_fit_cuts_with_an_ellipsis_to_the_width(self):
        self.assertEqual('ok', svgdraw.fit('ok', 50, 9))
        cut = svgdraw.fit('libvirt_version_and_more', 40, 9)
        self.assertTrue(cut.endswith(svgdraw.ELLIPSIS))
        self.assertLessEqual(svgdraw.text_width(cut, 9), 40)
        self.assertGreater(svgdraw.text_width(cut + 'x', 9), 40 - 9)

    def test_wide_letters_measure_wider(self):
        self.assertGreater(svgdraw.text_width('WWWW', 10),
                           svgdraw.text_width('iiii', 10) * 2)
        # Outside ASCII: a full em, never less.
        self.assertEqual(svgdraw.text_width('\u2713', 10),
                         10 * svgdraw.FALLBACK_SCALE)
