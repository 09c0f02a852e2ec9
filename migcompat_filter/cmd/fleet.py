"""Fleet commands: ``migcompat host list|show``, ``matrix``, ``check``,
``baseline`` (also ``openstack migcompat ...`` through the OSC plugin).

They read every compute node's ``CUSTOM_MIGCOMPAT_*`` traits from
Placement and judge with the same rules engine as ``migcompat compare``
and the scheduler filter. Placement (and nova's API, for host names,
server lookups and aggregates) is reached with a ``clouds.yaml`` cloud or
``OS_*`` variables (``--os-cloud``), nova's ``[placement]`` options in a
config file (``--config-file``, default ``/etc/nova/nova.conf``), or with
no auth (``--placement-url`` and ``--nova-url``, for tests). Inside
``openstack`` the OpenStackClient session is used.
"""

import os

from cliff import columns
from cliff import lister
from cliff import show

from migcompat_filter.cmd import FastEpilog
from migcompat_filter import conf as conf_mod
from migcompat_filter.conf import policy as policy_conf
from migcompat_filter import exception
from migcompat_filter import fleet
from migcompat_filter import heatmap
from migcompat_filter import placement
from migcompat_filter.profile import to_jsonable

#: Environment variables "compare HOST_A HOST_B" honours (it has no
#: connection options of its own): OS_CLOUD / OS_AUTH_URL (clouds.yaml or
#: OS_* credentials), or these two for a Placement without auth.
ENV_PLACEMENT_URL = 'MIGCOMPAT_PLACEMENT_URL'
ENV_NOVA_URL = 'MIGCOMPAT_NOVA_URL'


class JSONColumn(columns.FormattableColumn):
    """Structured data: compact JSON in a table, the data itself in
    json/yaml."""

    def human_readable(self):
        value = to_jsonable(self._value)
        if isinstance(value, str):
            return value
        import json
        return json.dumps(value, sort_keys=True)

    def machine_readable(self):
        return to_jsonable(self._value)


class ListColumn(columns.FormattableColumn):
    def human_readable(self):
        return '\n'.join(str(v) for v in self._value or ())

    def machine_readable(self):
        return list(self._value or ())


# -- connection ---------------------------------------------------------

def add_connection_arguments(parser):
    group = parser.add_argument_group('cloud connection')
    group.add_argument(
        '--os-cloud', metavar='NAME', default=os.environ.get('OS_CLOUD'),
        help='clouds.yaml cloud to use (default: $OS_CLOUD; with OS_AUTH_URL '
             'and other OS_* variables set, those are used). Without it, '
             'nova\'s [placement] options from --config-file (default '
             '/etc/nova/nova.conf) are used.')
    group.add_argument(
        '--placement-url', metavar='URL',
        default=os.environ.get(ENV_PLACEMENT_URL),
        help='Placement endpoint without auth (token "admin"; a placement '
             'with auth_strategy = noauth2, e.g. tests). Default: $%s.'
             % ENV_PLACEMENT_URL)
    group.add_argument(
        '--nova-url', metavar='URL', default=os.environ.get(ENV_NOVA_URL),
        help='nova API endpoint to use with --placement-url (token '
             '"admin"). Default: $%s; without it and without nova in the '
             'service catalog, hosts are Placement\'s provider names.'
             % ENV_NOVA_URL)
    group.add_argument(
        '--workers', metavar='N', type=int, default=fleet.DEFAULT_WORKERS,
        help='Placement requests in flight at once (default: %(default)s).')
    group.add_argument(
        '--progress', action='store_true', default=None,
        help='Show progress on stderr (default: when stderr is a terminal).')
    return parser


def _progress_printer(stream):
    state = {'last': -1}

    def progress(done, total):
        pct = done * 100 // total
        if pct == state['last'] and done != total:
            return
        state['last'] = pct
        stream.write('\rreading traits: %d/%d hosts (%d%%)'
                     % (done, total, pct))
        if done == total:
            stream.write('\n')
        stream.flush()
    return progress


def _load_conf(config_files):
    from migcompat_filter.cmd import report
    return report.load_conf(config_files)


def connect(conf, os_cloud=None, placement_url=None, nova_url=None,
            workers=fleet.DEFAULT_WORKERS, progress=None):
    """A :class:`fleet.Fleet` from the connection options."""
    timeout = conf.migcompat.request_timeout
    if placement_url:
        pl = placement.adapter_noauth(placement_url, timeout=timeout)
        nova = (fleet.nova_adapter_noauth(nova_url, timeout=timeout)
                if nova_url else None)
    else:
        if os_cloud or os.environ.get('OS_AUTH_URL'):
            pl = placement.adapter_from_cloud(os_cloud, timeout=timeout)
        else:
            pl = placement.adapter_from_conf(conf, timeout=timeout)
        nova = fleet.nova_adapter_from(pl)
        if nova_url:
            nova.endpoint_override = nova_url
    return fleet.Fleet(placement.PlacementClient(pl),
                       fleet.NovaClient(nova) if nova else None,
                       workers=workers, progress=progress)


