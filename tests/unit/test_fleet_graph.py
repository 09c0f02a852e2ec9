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

"""The fleet compatibility graph: one arrow per compatible ordered pair of
groups, one-way arrows highlighted, nodes sized by their host count, all
inside the canvas.
"""

import os

from defusedxml import ElementTree
import fixtures
import testtools

from migcompat_filter.exception import InputError
from migcompat_filter.fleet import matrix
from migcompat_filter.pictures import graph as fleet_graph
from tests.unit import fleet_hosts
from tests.unit import svg_helpers

NS = svg_helpers.NS


def paths(root, cls):
    return [p for p in root.iter(NS + 'path')
            if cls in (p.get('class') or '').split()]


class TestGraph(testtools.TestCase):

    def setUp(self):
        super(TestGraph, self).setUp()
        # G1 (a1, a2) old, G2 newer, G3 newest: guests move up only;
        # G4 is another vendor, an island.
        old = fleet_hosts.profile(qemu='7.2.0')
        new = fleet_hosts.profile(qemu='8.2.0', extra=['avx'])
        twin = fleet_hosts.profile(qemu='8.2.0', extra=['avx'],
                                   microcode='0x11')
        amd = fleet_hosts.profile(vendor='AMD')
        self.m = matrix.build([
            fleet_hosts.host('a1', old), fleet_hosts.host('a2', old),
            fleet_hosts.host('b', new), fleet_hosts.host('b-twin', twin),
            fleet_hosts.host('z', amd), fleet_hosts.host('bare', None)])
        self.root = svg_helpers.parse(fleet_graph.svg(self.m))

    def expected(self):
        """{(src, dst): one_way} from the matrix itself."""
        out = {}
        for src in self.m.groups:
            for dst in self.m.groups:
                if src is not dst and self.m.cell(src, dst).verdict.compatible:
                    back = self.m.cell(dst, src).verdict.compatible
                    out[(src.label, dst.label)] = not back
        return out

    def test_an_arrow_per_directed_compatible_pair(self):
        expected = self.expected()
        # The sample has both kinds, so a missing kind would show.
        self.assertIn(True, expected.values())
        self.assertIn(False, expected.values())
        drawn = {(p.get('data-source'), p.get('data-destination')):
                 'one-way' in p.get('class').split()
                 for p in paths(self.root, 'edge')}
        self.assertEqual(len(expected), len(paths(self.root, 'edge')))
        self.assertEqual(expected, drawn)

    def test_one_way_arrows_are_highlighted(self):
        one_way = paths(self.root, 'one-way')
        two_way = paths(self.root, 'two-way')
        self.assertTrue(one_way and two_way)
        for p in one_way:
            self.assertEqual(fleet_graph.ONE_WAY, p.get('stroke'))
            self.assertEqual('url(#arrow-one-way)', p.get('marker-end'))
            self.assertIn('not the other way', p.find(NS + 'title').text)
        for p in two_way:
            self.assertEqual(fleet_graph.TWO_WAY, p.get('stroke'))
            self.assertGreater(float(one_way[0].get('stroke-width')),
                               float(p.get('stroke-width')))
        legend = ' '.join(t.text for t in svg_helpers.texts(
            self.root, 'legend'))
        self.assertIn('one way only (%d)' % len(one_way), legend)

    def test_nodes_sized_by_hosts_and_named_by_them(self):
        nodes = {g.get('data-group'): g for g in self.root.iter(NS + 'g')
                 if g.get('class') == 'node'}
        self.assertEqual({g.label for g in self.m.groups}, set(nodes))
        radius = {}
        for group in self.m.groups:
            node = nodes[group.label]
            self.assertEqual(str(len(group.hosts)), node.get('data-hosts'))
            radius[len(group.hosts)] = float(
                node.find(NS + 'circle').get('r'))
            label = [t.text for t in node.iter(NS + 'text')
                     if t.get('class') == 'node-label']
            self.assertEqual([fleet_graph.heatmap.axis_name(group)], label)
        self.assertGreater(radius[2], radius[1])
        islands = svg_helpers.texts(self.root, 'islands')
        self.assertIn('z', islands[0].text)

    def test_everything_inside_the_canvas(self):
        width = float(self.root.get('width'))
        height = float(self.root.get('height'))
        for t in self.root.iter(NS + 'text'):
            x0, y0, x1, y1 = svg_helpers.text_box(t)
            self.assertTrue(0 <= x0 and x1 <= width and 0 <= y0 and
                            y1 <= height, t.text)
        for c in self.root.iter(NS + 'circle'):
            x, y, r = (float(c.get(k, 0)) for k in ('cx', 'cy', 'r'))
            self.assertTrue(0 <= x - r and x + r <= width and
                            0 <= y - r and y + r <= height)

    def test_write_refuses_other_formats(self):
        tmp = self.useFixture(fixtures.TempDir()).path
        path = fleet_graph.write(self.m, os.path.join(tmp, 'g.svg'))
        with open(path, 'rb') as f:
            self.assertEqual(NS + 'svg', ElementTree.parse(f).getroot().tag)
        e = self.assertRaises(InputError, fleet_graph.write, self.m,
                              os.path.join(tmp, 'g.png'))
        self.assertIn('--graph', str(e))
        self.assertIn('g.png', str(e))

    def test_empty_and_single_group_fleets_are_pictures(self):
        for hosts in ([], [fleet_hosts.host('only', fleet_hosts.profile())]):
            root = svg_helpers.parse(fleet_graph.svg(matrix.build(hosts)))
            self.assertEqual([], paths(root, 'edge'))
