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

"""``migcompat host drain HOST``: can this host be emptied, and where to."""

import argparse
import contextlib
import signal

from cliff import lister

from migcompat_filter import cmd
from migcompat_filter.cmd import columns as cmd_columns
from migcompat_filter.cmd import common
from migcompat_filter import cpu_modes
from migcompat_filter import exception
from migcompat_filter import fleet

#: The default columns fit a 100-column table (the server's name, not its
#: UUID); --long adds the UUID.
COLUMNS = ('name', 'mode', 'status', 'target', 'valid_targets', 'blocked')
LONG_COLUMNS = ('server',) + COLUMNS

EXIT_EMPTIED = 0
#: Some server has no target, or a migration failed: the host is not
#: (going to be) empty.
EXIT_NOT_EMPTIED = 1


def _positive(kind):
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError('%r is not a number' % text)
        if value <= 0:
            raise argparse.ArgumentTypeError('%r must be above 0' % text)
        return value
    return parse


class Drain(common.FleetCommand, cmd.ResultStatus, lister.Lister):
    """Plan emptying a host by live migration (--execute carries it out).

    One row per server on HOST (nova's API, all projects): the valid
    targets in order of preference (our verdict for that guest, then
    similarity to HOST, then free capacity from Placement's inventories
    and usages), and the planned target. The plan never overcommits a
    host (allocation ratios included). Servers with no target come
    first, with what blocks each candidate.

    nova's API does not show a server's own guest CPU: a server is judged
    as --server-mode SERVER=MODE says, else --mode, else HOST's nova
    cpu_mode, with HOST's running-guests record (as ``migcompat server
    check``).

    --execute asks nova to live-migrate each planned server to its target
    (never forced: nova's scheduler still decides), --parallel at a time,
    polling each migration; it stops at the first failure, and the next
    run resumes from the state file (one run per host at a time: a second
    one exits 2 naming the first one's pid). SIGTERM lets the request in
    progress finish, starts nothing new and leaves running migrations to
    nova (the next run polls them). --disable-service disables HOST's
    nova-compute service first, so that nova places nothing new on the
    host being emptied. Progress goes to stderr. Exit 0 when every server
    is (or can be) moved, 1 otherwise. --long adds each server's UUID.
    """

    empty_message = 'no servers on this host'

    EXIT_DEFAULT = EXIT_EMPTIED

    def get_parser(self, prog_name):
        parser = super(Drain, self).get_parser(prog_name)
        parser.add_argument('host', metavar='<host>',
                            help='compute node to empty (node name, '
                                 'service host or UUID)')
        parser.add_argument('--mode', choices=cpu_modes.MODES,
                            help='guest CPU mode of every server (default: '
                                 'HOST\'s nova cpu_mode)')
        parser.add_argument('--server-mode', metavar='<server>=<mode>',
                            action='append', default=[],
                            help='guest CPU mode of one server (name or '
                                 'ID); may be repeated')
        parser.add_argument('--strict', action='store_true', default=None,
                            help='every recommendation blocks')
        parser.add_argument('--execute', action='store_true',
                            help='carry the plan out through nova\'s API')
        parser.add_argument('--parallel', metavar='<count>', default=1,
                            type=_positive(int),
                            help='live migrations at once (default 1)')
        parser.add_argument('--timeout', metavar='<seconds>', default=None,
                            type=_positive(float),
                            help='longest wait for one migration '
                                 '(default 1800)')
        parser.add_argument('--poll', metavar='<seconds>', default=None,
                            type=_positive(float),
                            help='seconds between polls of a migration '
                                 '(default 2)')
        parser.add_argument(
            '--disable-service', action='store_true',
            help='with --execute: disable HOST\'s nova-compute service '
                 'before the first migration (reason "migcompat host drain"), '
                 'so that nova schedules no new server or migration onto '
                 'the host being emptied; it stays disabled afterwards '
                 '(for the maintenance) unless --reenable-service')
        parser.add_argument(
            '--reenable-service', action='store_true',
            help='with --disable-service: enable the service again when '
                 'the run ends, however it ends (a service that was '
                 'already disabled is left disabled)')
        parser.add_argument('--state-file', metavar='<file>',
                            help='resume state (default $XDG_STATE_HOME/'
                                 'migcompat/drain-HOST.json)')
        parser.add_argument('--long', action='store_true',
                            help='also each server\'s UUID')
        return self.add_arguments(parser)

    def take_action(self, parsed_args):
        from migcompat_filter.fleet import capacity
        from migcompat_filter.fleet import drain
        if parsed_args.disable_service and not parsed_args.execute:
            raise exception.InputError('--disable-service needs --execute')
        if parsed_args.reenable_service and not parsed_args.disable_service:
            raise exception.InputError('--reenable-service needs '
                                       '--disable-service')
        modes = _server_modes(parsed_args.server_mode)
        f = self.fleet(parsed_args)
        if f.nova is None:
            raise exception.InputError(
                'drain %s needs nova\'s API (%s)'
                % (parsed_args.host, f.nova_error))
        hosts = f.load()
        source = _find(hosts, parsed_args.host)
        servers = f.nova.servers_on(source.service_host or source.name,
                                    node=source.name)
        _check_named(modes, servers)
        self.app.stderr.write('%s: %d server(s)\n'
                              % (source.name, len(servers)))
        needs = {s['id']: drain.server_need(s, capacity.allocation(
            f.placement, s['id'], source.uuid)) for s in servers}
        free = capacity.read_all(f.placement,
                                 [h for h in hosts if h is not source],
                                 workers=parsed_args.workers)
        plan = drain.make_plan(
            source, hosts, servers, needs, free,
            _mode_of(source, modes, parsed_args.mode),
            policy=self.policy(parsed_args.strict), actions=self.actions())
        status = {sp.id: 'planned' for sp in plan.placed}
        status.update({sp.id: 'unplaced' for sp in plan.unplaced})
        if plan.unplaced:
            self._exit_status = EXIT_NOT_EMPTIED
        if parsed_args.execute:
            self._execute(f, source, plan, parsed_args, status)
        rows = [_row(sp, status[sp.id]) for sp in plan.servers]
        if parsed_args.long:
            return LONG_COLUMNS, rows
        return COLUMNS, [row[1:] for row in rows]

    def _execute(self, f, source, plan, parsed_args, status):
        from migcompat_filter.fleet import drain_state
        path = parsed_args.state_file or drain_state.default_state_path(
            source.name)
        with drain_state.DrainLock(path, source.name):
            state = drain_state.State.load(path, source.name)
            with self._service_disabled(f.nova, source, parsed_args):
                self._run(f, source, plan, parsed_args, status, state, path)

    @contextlib.contextmanager
    def _service_disabled(self, nova, source, parsed_args):
        """--disable-service: the host's compute service disabled while
        the drain runs (and after it, unless --reenable-service).
        """
        if not parsed_args.disable_service:
            yield
            return
        err = self.app.stderr
        service = nova.compute_service(source.service_host or source.name)
        if service.get('status') == 'disabled':
            err.write('compute service of %s: already disabled (%s); left '
                      'so\n' % (service.get('host'),
                                service.get('disabled_reason') or
                                'no reason given'))
            yield
            return
        nova.set_service_disabled(service, True, 'migcompat host drain')
        err.write('compute service of %s: disabled (nova places nothing '
                  'new there)\n' % service.get('host'))
        try:
            yield
        finally:
            if parsed_args.reenable_service:
                nova.set_service_disabled(service, False)
                err.write('compute service of %s: enabled again\n'
                          % service.get('host'))
            else:
                err.write('compute service of %s: left disabled; enable it '
                          'after the maintenance: openstack compute service '
                          'set --enable %s nova-compute\n'
                          % (service.get('host'), service.get('host')))

    def _run(self, f, source, plan, parsed_args, status, state, path):
        from migcompat_filter.fleet import drain_run
        err = self.app.stderr

        def progress(text):
            err.write(text + '\n')
            err.flush()
        runner = drain_run.Runner(
            f.nova, source.name, state, parallel=parsed_args.parallel,
            timeout=parsed_args.timeout or drain_run.DEFAULT_TIMEOUT,
            poll=parsed_args.poll or drain_run.DEFAULT_POLL,
            progress=progress)
        moves = [(sp.id, sp.name, sp.target.host.name) for sp in plan.placed]
        with _stop_on_sigterm(runner, progress):
            result = runner.run(moves)
        for sid, _name, host in result.moved:
            status[sid] = 'moved to %s' % host
        for sid, _name, why in result.failed:
            status[sid] = 'failed: %s' % why
        for sid, _name, _host in result.not_started:
            status[sid] = 'not started'
        for sid, _name, host in result.left_running:
            status[sid] = 'migrating to %s' % host
        if result.stopped:
            err.write('drain %s: stopped on SIGTERM; %d migration(s) left '
                      'to nova, recorded in the state file; run again to '
                      'resume\n' % (source.name, len(result.left_running)))
            self._exit_status = EXIT_NOT_EMPTIED
        err.write('drain %s: %d moved, %d failed, %d not started, %d '
                  'without a target; state: %s\n'
                  % (source.name, len(result.moved), len(result.failed),
                     len(result.not_started), len(plan.unplaced), path))
        if result.failed:
            err.write('stopped at the first failure: %s; run again to '
                      'resume\n' % '; '.join(
                          '%s: %s' % (n, why) for _s, n, why in
                          result.failed))
        if result.failed or result.not_started or result.left_running:
            self._exit_status = EXIT_NOT_EMPTIED
        if plan.unplaced:
            self._exit_status = EXIT_NOT_EMPTIED