def lookup_profile(name):
    """(Profile, description) of the compute node called name, or None
    when no cloud connection is configured in the environment (used by
    ``migcompat compare HOST_A HOST_B``)."""
    url = os.environ.get(ENV_PLACEMENT_URL)
    cloud = os.environ.get('OS_CLOUD')
    if not (url or cloud or os.environ.get('OS_AUTH_URL')):
        return None
    conf = _load_conf([])
    try:
        host = connect(conf, os_cloud=cloud, placement_url=url,
                       nova_url=os.environ.get(ENV_NOVA_URL)).host(
                           name, timestamps=False)
    except placement.PlacementError as e:
        raise exception.InputError('%s: not a file, and looking it up as a '
                                   'host failed: %s' % (name, e))
    if host.state != fleet.TRAITED:
        raise exception.InputError(
            '%s: compute node %s has %s' % (
                name, host.uuid, fleet.summary(host)['profile']))
    return host.profile, 'host %s (%s)' % (host.name, host.uuid)


class FleetCommand(FastEpilog):
    """Mixin: connection options (unless inside openstack) and helpers."""

    def _in_osc(self):
        # OSC registers plugins as lazy attributes of the ClientManager
        # class; look at the class, so that --help needs no credentials.
        cm = getattr(self.app, 'client_manager', None)
        return cm is not None and any('migcompat' in vars(k)
                                      for k in type(cm).__mro__)

    def add_arguments(self, parser):
        if not self._in_osc():
            add_connection_arguments(parser)
        else:
            parser.add_argument('--workers', type=int,
                                default=fleet.DEFAULT_WORKERS,
                                help='Placement requests in flight at once.')
            parser.add_argument('--progress', action='store_true',
                                default=None,
                                help='Show progress on stderr.')
        return parser

    def conf(self):
        if not hasattr(self, '_conf'):
            files = getattr(getattr(self.app, 'options', None),
                            'config_file', None)
            self._conf = _load_conf(files or [])
        return self._conf

    def policy(self, strict=None):
        return conf_mod.policy_from_conf(self.conf(), strict=strict)

    def fleet(self, parsed_args):
        show_progress = parsed_args.progress
        if show_progress is None:
            show_progress = self.app.stderr.isatty()
        progress = (_progress_printer(self.app.stderr) if show_progress
                    else None)
        if self._in_osc():
            client = self.app.client_manager.migcompat
            f = fleet.Fleet(
                placement.PlacementClient(client.placement),
                fleet.NovaClient(client.compute),
                workers=parsed_args.workers, progress=progress)
        else:
            f = connect(self.conf(), parsed_args.os_cloud,
                        parsed_args.placement_url, parsed_args.nova_url,
                        workers=parsed_args.workers, progress=progress)
        self._fleet = f
        return f

    def warn_about_nova(self):
        f = getattr(self, '_fleet', None)
        if f is not None and f.nova_failed:
            self.app.stderr.write(
                'warning: nova\'s API is not usable (%s); hosts are named '
                'by their Placement resource providers\n' % f.nova_error)


# -- host list / show ------------------------------------------------------

_LIST_COLUMNS = ('name', 'profile', 'cpu', 'microcode', 'kernel', 'qemu',
                 'libvirt', 'mode', 'nested', 'changed')
_LONG_COLUMNS = _LIST_COLUMNS + ('uuid', 'service_host', 'nova')


class HostList(FleetCommand, lister.Lister):
    """List every compute node with its migcompat profile summary.

    One row per compute node: CPU (name [family/model/stepping]),
    microcode, kernel, QEMU, libvirt, guest CPU mode, nested, and when the
    reporter last changed the host's traits ("changed": Placement keeps no
    per-trait time, so it is the window between the creation of the
    newest of the host's trait values and the provider's last update).
    Hosts without migcompat traits show "no migcompat traits".
    """

    def get_parser(self, prog_name):
        parser = super(HostList, self).get_parser(prog_name)
        parser.add_argument('--aggregate', metavar='AGG',
                            help='Only the hosts of this aggregate (nova '
                                 'name or ID, or Placement aggregate UUID).')
        parser.add_argument('--long', action='store_true',
                            help='Also the provider UUID, nova\'s service '
                                 'host and nova\'s service state.')
        return self.add_arguments(parser)

    def take_action(self, parsed_args):
        hosts = self.fleet(parsed_args).load(
            aggregate=parsed_args.aggregate, timestamps=True)
        self.warn_about_nova()
        cols = _LONG_COLUMNS if parsed_args.long else _LIST_COLUMNS
        rows = []
        for host in hosts:
            s = fleet.summary(host)
            rows.append(tuple(s[c] for c in cols))
        return cols, rows


