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

"""``migcompat fleet matrix``: which hosts can receive live migrations from
which (also ``openstack migcompat fleet matrix``).
"""

from cliff import lister

from migcompat_filter.cmd import columns as cmd_columns
from migcompat_filter.cmd import common
from migcompat_filter import cpu_modes

PAIR_COLUMNS = ('source', 'destination', 'source_hosts',
                'destination_hosts', 'compatible', 'status', 'blocking',
                'warnings', 'reason')


class MatrixCommand(common.FleetCommand, lister.Lister):
    """Show which hosts can receive live migrations from which.

    Hosts with identical profiles are collapsed into groups (G1 is the
    biggest). One row per source group: the destination groups its
    guests can live-migrate to, and those refused with their blocking
    factors. --grid shows the full grid instead (each column, "to <first
    host> (+N)", a destination group: "yes", "yes (N warnings)", "NO:
    <blocking factors>", or "n/a" for a one-host group against itself);
    --pairs one row per group pair with the first reason; --output
    FILE.svg also draws the heat map. Hosts without readable traits are
    left out (listed on stderr).
    """

    empty_message = 'no compute node with migcompat traits'

    def get_parser(self, prog_name):
        parser = super(MatrixCommand, self).get_parser(prog_name)
        parser.add_argument('--mode', choices=cpu_modes.MODES,
                            help='guest CPU mode to judge (default: each '
                                 'source\'s nova cpu_mode, else host-model)')
        parser.add_argument('--aggregate', metavar='<aggregate>',
                            help='Only the hosts of this aggregate.')
        parser.add_argument('--strict', action='store_true', default=None,
                            help='every recommendation blocks')
        layout = parser.add_mutually_exclusive_group()
        layout.add_argument('--grid', action='store_true',
                            help='One column per destination group (wide: '
                                 'about 16 columns per group).')
        layout.add_argument('--pairs', action='store_true',
                            help='One row per (source, destination) group '
                                 'pair, with the reason.')
        parser.add_argument('--output', metavar='<file>',
                            help='Also write the heat map to FILE (.svg; '
                                 '.png with the optional cairosvg).')
        parser.add_argument('--graph', metavar='<file>',
                            help='Also write the compatibility graph to '
                                 'FILE (.svg).')
        return self.add_arguments(parser)

    def take_action(self, parsed_args):
        from migcompat_filter.fleet import matrix
        hosts = self.fleet(parsed_args).load(aggregate=parsed_args.aggregate)
        self.warn_about_nova()
        m = matrix.build(hosts, mode=parsed_args.mode,
                         policy=self.policy(parsed_args.strict))
        self._report_left_out(m)
        if parsed_args.output:
            self._write_heatmap(m, parsed_args.output, _scope(parsed_args))
        if parsed_args.graph:
            from migcompat_filter.pictures import graph as fleet_graph
            fleet_graph.write(m, parsed_args.graph)
            self.app.stderr.write('wrote %s\n' % parsed_args.graph)
        if parsed_args.pairs:
            return _pairs(m)
        return _grid(m) if parsed_args.grid else _compact(m)

    def _report_left_out(self, m):
        for host, why in m.left_out:
            self.app.stderr.write('not in the matrix: %s: %s\n'
                                  % (host.name, why))

    def _write_heatmap(self, m, path, scope):
        from migcompat_filter.pictures import heatmap
        heatmap.write(m, path, scope=scope)
        self.app.stderr.write('wrote %s\n' % path)


def _scope(parsed_args):
    """Which hosts the picture shows, for its title."""
    where = ('aggregate %s' % parsed_args.aggregate if parsed_args.aggregate
             else 'every compute node with migcompat traits')
    cloud = getattr(parsed_args, 'os_cloud', None)
    return '%s%s' % (where, ' of cloud %s' % cloud if cloud else '')


COMPACT_COLUMNS = ('group', 'hosts', 'can_migrate_to', 'refused_by')


def _compact(m):
    """One row per source group: the destination groups that accept its
    guests and those that refuse them, with the blocking factors (the
    grid's content in a table that fits a terminal).
    """
    from migcompat_filter.pictures import heatmap
    rows = []
    for src in m.groups:
        accepted, refused = [], []
        for dst in m.groups:
            cell = m.cell(src, dst)
            state = heatmap.status(cell)
            if state == heatmap.NOT_APPLICABLE:
                continue
            name = heatmap.axis_name(dst)
            if cell.status == 'refused':
                refused.append('%s: %s' % (name, ', '.join(cell.blocking)))
            elif cell.status == 'warn':
                accepted.append('%s (%s)' % (name, cell.text()[5:-1]))
            else:
                accepted.append(name)
        rows.append((src.label, cmd_columns.ListColumn(src.names),
                     cmd_columns.ListColumn(accepted or ['(none)']),
                     cmd_columns.ListColumn(refused or ['(none)'])))
    return COMPACT_COLUMNS, rows


def _grid(m):
    """One row per source group, one column per destination group, named
    by its hosts as the heat map's axes are ("to milan-a (+3)"), so that
    ``-f json`` keys say which hosts they are; a one-host group against
    itself is n/a (a host never migrates to itself).
    """
    from migcompat_filter.pictures import heatmap
    cols = ('group', 'hosts') + tuple('to ' + heatmap.axis_name(g)
                                      for g in m.groups)
    rows = [(src.label, cmd_columns.ListColumn(src.names)) + tuple(
        _grid_text(m, src, dst) for dst in m.groups) for src in m.groups]
    return cols, rows


def _grid_text(m, src, dst):
    from migcompat_filter.pictures import heatmap
    cell = m.cell(src, dst)
    if heatmap.status(cell) == heatmap.NOT_APPLICABLE:
        return 'n/a (one host)'
    return cell.text()


def _pairs(m):
    """One row per (source, destination) group pair, with the reason."""
    rows = []
    for src in m.groups:
        for dst in m.groups:
            c = m.cell(src, dst)
            rows.append((src.label, dst.label,
                         cmd_columns.ListColumn(src.names),
                         cmd_columns.ListColumn(dst.names),
                         c.verdict.compatible, c.status,
                         cmd_columns.ListColumn(c.blocking),
                         cmd_columns.ListColumn(c.verdict.factors('warn')),
                         c.reason()))
    return PAIR_COLUMNS, rows
