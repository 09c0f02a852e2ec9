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

"""``migcompat fleet islands``: migration islands per guest CPU mode, the
one-way edges between them, and the running guests no host can take.
"""

import concurrent.futures

from cliff import lister

from migcompat_filter import cmd
from migcompat_filter.cmd import columns as cmd_columns
from migcompat_filter.cmd import common
from migcompat_filter import cpu_modes
from migcompat_filter import fleet
from migcompat_filter.placement import hoststate

COLUMNS = ('kind', 'mode', 'hosts', 'to', 'factors', 'action', 'why')
#: A default table (no --long, no -c) fits 100 columns: a one-way edge's
#: destinations are named in its why already, and a stranded guest's
#: action is written there too. json, yaml, value and csv keep COLUMNS.
TABLE_COLUMNS = ('kind', 'mode', 'hosts', 'factors', 'why')
#: Some running guest has no destination at all.
EXIT_STRANDED = 1


class Islands(common.FleetCommand, cmd.ResultStatus, lister.Lister):
    """Show migration islands and stranded guests.

    For each guest CPU mode (or --mode): the islands, groups of hosts a
    guest started on any of them can reach and come back from (strongly
    connected parts of the compatibility graph); the one-way edges between
    islands, with what refuses the way back; and every running guest (its
    host's running-guests record) that no other host can take, with the
    smallest action that frees it and the factor holding it.

    Exit 1 when a guest is stranded, else 0. Reads each host's own traits
    (its running guests): one Placement request per host. A table shows
    the to and action columns with --long (or -c); without, the why
    column names them.
    """

    def get_parser(self, prog_name):
        parser = super(Islands, self).get_parser(prog_name)
        parser.add_argument('--aggregate', metavar='<aggregate>',
                            help='only this aggregate\'s hosts (nova host '
                                 'aggregate name, or Placement aggregate '
                                 'UUID)')
        parser.add_argument('--mode', choices=cpu_modes.MODES,
                            action='append', default=None,
                            help='guest CPU mode (repeatable; default: '
                                 'every mode)')
        parser.add_argument('--strict', action='store_true', default=None,
                            help='every recommendation blocks')
        parser.add_argument('--long', action='store_true',
                            help='a table with the to and action columns '
                                 '(by default the why column names them; '
                                 'json, yaml, value and csv always have '
                                 'them)')
        return self.add_arguments(parser)

    def take_action(self, parsed_args):
        from migcompat_filter.fleet import islands
        f = self.fleet(parsed_args)
        hosts = f.load(aggregate=parsed_args.aggregate)
        self.warn_about_nova()
        if parsed_args.aggregate and not hosts:
            raise fleet.NotFound('aggregate %r has no compute node'
                                 % parsed_args.aggregate)
        traited = [h for h in hosts if h.state == hoststate.TRAITED]
        _read_own(f, traited)
        verdicts = islands.Verdicts(self.policy(parsed_args.strict))
        modes = parsed_args.mode or list(cpu_modes.MODES)
        rows = []
        for mode in modes:
            parts, one_way = islands.islands(traited, mode, verdicts)
            for part in parts:
                rows.append(('island', mode, cmd_columns.ListColumn(
                    part['hosts']), cmd_columns.ListColumn([]),
                    cmd_columns.ListColumn([]), '-', _island_why(part)))
            for edge in one_way:
                rows.append((
                    'one-way', mode, cmd_columns.ListColumn(edge['from']),
                    cmd_columns.ListColumn(edge['to']),
                    cmd_columns.ListColumn(edge['back_factors']), '-',
                    'guests move from %s to %s, not back: %s' % (
                        ', '.join(edge['from']), ', '.join(edge['to']),
                        edge['back'])))
        for s in islands.stranded(traited, verdicts, modes):
            self._exit_status = EXIT_STRANDED
            rows.append(('stranded', s['mode'], cmd_columns.ListColumn(
                [s['host']]), cmd_columns.ListColumn([]),
                cmd_columns.ListColumn(s['factors']), s['action'], s['why']))
        left = [h for h in hosts if h not in traited]
        if left:
            self.app.stderr.write('not judged (no readable traits): %s\n'
                                  % ', '.join('%s (%s)' % (h.name, h.status)
                                              for h in left))
        self.app.stderr.write('%d host(s), %d evaluation(s)\n'
                              % (len(traited), verdicts.evaluations))
        if (parsed_args.formatter == 'table' and not parsed_args.long and
                not parsed_args.columns):
            return TABLE_COLUMNS, [_folded(row) for row in rows]
        return COLUMNS, rows


def _folded(row):
    """A COLUMNS row as TABLE_COLUMNS: a stranded guest's action in its
    why (a one-way row's why names its destinations already).
    """
    kind, mode, hosts, _to, factors, action, why = row
    if kind == 'stranded':
        why = '%s. Smallest action: %s' % (why, action)
    return kind, mode, hosts, factors, why


def _island_why(part):
    hosts = part['hosts']
    if len(hosts) == 1:
        return ('a lone host: no other host takes its guests and gives '
                'them back')
    if not part['inside']:
        return ('identical hosts that refuse each other (an unknown '
                'factor under the policy?)')
    return ('guests started on any of these %d hosts can move among them '
            'both ways' % len(hosts))


def _read_own(f, hosts):
    """Each host's own traits: its running guests (a profile group leaves
    them blank).
    """
    if not hosts:
        return
    with concurrent.futures.ThreadPoolExecutor(
            min(f.workers, len(hosts))) as pool:
        list(pool.map(f.read_own, hosts))