class HostShow(FleetCommand, show.ShowOne):
    """Show one compute node: decoded factors and raw traits."""

    def get_parser(self, prog_name):
        parser = super(HostShow, self).get_parser(prog_name)
        parser.add_argument('host', metavar='HOST',
                            help='compute node name, nova service host or '
                                 'resource provider UUID')
        return self.add_arguments(parser)

    def take_action(self, parsed_args):
        host = self.fleet(parsed_args).host(parsed_args.host)
        self.warn_about_nova()
        s = fleet.summary(host)
        fields = [('name', host.name), ('uuid', host.uuid),
                  ('service_host', host.service_host),
                  ('profile', s['profile']), ('changed', s['changed']),
                  ('generation', host.generation)]
        for name in sorted(host.profile.factors):
            fields.append(('factor:' + name,
                           JSONColumn(host.profile.factors[name])))
        fields.append(('problems', ListColumn(
            [str(p) for p in host.problems])))
        fields.append(('migcompat_traits', ListColumn(host.ours)))
        fields.append(('other_traits', ListColumn(
            sorted(set(host.traits) - set(host.ours)))))
        return tuple(f[0] for f in fields), tuple(f[1] for f in fields)


# -- matrix --------------------------------------------------------------

class MatrixCommand(FleetCommand, lister.Lister):
    """Show which hosts can receive live migrations from which.

    Hosts with identical profiles are collapsed into groups (G1 is the
    biggest); each row is a source group, each column "to Gn" a
    destination group: "yes", "yes (N warnings)" or "NO: <blocking
    factors>". --pairs lists one row per group pair with the first
    reason instead; --output FILE.svg also draws the heat map. Hosts
    without readable traits are left out (listed on stderr).
    """

    def get_parser(self, prog_name):
        parser = super(MatrixCommand, self).get_parser(prog_name)
        parser.add_argument('--mode', choices=policy_conf.MODES,
                            help='guest CPU mode to judge (default: each '
                                 'source\'s nova cpu_mode, else host-model)')
        parser.add_argument('--aggregate', metavar='AGG',
                            help='Only the hosts of this aggregate.')
        parser.add_argument('--strict', action='store_true', default=None,
                            help='every recommendation blocks')
        parser.add_argument('--pairs', action='store_true',
                            help='One row per (source, destination) group '
                                 'pair, with the reason.')
        parser.add_argument('--output', metavar='FILE',
                            help='Also write the heat map to FILE (.svg; '
                                 '.png with the optional cairosvg).')
        return self.add_arguments(parser)

    def take_action(self, parsed_args):
        hosts = self.fleet(parsed_args).load(aggregate=parsed_args.aggregate)
        self.warn_about_nova()
        m = fleet.matrix(hosts, mode=parsed_args.mode,
                         policy=self.policy(parsed_args.strict))
        for host, why in m.left_out:
            self.app.stderr.write('not in the matrix: %s: %s\n'
                                  % (host.name, why))
        if parsed_args.output:
            heatmap.write(m, parsed_args.output)
            self.app.stderr.write('wrote %s\n' % parsed_args.output)
        if parsed_args.pairs:
            cols = ('source', 'destination', 'source_hosts',
                    'destination_hosts', 'compatible', 'status', 'blocking',
                    'warnings', 'reason')
            rows = []
            for src in m.groups:
                for dst in m.groups:
                    c = m.cell(src, dst)
                    rows.append((src.label, dst.label,
                                 ListColumn(src.names),
                                 ListColumn(dst.names),
                                 c.verdict.compatible, c.status,
                                 ListColumn(c.blocking),
                                 ListColumn(c.verdict.factors('warn')),
                                 c.reason()))
            return cols, rows
        cols = ('group', 'hosts') + tuple('to ' + g.label for g in m.groups)
        rows = []
        for src in m.groups:
            rows.append((src.label, ListColumn(src.names)) + tuple(
                m.cell(src, dst).text() for dst in m.groups))
        return cols, rows


# -- check SERVER ----------------------------------------------------------

