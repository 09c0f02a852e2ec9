"""``migcompat check SERVER``: where the scheduler would let one server
live-migrate (also ``openstack migcompat check``)."""

from cliff import lister

from migcompat_filter.cmd import common
from migcompat_filter import cpu_modes
from migcompat_filter import fleet
from migcompat_filter import hoststate

COLUMNS = ('host', 'accepted', 'reason')


class Check(common.FleetCommand, lister.Lister):
    """For one server: the hosts the scheduler would accept as live-migration
    targets and, for each refused host, why.

    Needs nova's API (to find the server's host). A host is refused when
    nova's service is down or disabled, or when the migcompat filter
    would refuse it: the rules engine (guest CPU mode: the source's nova
    cpu_mode unless --mode) under the [migcompat] policy, and the
    filter's actions for hosts without (readable) traits.
    """

    def get_parser(self, prog_name):
        parser = super(Check, self).get_parser(prog_name)
        parser.add_argument('server', metavar='SERVER',
                            help='server name or ID')
        parser.add_argument('--mode', choices=cpu_modes.MODES,
                            help='judge this guest CPU mode instead of the '
                                 'source host\'s')
        parser.add_argument('--strict', action='store_true', default=None,
                            help='every recommendation blocks')
        return self.add_arguments(parser)

    def take_action(self, parsed_args):
        hosts, source = self._locate(parsed_args.server,
                                     self.fleet(parsed_args))
        if source.state != hoststate.TRAITED:
            return COLUMNS, self._unjudged_source(hosts, source)
        return COLUMNS, self._judged(hosts, source, parsed_args)

    def _locate(self, server_name, f):
        """(every host, the Host the server runs on)."""
        # Find the server first: without nova nothing else is worth doing.
        server, node = f.server_host(server_name)
        hosts = f.load()
        source = [h for h in hosts if h.name == node]
        if not source:
            raise fleet.NotFound('server %s runs on compute node %s, which '
                                 'is not in Placement' % (server['id'], node))
        self.app.stderr.write('server %s (%s) on %s\n' % (
            server.get('name'), server['id'], node))
        return hosts, source[0]

    def _unjudged_source(self, hosts, source):
        # The filter cannot judge any destination: it applies one action.
        action = self.conf().migcompat.untraited_source_action
        why = ('source %s: %s; the filter %ss every host '
               '(untraited_source_action)' % (source.name, source.status,
                                              action))
        rows = []
        for h in hosts:
            if h.uuid == source.uuid:
                continue
            refusal = h.nova_refusal()
            rows.append((h.name, not refusal and action == 'pass',
                         'nova: ' + refusal if refusal else why))
        return rows

    def _judged(self, hosts, source, parsed_args):
        from migcompat_filter.fleet import matrix
        judged = matrix.accepts(
            hosts, source, policy=self.policy(parsed_args.strict),
            mode=parsed_args.mode,
            conf_actions=matrix.actions_from_conf(self.conf()))
        judged.sort(key=lambda j: (not j[1], j[0].name))
        return [(h.name, ok, why) for h, ok, why, _v in judged]
