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

"""``migcompat matrix --output --graph`` against a real placement server
holding real host profiles (the shared fleet of test_fleet).
"""

import json
import os

from defusedxml import ElementTree
import fixtures

from tests.functional import fleet_base

NS = fleet_base.SVG_NS


class TestMatrixPictures(fleet_base.FleetTestBase):

    def draw(self):
        tmp = self.useFixture(fixtures.TempDir()).path
        heat, graph = os.path.join(tmp, 'm.svg'), os.path.join(tmp, 'g.svg')
        status, out, err = self.run_cli(
            'matrix', '--pairs', '--output', heat, '--graph', graph,
            '-f', 'json', '--placement-url', self.placement.url)
        self.assertEqual(0, status, err)
        self.assertIn('wrote %s' % graph, err)
        parsed = []
        for path in (heat, graph):
            with open(path, 'rb') as f:
                parsed.append(ElementTree.parse(f).getroot())
        return json.loads(out), parsed[0], parsed[1]

    def test_graph_has_a_path_for_every_compatible_pair_of_the_table(self):
        pairs, _heat, graph = self.draw()
        ok = {(r['source'], r['destination']) for r in pairs
              if r['compatible'] and r['source'] != r['destination']}
        box = {}
        for g in graph.iter(NS + 'g'):
            if g.get('class') == 'node':
                for label in g.get('data-groups').split():
                    box[label] = g.get('data-groups')
        up = {}
        for p in graph.iter(NS + 'path'):
            if 'edge' in (p.get('class') or '').split():
                up.setdefault(box[p.get('data-source')], set()).add(
                    box[p.get('data-destination')])

        def reach(a):
            seen, todo = set(), [a]
            while todo:
                for b in up.get(todo.pop(), ()):
                    if b not in seen:
                        seen.add(b)
                        todo.append(b)
            return seen
        for src, dst in ok:
            self.assertTrue(box[src] == box[dst] or
                            box[dst] in reach(box[src]), (src, dst))
        # The real fleet has an older QEMU host: some arrow.
        self.assertTrue(up)
        sizes = {t.get('data-group'): int(t.get('data-hosts'))
                 for t in graph.iter(NS + 'text')
                 if t.get('class') == 'node-label'}
        for row in pairs:
            self.assertEqual(len(row['source_hosts']), sizes[row['source']])

    def test_heatmap_axes_name_the_hosts(self):
        pairs, heat, _graph = self.draw()
        rows = {t.get('data-group'): t.text for t in heat.iter(NS + 'text')
                if t.get('class') == 'row'}
        for row in pairs:
            names = row['source_hosts']
            expected = names[0] + (' (+%d)' % (len(names) - 1)
                                   if len(names) > 1 else '')
            self.assertEqual(expected, rows[row['source']])
        # milan-1 and milan-2 are identical: one group of two.
        self.assertIn('milan-1 (+1)', rows.values())

    def test_graph_needs_an_svg_name(self):
        status, out, err = self.run_cli(
            'matrix', '--graph', '/tmp/graph.png',
            '--placement-url', self.placement.url)
        self.assertEqual(2, status)
        self.assertIn('--graph /tmp/graph.png', err)
        self.assertNotIn('Traceback', err)