class Check(FleetCommand, lister.Lister):
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
        parser.add_argument('--mode', choices=policy_conf.MODES,
                            help='judge this guest CPU mode instead of the '
                                 'source host\'s')
        parser.add_argument('--strict', action='store_true', default=None,
                            help='every recommendation blocks')
        return self.add_arguments(parser)

    def take_action(self, parsed_args):
        f = self.fleet(parsed_args)
        # Find the server first: without nova nothing else is worth doing.
        server, node = f.server_host(parsed_args.server)
        hosts = f.load()
        source = [h for h in hosts if h.name == node]
        if not source:
            raise fleet.NotFound('server %s runs on compute node %s, which '
                                 'is not in Placement' % (server['id'], node))
        source = source[0]
        conf = self.conf()
        group = conf.migcompat
        actions = {
            fleet.UNTRAITED: getattr(group, 'untraited_host_action', 'pass'),
            fleet.UNREADABLE: getattr(group, 'newer_schema_action', 'pass'),
            fleet.ERROR: getattr(group, 'placement_error_action', 'pass'),
        }
        self.app.stderr.write('server %s (%s) on %s\n' % (
            server.get('name'), server['id'], node))
        if source.state != fleet.TRAITED:
            action = getattr(group, 'untraited_source_action', 'pass')
            why = 'source %s: %s; the filter %ss every host ' \
                  '(untraited_source_action)' % (
                      source.name, fleet.summary(source)['profile'], action)
            rows = []
            for h in hosts:
                if h.uuid == source.uuid:
                    continue
                refusal = h.nova_refusal()
                rows.append((h.name, not refusal and action == 'pass',
                             'nova: ' + refusal if refusal else why))
            return ('host', 'accepted', 'reason'), rows
        judged = fleet.accepts(hosts, source,
                               policy=self.policy(parsed_args.strict),
                               mode=parsed_args.mode, conf_actions=actions)
        judged.sort(key=lambda j: (not j[1], j[0].name))
        return (('host', 'accepted', 'reason'),
                [(h.name, ok, why) for h, ok, why, _v in judged])


# -- baseline ----------------------------------------------------------------

class BaselineCommand(FleetCommand, show.ShowOne):
    """The guest CPU every listed host can offer (EVC-style).

    The features common to the hosts' host-model CPUs, the richest named
    CPU model usable on all of them, and the nova-compute [libvirt]
    options (cpu_mode = custom, cpu_models, cpu_model_extra_flags) that
    make guests migratable across all of them. libvirt's own baselineCPU
    (on --libvirt-uri, default test:///default: libvirt's CPU map, no
    daemon) computes the same baseline as a check.
    """

    def get_parser(self, prog_name):
        parser = super(BaselineCommand, self).get_parser(prog_name)
        parser.add_argument('hosts', metavar='HOST', nargs='*',
                            help='compute nodes (name, service host or UUID)')
        parser.add_argument('--aggregate', metavar='AGG',
                            help='every host of this aggregate')
        parser.add_argument('--libvirt-uri', metavar='URI',
                            default='test:///default',
                            help='libvirt connection whose CPU map expands '
                                 'models and checks the baseline (default: '
                                 '%(default)s)')
        return self.add_arguments(parser)

    def take_action(self, parsed_args):
        if bool(parsed_args.hosts) == bool(parsed_args.aggregate):
            raise exception.InputError('give HOST... or --aggregate AGG '
                                       '(one of the two)')
        f = self.fleet(parsed_args)
        if parsed_args.aggregate:
            hosts = [h for h in f.load(aggregate=parsed_args.aggregate)]
            if not hosts:
                raise fleet.NotFound('aggregate %s has no compute node'
                                     % parsed_args.aggregate)
        else:
            hosts = f.load(names=parsed_args.hosts)
        self.warn_about_nova()
        b = fleet.baseline(hosts, fleet.LibvirtCPUMap(
            parsed_args.libvirt_uri))
        check = b.libvirt_check
        if check.get('checked'):
            check_text = '%s: baselineCPU gives %s' % (
                check['uri'],
                'the same features' if check['agrees'] else
                'different features (only libvirt: %s; only ours: %s)' % (
                    ', '.join(check['only_libvirt']) or '-',
                    ', '.join(check['only_ours']) or '-'))
            if check['unknown_to_libvirt']:
                check_text += ('; features this libvirt does not know, not '
                               'checked: %s'
                               % ', '.join(check['unknown_to_libvirt']))
        else:
            check_text = 'not checked: %s' % check.get('reason')
        fields = (
            ('hosts', ListColumn(b.hosts)),
            ('vendor', b.vendor),
            ('cpu_model', b.model),
            ('extra_flags', ListColumn(b.extra_flags)),
            ('common_features', ListColumn(b.common)),
            ('usable_models', ListColumn(b.candidates)),
            ('nova_conf', b.nova_conf()),
            ('libvirt_check', check_text),
            ('notes', ListColumn(b.notes)),
        )
        return tuple(f[0] for f in fields), tuple(f[1] for f in fields)
