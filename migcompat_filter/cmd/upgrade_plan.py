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

"""``migcompat fleet upgrade-plan --set ... --aggregate A``: an order in which
to upgrade an aggregate's hosts, draining each at its turn.
"""

from cliff import lister

from migcompat_filter import cmd
from migcompat_filter.cmd import columns as cmd_columns
from migcompat_filter.cmd import common
from migcompat_filter import cpu_modes
from migcompat_filter import exception
from migcompat_filter import fleet

COLUMNS = ('turn', 'host', 'guests', 'moves')
#: No order was found.
EXIT_NO_ORDER = 1


class UpgradePlan(common.FleetCommand, cmd.ResultStatus, lister.Lister):
    """Plan an order of upgrades in which each host can be drained.

    An order in which to upgrade the hosts of an aggregate so that each
    can be drained at its turn.

    The change is --set FACTOR=VALUE (as ``migcompat fleet what-if``). At its
    turn a host's servers (nova's API) must each go to another host of
    the aggregate that may receive it (the rules engine, with the hosts
    upgraded so far changed: a newer QEMU only receives) and has room
    (Placement's inventories and usages, less what earlier turns moved
    there). A server is judged as a guest of --mode, else of its host's
    nova cpu_mode. When no order exists, stderr names the host and the
    server that make it impossible, and the exit status is 1.
    """

    empty_message = None  # it says why there is no plan itself

    def get_parser(self, prog_name):
        parser = super(UpgradePlan, self).get_parser(prog_name)
        parser.add_argument('--set', metavar='<factor>=<value>',
                            dest='changes', required=True,
                            action='append', default=[],
                            help='the upgrade; may be repeated')
        parser.add_argument('--aggregate', metavar='<aggregate>',
                            required=True,
                            help='the aggregate to upgrade')
        parser.add_argument('--mode', choices=cpu_modes.MODES,
                            help='guest CPU mode of every server')
        parser.add_argument('--strict', action='store_true', default=None,
                            help='every recommendation blocks')
        return self.add_arguments(parser)

    def take_action(self, parsed_args):
        from migcompat_filter.fleet import capacity
        from migcompat_filter.fleet import drain
        from migcompat_filter.fleet import upgrade_plan
        from migcompat_filter.fleet import whatif
        from migcompat_filter.placement import hoststate
        from migcompat_filter import rules
        changes = whatif.parse_changes(parsed_args.changes)
        if not parsed_args.aggregate:
            raise exception.InputError('--aggregate <aggregate> is required')
        f = self.fleet(parsed_args)
        if f.nova is None:
            raise exception.InputError('fleet upgrade-plan needs nova\'s API '
                                       'for the servers (%s)' % f.nova_error)
        hosts = f.load(aggregate=parsed_args.aggregate)
        if not hosts:
            raise fleet.NotFound('aggregate %r has no compute node'
                                 % parsed_args.aggregate)
        unread = [h.name for h in hosts if h.state != hoststate.TRAITED]
        if unread:
            # The cloud's state, not bad input: exit 1.
            raise RuntimeError('cannot plan: no readable migcompat traits '
                               'on %s' % ', '.join(unread))
        names = {h.name for h in hosts}
        before = whatif.unchanged_fleet(hosts)
        after = {h.name: h for h in whatif.changed_fleet(hosts, names,
                                                         changes)}
        guests = {}
        for h in hosts:
            mode = parsed_args.mode or rules.choose_mode(h.profile)
            guests[h.name] = [upgrade_plan.Guest(
                s['id'], s.get('name') or s['id'], mode,
                drain.server_need(s, capacity.allocation(
                    f.placement, s['id'], h.uuid)))
                for s in f.nova.servers_on(h.service_host or h.name,
                                           node=h.name)]
        by_uuid = capacity.read_all(f.placement, hosts,
                                    workers=parsed_args.workers)
        free = {h.name: by_uuid[h.uuid] for h in hosts}
        planner = upgrade_plan.Planner(
            before, after, guests, free,
            verdicts=whatif.Verdicts(self.policy(parsed_args.strict)))
        steps = planner.plan()
        if steps is None:
            self._exit_status = EXIT_NO_ORDER
            why = (planner.deepest.text() if planner.deepest else
                   'the search budget ran out')
            self.app.stderr.write('no upgrade order exists: %s\n' % why)
            return COLUMNS, []
        return COLUMNS, [
            (i + 1, st.host, len(st.moves), cmd_columns.ListColumn(
                ['%s -> %s' % (g.name, d) for g, d in st.moves]))
            for i, st in enumerate(steps)]
