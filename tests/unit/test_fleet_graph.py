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

"""The fleet compatibility graph: a layered
transitive reduction, the most capable hosts on top, host names in the
boxes, readable at 30 groups, all inside the canvas.
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

    def boxes(self):
        """{group label: (box element, x, y, w, h)}."""
        out = {}
        for g in self.root.iter(NS + 'g'):
            if g.get('class') != 'node':
                continue
            r = g.find(NS + 'rect')
            geo = tuple(float(r.get(k)) for k in ('x', 'y', 'width',
                                                  'height'))
            for label in g.get('data-groups').split():
                out[label] = (g,) + geo
        return out

    def arrows(self):
        return {(p.get('data-source'), p.get('data-destination'))
                for p in paths(self.root, 'edge')}

    def test_arrows_lose_no_migration_and_draw_no_shortcut(self):
        boxes = self.boxes()
        box_of = {label: boxes[label][0] for label in boxes}
        arrows = {(box_of[a], box_of[b]) for a, b in self.arrows()}
        by_box = {}
        for a, b in arrows:
            by_box.setdefault(a, set()).add(b)

        def reachable(a):
            seen, todo = set(), [a]
            while todo:
                for b in by_box.get(todo.pop(), ()):
                    if b not in seen:
                        seen.add(b)
                        todo.append(b)
            return seen
        compatible = 0
        for src in self.m.groups:
            for dst in self.m.groups:
                if src is dst or not self.m.cell(
                        src, dst).verdict.compatible:
                    continue
                compatible += 1
                a, b = box_of[src.label], box_of[dst.label]
                # Same box (both ways), or a path of arrows up to it.
                self.assertTrue(a is b or b in reachable(a),
                                (src.label, dst.label))
        self.assertGreater(compatible, len(arrows))
        # The transitive reduction: no arrow another path implies.
        for a, b in arrows:
            others = by_box[a] - {b}
            self.assertFalse(any(b in reachable(c) or b is c
                                 for c in others))
        # And an arrow only where guests can go.
        for a, b in self.arrows():
            self.assertIn((a, b), fleet_graph.reach(self.m))

    def test_every_arrow_points_up_to_the_more_capable(self):
        boxes = self.boxes()
        self.assertTrue(self.arrows())
        for a, b in self.arrows():
            self.assertLess(boxes[b][2], boxes[a][2], (a, b))
        # b (newer QEMU, more features) receives from a1's group.
        names = {t.text: t.get('data-group') for t in
                 svg_helpers.texts(self.root, 'node-label')}
        self.assertLess(boxes[names['b (+1)'] if 'b (+1)' in names
                              else names['b']][2],
                        boxes[names['a1 (+1)']][2])

    def test_host_names_in_the_boxes(self):
        labels = {t.get('data-group'): t for t in
                  svg_helpers.texts(self.root, 'node-label')}
        self.assertEqual({g.label for g in self.m.groups}, set(labels))
        boxes = self.boxes()
        for group in self.m.groups:
            t = labels[group.label]
            self.assertEqual(fleet_graph.heatmap.axis_name(group), t.text)
            self.assertEqual(str(len(group.hosts)), t.get('data-hosts'))
            _g, x, y, w, h = boxes[group.label]
            x0, y0, x1, y1 = svg_helpers.text_box(t)
            self.assertTrue(x <= x0 and x1 <= x + w and y <= y0 and
                            y1 <= y + h, t.text)
        islands = svg_helpers.texts(self.root, 'islands')
        self.assertIn('z', ' '.join(t.text for t in islands))

    def test_everything_inside_the_canvas(self):
        width = float(self.root.get('width'))
        height = float(self.root.get('height'))
        for t in self.root.iter(NS + 'text'):
            x0, y0, x1, y1 = svg_helpers.text_box(t)
            self.assertTrue(0 <= x0 and x1 <= width and 0 <= y0 and
                            y1 <= height, t.text)
        for _g, x, y, w, h in self.boxes().values():
            self.assertTrue(0 <= x and x + w <= width and
                            0 <= y and y + h <= height)

    def test_thirty_groups_stay_readable(self):
        # 30 distinct profiles: ten QEMU versions x three feature sets.
        hosts = []
        for q in range(10):
            for f, extra in enumerate(([], ['avx'], ['avx', 'avx2'])):
                hosts.append(fleet_hosts.host(
                    'host-%02d-%d' % (q, f),
                    fleet_hosts.profile(
                        qemu='%d.%d.0' % (7 + q // 4, q % 4), extra=extra)))
        m = matrix.build(hosts)
        self.assertEqual(30, len(m.groups))
        self.root = svg_helpers.parse(fleet_graph.svg(m))
        self.m = m
        boxes = list({id(b[0]): b for b in self.boxes().values()}.values())
        # No two boxes overlap; no row is wider than MAX_ROW boxes.
        for i, a in enumerate(boxes):
            for b in boxes[i + 1:]:
                self.assertFalse(a[1] < b[1] + b[3] and b[1] < a[1] + a[3]
                                 and a[2] < b[2] + b[4] and
                                 b[2] < a[2] + a[4])
        rows = {}
        for b in boxes:
            rows.setdefault(b[2], []).append(b)
        self.assertLessEqual(max(len(r) for r in rows.values()),
                             fleet_graph.MAX_ROW)
        # Fewer arrows than compatible pairs (the reduction), each up.
        compatible = sum(1 for s in m.groups for d in m.groups
                         if s is not d and m.cell(s, d).verdict.compatible)
        self.assertLess(len(self.arrows()), compatible / 3)
        self.test_everything_inside_the_canvas()
        self.test_arrows_lose_no_migration_and_draw_no_shortcut()

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
