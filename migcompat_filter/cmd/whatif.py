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

"""``migcompat fleet what-if --set FACTOR=VALUE (--host H... |
--aggregate A)``: what a planned change to some hosts does to live migration.
"""

from cliff import lister

from migcompat_filter import cmd
from migcompat_filter.cmd import columns as cmd_columns
from migcompat_filter.cmd import common
from migcompat_filter import cpu_modes
from migcompat_filter import exception
from migcompat_filter import fleet

COLUMNS = ('change', 'source', 'destination', 'factors', 'detail')
#: Some running guest would be left with no valid target.
EXIT_STRANDS = 1


class WhatIf(common.FleetCommand, cmd.ResultStatus, lister.Lister):
    """Show what a planned change to some hosts' profiles changes.

    --set FACTOR=VALUE (repeatable) is applied to the hosts named by
    --host or to the members of --aggregate: microcode_version,
    kernel_version, kernel_cmdline (one parameter, e.g. tsx=off, which
    also hides the TSX features hle and rtm), qemu_version,
    libvirt_version, firmware_version, remove_features (comma-separated
    CPU features an update removes).

    Rows: live migrations between two hosts (one of them changed) that
    become impossible or newly possible (the matrix delta, for a guest
    started on the source), then hosts whose running guests (their
    running-guests record) would be left with no valid target. Exit 1
    when some guest would be stranded, else 0.
    """

    empty_message = 'the change alters no live migration and strands no guest'

    def get_parser(self, prog_name):
        parser = super(WhatIf, self).get_parser(prog_name)
        parser.add_argument('--set', metavar='<factor>=<value>',
                            dest='changes', required=True,
                            action='append', default=[],
                            help='a planned change; may be repeated')
        where = parser.add_mutually_exclusive_group(required=True)
        where.add_argument('--host', metavar='<host>', nargs='+',
                           default=[], help='the hosts the change applies '
                                            'to')
        where.add_argument('--aggregate', metavar='<aggregate>',
                           help='apply the change to this aggregate\'s '
                                'hosts')
        parser.add_argument('--mode', choices=cpu_modes.MODES,
                            help='guest CPU mode of the matrix delta '
                                 '(default: each source\'s cpu_mode)')
        parser.add_argument('--strict', action='store_true', default=None,
                            help='every recommendation blocks')
        return self.add_arguments(parser)

    def take_action(self, parsed_args):
        from migcompat_filter.fleet import whatif
        changes = whatif.parse_changes(parsed_args.changes)
        if not parsed_args.host and not parsed_args.aggregate:
            raise exception.InputError('name the hosts to change: --host '
                                       '<host>... or --aggregate <aggregate>')
        f = self.fleet(parsed_args)
        hosts = f.load()
        self.warn_about_nova()
        names = _targets(f, hosts, parsed_args)
        verdicts = whatif.Verdicts(self.policy(parsed_args.strict))
        before = whatif.unchanged_fleet(hosts)
        after = whatif.changed_fleet(hosts, names, changes)
        touched = [a.name for a in after if a.changed]
        self.app.stderr.write('changing %d host(s): %s\n'
                              % (len(touched), ', '.join(touched)))
        rows = [('now ' + kind, src, dst, cmd_columns.ListColumn(factors),
                 'blocked by %s before' % ', '.join(factors)
                 if kind == 'possible' else
                 'blocked by %s after' % ', '.join(factors))
                for src, dst, kind, factors in whatif.delta(
                    before, after, parsed_args.mode, verdicts)]
        for host, mode, count, had in whatif.stranded(before, after,
                                                      verdicts):
            self._exit_status = EXIT_STRANDS
            rows.append(('stranded guests', host, '-',
                         cmd_columns.ListColumn([]),
                         '%d %s guest(s) left with no valid target (%s '
                         'before)' % (count, mode, had or 'none')))
        self.app.stderr.write('%d evaluation(s)\n' % verdicts.evaluations)
        return COLUMNS, rows


def _targets(f, hosts, parsed_args):
    """The names the change applies to (NotFound naming an unknown one)."""
    if parsed_args.aggregate:
        members = f.load(aggregate=parsed_args.aggregate)
        if not members:
            raise fleet.NotFound('aggregate %r has no compute node'
                                 % parsed_args.aggregate)
        return {h.name for h in members}
    known = {}
    for h in hosts:
        for n in (h.name, h.uuid, h.service_host):
            if n:
                known[n] = h.name
    missing = [n for n in parsed_args.host if n not in known]
    if missing:
        raise fleet.NotFound('--host %s: no compute node by that name'
                             % ', '.join(missing))
    return {known[n] for n in parsed_args.host}
