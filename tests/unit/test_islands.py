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

"""The strongly connected parts behind ``fleet islands`` (the fleet
itself is in tests/functional/test_fleet_islands.py).
"""

import testtools

from migcompat_filter.fleet import islands


class StronglyConnectedTest(testtools.TestCase):

    def test_cycles_and_one_way_edges(self):
        # a <-> b <-> c form one part; d -> a one way; e alone.
        edges = {'a': ['b', 'd'], 'b': ['c'], 'c': ['a'], 'd': [],
                 'e': []}
        parts = islands._strongly_connected(sorted(edges), edges)
        self.assertEqual([['a', 'b', 'c'], ['d'], ['e']], sorted(parts))

    def test_a_long_chain_needs_no_recursion(self):
        n = 5000
        edges = {i: [i + 1] for i in range(n)}
        edges[n] = [0]
        parts = islands._strongly_connected(list(edges), edges)
        self.assertEqual([list(range(n + 1))], parts)

    def test_the_smallest_upgrade_prefers_the_newest_host(self):
        class V(object):
            def __init__(self, factors):
                self._f = factors

            def factors(self):
                return self._f

        class H(object):
            def __init__(self, name, qemu, libvirt):
                self.name = name
                self.profile = {'qemu_version': qemu,
                                'libvirt_version': libvirt}
        judged = [(H('old', '6.2.0', '8.0.0'), V(['qemu_version'])),
                  (H('new', '9.0.0', '10.0.0'), V(['qemu_version']))]
        self.assertEqual('new', min(judged,
                                    key=islands._least_upgrade)[0].name)