@contextlib.contextmanager
def _stop_on_sigterm(runner, progress):
    """While the runner runs, SIGTERM stops it cleanly (Runner.stop)."""
    def handle(signum, _frame):
        progress('stopping on SIGTERM: the request in progress finishes, '
                 'nothing new starts')
        runner.stop()
    try:
        previous = signal.signal(signal.SIGTERM, handle)
    except ValueError:
        yield  # not the main thread: signal handlers belong to it
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _row(sp, status):
    """One row of LONG_COLUMNS."""
    return (sp.id, sp.name, sp.mode, status,
            sp.target.host.name if sp.target else sp.why_unplaced,
            cmd_columns.ListColumn([t.host.name for t in sp.targets]),
            cmd_columns.ListColumn(['%s: %s' % (t.host.name,
                                                ', '.join(t.blocking))
                                    for t in sp.refused]))


def _server_modes(pairs):
    """{server name or id: mode} of --server-mode SERVER=MODE."""
    out = {}
    for pair in pairs:
        server, sep, mode = pair.partition('=')
        if not sep or not server:
            raise exception.InputError(
                '--server-mode %r: expected SERVER=MODE' % pair)
        if mode not in cpu_modes.MODES:
            raise exception.InputError(
                '--server-mode %r: mode %r is not one of %s'
                % (pair, mode, ', '.join(cpu_modes.MODES)))
        out[server] = mode
    return out


def _check_named(modes, servers):
    known = {s['id'] for s in servers} | {s.get('name') for s in servers}
    for name in modes:
        if name not in known:
            raise fleet.NotFound('--server-mode %s: no such server on the '
                                 'host' % name)


def _find(hosts, name):
    found = [h for h in hosts if name in h.names()]
    if len(found) != 1:
        raise fleet.NotFound(
            'no compute node named %r' % name if not found else
            '%r names %d compute nodes' % (name, len(found)))
    return found[0]


def _mode_of(source, modes, default):
    from migcompat_filter import rules

    def mode_of(server):
        for key in (server['id'], server.get('name')):
            if key in modes:
                return modes[key], '--server-mode'
        if default:
            return default, '--mode'
        return rules.choose_mode(source.profile), 'the source\'s cpu_mode'
    return mode_of
