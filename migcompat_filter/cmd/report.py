"""``migcompat report``: publish this host's traits in Placement."""

import logging
import random
import signal
import socket
import time

from cliff import command

from migcompat_filter.cmd import common
from migcompat_filter.cmd import FastEpilog
from migcompat_filter.conf import reporter as reporter_conf
from migcompat_filter import exception
from migcompat_filter import placement
from migcompat_filter import reporter

LOG = logging.getLogger(__name__)


class _Stop(Exception):
    """Raised by the SIGTERM handler to end a wait between two rounds."""


class _StopOnSigterm(object):
    """While active, SIGTERM ends ``report --interval`` cleanly.

    Between two rounds (waiting) it stops at once; during a round the
    round finishes first (a write in progress is completed, never cut),
    then the loop stops. Either way one line is logged and the command
    exits 0.
    """

    def __init__(self):
        self.requested = False
        self.waiting = False
        self._previous = None

    def __enter__(self):
        self._previous = signal.signal(signal.SIGTERM, self._handle)
        return self

    def __exit__(self, *exc):
        signal.signal(signal.SIGTERM, self._previous)
        return False

    def _handle(self, signum, frame):
        if not self.requested:
            LOG.warning('stopping on SIGTERM')
        self.requested = True
        if self.waiting:
            raise _Stop()

    def sleep(self, seconds):
        """Wait seconds, or less when SIGTERM arrives; False once stopping.
        """
        if self.requested:
            return False
        self.waiting = True
        try:
            time.sleep(seconds)
        except _Stop:
            return False
        finally:
            self.waiting = False
        return not self.requested


