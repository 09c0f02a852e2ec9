"""The matrix heat map is a valid SVG whose cells say what the table says."""

import os

from defusedxml import ElementTree
import fixtures
import testtools

from migcompat_filter.exception import InputError
from migcompat_filter.fleet import matrix
from migcompat_filter import heatmap
from tests.unit import test_fleet

NS = '{http://www.w3.org/2000/svg}'


def sample_matrix(names=('a<1>', 'a&2', 'b', 'c')):
    old = test_fleet.profile(qemu='7.2.0')
    new = test_fleet.profile(qemu='8.2.0', extra=['avx'])
    newest = test_fleet.profile(qemu='9.0.0', extra=['avx', 'avx2'],
                                microcode='0x99')
    hosts = [test_fleet.host(names[0], old), test_fleet.host(names[1], old),
             test_fleet.host(names[2], new),
             test_fleet.host(names[3], newest),
             test_fleet.host('bare"one', None)]
    return matrix.build(hosts)


class TestSvg(testtools.TestCase):

    def parse(self, text):
        return ElementTree.fromstring(text.encode('utf-8'))

    def test_cells_match_the_matrix(self):
        m = sample_matrix()
        root = self.parse(heatmap.svg(m))
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
            self.assertEqual(','.join(cell.blocking),
                             rect.get('data-blocking'))
            self.assertEqual(heatmap.COLOURS[cell.status], rect.get('fill'))
            tip = rect.find(NS + 'title').text
            self.assertIn(cell.text(), tip)
            statuses.add(cell.status)
        # The sample has both outcomes, so a wrong colour would show.
        self.assertIn('refused', statuses)
        self.assertIn('ok', statuses)

    def test_names_are_escaped_and_listed(self):
        m = sample_matrix()
        root = self.parse(heatmap.svg(m))
        groups = {t.get('data-group'): t.text for t in root.iter(NS + 'text')
                  if t.get('class') == 'group'}
        self.assertIn('a&2, a<1>', groups['G1'])
        left = [t.text for t in root.iter(NS + 'text')
                if t.get('class') == 'left-out']
        self.assertEqual(['bare"one: no migcompat traits'], left)

    def test_rows_and_columns_are_labelled_in_order(self):
        m = sample_matrix()
        root = self.parse(heatmap.svg(m))
        rows = [t.text for t in root.iter(NS + 'text')
                if t.get('class') == 'row']
        cols = [t.text for t in root.iter(NS + 'text')
                if t.get('class') == 'column']
        self.assertEqual([g.label for g in m.groups], rows)
        self.assertEqual(rows, cols)

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
        root = self.parse(heatmap.svg(m))
        self.assertEqual([], [r for r in root.iter(NS + 'rect')
                              if r.get('class') == 'cell'])
