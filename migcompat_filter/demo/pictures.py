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

"""The bundled demo fleet as pictures: its heat map and its compatibility
graph, drawn from the same traits the reporter publishes.

No Placement and no nova are needed: every bundled profile is encoded as
traits (what ``migcompat profile publish`` would publish) and read back into a
fleet host (what ``migcompat fleet matrix`` reads from Placement), so the
pictures show what ``migcompat fleet matrix --output --graph`` would draw for
this fleet. The docs build calls :func:`write` (doc/source/_ext).
"""

import os

from migcompat_filter import cpu_modes
from migcompat_filter.demo import hosts as demo_hosts
from migcompat_filter.exception import InputError

HEATMAP = 'demo-heatmap-%s.svg'
GRAPH = 'demo-graph-%s.svg'


def fleet_hosts(mode=cpu_modes.HOST_MODEL, fleet=None):
    """[fleet.inventory.Host] of the demo fleet in this guest CPU mode,
    classified from their traits as matrix reads them.

    fleet: a list of DemoHost (e.g. the demo's, with this machine), else
    the bundled fleet.
    """
    from migcompat_filter.fleet import inventory
    from migcompat_filter.traits import codec as traits

    if fleet is None:
        fleet = demo_hosts.load_fleet()
    out = []
    for demo_host in fleet:
        host = inventory.Host(demo_host.name, 'demo-' + demo_host.name)
        host.traits = set(traits.encode(demo_host.in_mode(mode))) | {
            'COMPUTE_NODE'}
        host.classify()
        out.append(host)
    return out


def demo_matrix(mode=cpu_modes.HOST_MODEL, fleet=None):
    """The fleet.matrix.Matrix of the bundled fleet in one mode."""
    from migcompat_filter.fleet import matrix
    return matrix.build(fleet_hosts(mode, fleet), mode=mode)


def prepare(directory):
    """Create the output directory (InputError naming it when it cannot
    be), so that a bad --pictures fails before the demo runs.
    """
    try:
        os.makedirs(directory, exist_ok=True)
    except OSError as e:
        raise InputError('--pictures %s: cannot be created: %s'
                         % (directory, e.strerror or e))
    if not os.access(directory, os.W_OK):
        raise InputError('--pictures %s: not writable' % directory)


def write(directory, modes=(cpu_modes.HOST_MODEL,), fleet=None):
    """Write the heat map and the graph of each mode into directory;
    [paths written]. fleet: as for :func:`fleet_hosts`.
    """
    from migcompat_filter.pictures import graph as fleet_graph
    from migcompat_filter.pictures import heatmap

    prepare(directory)
    written = []
    for mode in modes:
        m = demo_matrix(mode, fleet)
        written.append(heatmap.write(
            m, os.path.join(directory, HEATMAP % mode)))
        written.append(fleet_graph.write(
            m, os.path.join(directory, GRAPH % mode)))
    return written


EXCERPT = 'demo-excerpt-%s.txt'


def excerpt(source='milan-a', mode=cpu_modes.HOST_MODEL, fleet=None):
    """The lines of what the demo judges for a guest on source, computed
    from the bundled fleet by the rules engine (the docs quote these, so
    their numbers are the current ones): the accepted hosts with their
    similarity, best first, and the refused ones with their factors.
    """
    from migcompat_filter import rules
    from migcompat_filter.rules import engine

    # As the scheduler sees them: read back from their traits.
    hosts = fleet_hosts(mode, fleet)
    src = [h for h in hosts if h.name == source][0]
    sp = src.profile
    accepted, refused = [], []
    for dst in hosts:
        if dst is src:
            continue
        dp = dst.profile
        verdict = rules.evaluate(sp, dp, mode=mode)
        if verdict.compatible:
            accepted.append((-engine.similarity(sp, dp), dst.name))
        else:
            refused.append('%s (%s)' % (dst.name, ', '.join(
                verdict.factors('block'))))
    return ['a %s guest on %s:' % (mode, source),
            '  accepted (similarity): %s' % ', '.join(
                '%s %.2f' % (name, -sim) for sim, name in sorted(accepted)),
            '  refused: %s' % ', '.join(refused)]


def write_excerpt(directory, source='milan-a', modes=(cpu_modes.HOST_MODEL,)):
    """Write EXCERPT % mode for each mode into directory; [paths]."""
    import textwrap
    prepare(directory)
    written = []
    for mode in modes:
        path = os.path.join(directory, EXCERPT % mode)
        lines = []
        for line in excerpt(source, mode):
            lines.extend(textwrap.wrap(line, 76, subsequent_indent='    ',
                                       break_on_hyphens=False))
        with open(path, 'w') as f:
            f.write('\n'.join(lines) + '\n')
        written.append(path)
    return written