class Report(FastEpilog, command.Command):
    """Publish this host's migcompat traits on its resource provider.

    Reads the host (or a snapshot or profile), encodes its factors as
    CUSTOM_MIGCOMPAT_* traits and makes the compute node's resource
    provider carry exactly those of ours, leaving every other trait alone.
    Prints the change ("+ TRAIT", "- TRAIT") or "unchanged". Placement is
    reached with nova's [placement] options from --config-file (default
    /etc/nova/nova.conf), a clouds.yaml cloud (--os-cloud) or, for tests,
    --placement-url without auth. With --provider-config DIR it writes
    nova's provider config file instead of talking to Placement.
    """

    def get_parser(self, prog_name):
        parser = super(Report, self).get_parser(prog_name)
        common.add_profile_arguments(parser)
        parser.add_argument(
            '--provider', metavar='UUID|NAME',
            help='The resource provider to update (default: [migcompat] '
                 'provider_name, else nova\'s [DEFAULT] host, else this '
                 'machine\'s FQDN).')
        parser.add_argument(
            '--dry-run', action='store_true',
            help='Print the change without writing anything.')
        parser.add_argument(
            '--interval', metavar='SECONDS', type=int, default=None,
            help='Keep running and report every SECONDS (plus up to '
                 '[migcompat] report_jitter seconds); a failed report is '
                 'logged and retried next time; SIGTERM stops it (after '
                 'the round in progress) with exit status 0. At most '
                 '604800 (a week). Default: [migcompat] report_interval '
                 '(0: report once).')
        where = parser.add_mutually_exclusive_group()
        where.add_argument(
            '--provider-config', metavar='DIR',
            help='Write nova\'s provider config file into DIR (its [compute] '
                 'provider_config_location) instead of calling Placement; '
                 'nova-compute must then be restarted to read it.')
        where.add_argument(
            '--os-cloud', metavar='NAME',
            help='Authenticate with this clouds.yaml cloud instead of the '
                 '[placement] options.')
        where.add_argument(
            '--placement-url', metavar='URL',
            help='Talk to a Placement at URL with no authentication (token '
                 '"admin"; for a placement running with auth_strategy = '
                 'noauth2, e.g. in tests).')
        return parser

    def take_action(self, parsed_args):
        conf = common.load_conf(self.app.options.config_file)
        interval = self._interval(conf, parsed_args)
        if not interval:
            self._report(conf, parsed_args, {})
            return 0
        self._report_forever(conf, parsed_args, interval)

    def _interval(self, conf, parsed_args):
        interval = parsed_args.interval
        if interval is None:
            interval = conf.migcompat.report_interval
        if not 0 <= interval <= reporter_conf.MAX_INTERVAL:
            raise exception.InputError(
                '--interval %d: must be 0 (report once) to %d seconds (a '
                'week)' % (interval, reporter_conf.MAX_INTERVAL))
        return interval

    def _report_forever(self, conf, parsed_args, interval):
        with _StopOnSigterm() as stop:
            try:
                self._rounds(conf, parsed_args, interval, stop)
            except _Stop:
                pass  # SIGTERM landed just as a wait ended

    def _rounds(self, conf, parsed_args, interval, stop):
        """Report every interval (plus jitter) until SIGTERM."""
        jitter = conf.migcompat.report_jitter
        state = {}
        if not stop.sleep(random.uniform(0, jitter)):
            return
        while True:
            try:
                self._report(conf, parsed_args, state)
            except placement.PlacementError as e:
                # Includes a provider not found: at boot nova-compute may
                # not have registered the node yet, and a re-registered
                # node gets a new UUID, so look it up again next time.
                state.pop('rp_uuid', None)
                LOG.error('report failed (will retry in %d s): %s',
                          interval, e)
            except exception.InputError:
                raise  # bad usage does not get better by waiting
            except Exception as e:
                LOG.error('report failed (will retry in %d s): %s',
                          interval, e)
            self.app.stdout.flush()
            if not stop.sleep(interval + random.uniform(0, jitter)):
                return

    def _report(self, conf, parsed_args, state):
        wanted = common.traits_from_args(parsed_args)
        if parsed_args.provider_config:
            self._write_provider_config(conf, parsed_args, wanted)
        else:
            self._sync(conf, parsed_args, state, wanted)

    def _write_provider_config(self, conf, parsed_args, wanted):
        out = self.app.stdout
        path, changed = reporter.write_provider_config(
            parsed_args.provider_config, wanted,
            filename=conf.migcompat.provider_config_file,
            dry_run=parsed_args.dry_run)
        if not changed:
            out.write('unchanged: %s\n' % path)
        elif parsed_args.dry_run:
            out.write('would write %s (%d traits)\n' % (path, len(wanted)))
        else:
            out.write('wrote %s (%d traits); %s\n'
                      % (path, len(wanted), reporter.RESTART_MESSAGE))

    def _sync(self, conf, parsed_args, state, wanted):
        # state keeps the client and the provider across --interval runs.
        if state.get('client') is None:
            state['client'] = placement.PlacementClient(
                common.placement_adapter(conf, parsed_args.os_cloud,
                                         parsed_args.placement_url))
        client = state['client']
        deadline = reporter.Deadline(_deadline_seconds(conf))
        if state.get('rp_uuid') is None:
            state['rp_uuid'] = self._find_provider(client, conf,
                                                   parsed_args, deadline)
        rp_uuid = state['rp_uuid']
        result = reporter.sync(
            client, rp_uuid, wanted, dry_run=parsed_args.dry_run,
            max_retries=conf.migcompat.max_conflict_retries,
            deadline=deadline)
        out = self.app.stdout
        for line in result.lines():
            out.write(line + '\n')
        if not result.changed:
            out.write('unchanged: %d traits of ours on provider %s\n'
                      % (len(wanted), rp_uuid))
        elif result.dry_run:
            out.write('dry run: nothing written to provider %s\n' % rp_uuid)
        else:
            out.write('updated provider %s (generation %d)\n'
                      % (rp_uuid, result.generation))

    def _find_provider(self, client, conf, parsed_args, deadline):
        def find(name):
            return deadline.call(client, 'looking up provider %s' % name,
                                 client.find_provider, name)['uuid']
        given = parsed_args.provider or conf.migcompat.provider_name
        if given:
            return find(given)
        candidates = []
        for name in (conf.host, socket.gethostname(), socket.getfqdn()):
            if name and name not in candidates:
                candidates.append(name)
        for name in candidates:
            try:
                return find(name)
            except placement.ProviderNotFound:
                continue
        raise placement.ProviderNotFound(
            'no resource provider named %s in placement; give the compute '
            'node\'s provider with --provider or [migcompat] provider_name'
            % ' or '.join(repr(c) for c in candidates))


def _deadline_seconds(conf):
    """[migcompat] report_deadline, or its default: a few times the
    per-request timeout ([placement] timeout when set)."""
    if conf.migcompat.report_deadline:
        return conf.migcompat.report_deadline
    timeout = getattr(getattr(conf, 'placement', None), 'timeout', None)
    return reporter_conf.DEFAULT_DEADLINE_FACTOR * float(
        timeout or conf.migcompat.request_timeout)
