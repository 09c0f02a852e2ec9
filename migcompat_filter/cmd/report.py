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

"""``migcompat profile publish``: publish this host's traits in Placement."""

import datetime
import logging
import os
import random
import signal
import socket
import time

from cliff.formatters import base as formatters_base
from cliff import lister
from stevedore import extension

from migcompat_filter.cmd import common
from migcompat_filter.cmd import FastEpilog
from migcompat_filter.cmd import shell
from migcompat_filter.conf import reporter as reporter_conf
from migcompat_filter import exception
from migcompat_filter.host import last_good
from migcompat_filter.host import reader
from migcompat_filter.host import source as hostsource
from migcompat_filter.placement import client as placement
from migcompat_filter.placement import reporter
from migcompat_filter.placement import verify_store
from migcompat_filter.traits import codec as traits

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

    def __enter__(self):
        signal.signal(signal.SIGTERM, self._handle)
        if shell.EARLY_SIGTERM:
            # It came while the command was starting: stop at once.
            self._handle(signal.SIGTERM, None)
        return self

    def __exit__(self, *exc):
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        return False

    def _handle(self, _signum, _frame):
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


_NOT_CONFIGURED = (
    'no connection is configured (nova\'s [placement] in --config-file, '
    '--os-cloud or $OS_CLOUD, OS_AUTH_URL, --placement-url or $%s)'
    % common.ENV_PLACEMENT_URL)

#: The rows of what report did or would do (-f json|yaml|table|value).
COLUMNS = ('trait', 'change', 'provider')


class _TextFormatter(formatters_base.ListFormatter):
    """``-f text`` (the default): Report writes "+ TRAIT"/"- TRAIT" lines
    and a summary itself; this only makes "text" a choice of -f.
    """

    def add_argument_group(self, parser):
        pass

    def emit_list(self, column_names, data, stdout, parsed_args):
        pass


class Report(FastEpilog, lister.Lister):
    """Publish this host's migcompat traits on its resource provider.

    Reads the host (or a snapshot or profile), encodes its factors as
    CUSTOM_MIGCOMPAT_* traits and makes the compute node's resource
    provider carry exactly those of ours, leaving every other trait alone.
    Prints the change ("+ TRAIT", "- TRAIT") or "unchanged"; with -f
    json|yaml|table|value one row per trait of ours (trait, change,
    provider). Placement is reached as by the other commands: --os-cloud
    ($OS_CLOUD, or OS_* variables), --placement-url
    ($MIGCOMPAT_PLACEMENT_URL, no auth, for tests), else nova's
    [placement] options from --config-file (default /etc/nova/nova.conf).
    --dry-run needs none of them: without Placement it prints the traits
    that would be set, with Placement also what would change. With
    --provider-config DIR it writes nova's provider config file instead.
    """

    empty_message = None

    formatter_default = 'text'

    def _load_formatter_plugins(self):
        text = extension.Extension('text', None, _TextFormatter,
                                   _TextFormatter())
        return extension.ExtensionManager.make_test_instance(
            list(super(Report, self)._load_formatter_plugins()) + [text],
            namespace=self.formatter_namespace)

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
            help='Print the change without writing anything. Without a '
                 'usable Placement connection, print the traits that would '
                 'be set (and why there is no diff, on stderr).')
        parser.add_argument(
            '--interval', metavar='<seconds>', type=int, default=None,
            help='Keep running and report every SECONDS (plus up to '
                 '[migcompat] report_jitter seconds); a failed report is '
                 'logged and retried next time; SIGTERM stops it (after '
                 'the round in progress) with exit status 0. At most '
                 '604800 (a week). Default: [migcompat] report_interval '
                 '(0: report once).')
        parser.add_argument(
            '--forget-kept', action='store_true',
            help='Publish what is read now: a factor that cannot be read '
                 'is published as unknown instead of its kept last good '
                 'value (for a host whose libvirt was really removed).')
        parser.add_argument(
            '--kept-values-file', metavar='<file>', default=None,
            help='Where the last good value of each factor is kept '
                 '(default: [migcompat] kept_values_file).')
        where = parser.add_mutually_exclusive_group()
        where.add_argument(
            '--provider-config', metavar='<directory>',
            help='Write nova\'s provider config file into DIR (its [compute] '
                 'provider_config_location) instead of calling Placement; '
                 'nova-compute must then be restarted to read it.')
        common.add_placement_arguments(where)
        return parser

    def run(self, parsed_args):
        # A factor kept or left unknown because it could not be read this
        # time: the report is written, and the exit status says 1.
        self._failed = False
        status = super(Report, self).run(parsed_args)
        return 1 if self._failed and not status else status

    def take_action(self, parsed_args):
        conf = common.load_conf(self.app.options.config_file)
        interval = self._interval(conf, parsed_args)
        if not interval:
            shell.release_early_sigterm()
            return COLUMNS, self._report(conf, parsed_args, {})
        # Each round prints its own rows; nothing is left for cliff.
        self._report_forever(conf, parsed_args, interval)
        return COLUMNS, None

    def produce_output(self, parsed_args, column_names, data):
        if data is None:
            return 0
        if parsed_args.formatter == 'text':
            for line in self._text:
                self.app.stdout.write(line + '\n')
            return 0
        return super(Report, self).produce_output(parsed_args, column_names,
                                                  data)

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
                self.produce_output(parsed_args, COLUMNS,
                                    self._report(conf, parsed_args, state))
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
        """The rows of one report; self._text gets its text lines, the
        last one the running guests' drift when some drifted.
        """
        rows = self._report_traits(conf, parsed_args, state)
        if self._drift and self._drift['guests']:
            self._text.append('drift: %d running guest(s) drifted (%s)' % (
                self._drift['guests'], ', '.join(self._drift['factors'])))
        return rows

    def _report_traits(self, conf, parsed_args, state):
        self._text = []
        self._note = None
        # Schema 3's records live in the store, which nova's provider
        # config file cannot write: that file gets schema 2's names.
        schema = 2 if parsed_args.provider_config else traits.SCHEMA
        # One read of the host per report: the traits and the drift check
        # share the source (its parsed guests, expansions) and the profile.
        host = None if parsed_args.profile else hostsource.open_source(
            parsed_args.root, parsed_args.connect)
        try:
            profile = None if host is None else reader.read_profile(host)
            self._unjudged = _warn_unjudged(self.app.stderr, profile)
            wanted = self._wanted(conf, parsed_args, schema, profile)
            self._drift = _check_drift(host, profile, state)
        finally:
            if host is not None:
                host.close()
        if parsed_args.provider_config:
            return self._write_provider_config(conf, parsed_args, wanted)
        if parsed_args.dry_run and not _placement_configured(conf,
                                                             parsed_args):
            return self._offline(wanted, _NOT_CONFIGURED)
        try:
            return self._sync(conf, parsed_args, state, wanted)
        except placement.PlacementError as e:
            if not parsed_args.dry_run:
                raise
            state.pop('rp_uuid', None)
            return self._offline(wanted, str(e))

    def _wanted(self, conf, parsed_args, schema, profile):
        """The traits to publish: of the live host with the kept values
        (migcompat_filter.host.last_good) standing in for factors that
        could not be read this time; of a snapshot or profile as given.
        ``profile``: the host's, read already (None for --profile).
        """
        if parsed_args.profile or parsed_args.root:
            return common.traits_from_args(parsed_args, schema,
                                           profile=profile)
        from migcompat_filter.traits import codec
        path = (parsed_args.kept_values_file or
                conf.migcompat.kept_values_file)
        now = datetime.datetime.now(datetime.timezone.utc)
        try:
            state = last_good.load(path)
        except last_good.StateProblem as e:
            self.app.stderr.write('warning: kept values: %s; starting '
                                  'afresh\n' % e)
            state = {}
        outcome = last_good.apply(
            profile, state, now, conf.migcompat.kept_value_max_runs,
            forget=parsed_args.forget_kept)
        for line in outcome.messages(now):
            self.app.stderr.write('error: %s\n' % line)
            LOG.debug('kept values: %s', line)
        if not parsed_args.dry_run:
            try:
                last_good.save(path, outcome.state)
            except last_good.StateProblem as e:
                self.app.stderr.write('warning: kept values: %s; no value '
                                      'is kept for the next report\n' % e)
        self._failed = self._failed or outcome.failed
        self._note = outcome.note()
        if self._note:
            self._text.append('kept: %s' % ', '.join(
                '%s since %s' % item for item in sorted(self._note.items())))
        return codec.encode(outcome.profile, schema)

    def _offline(self, wanted, why):
        """A dry run without Placement: what the provider would carry."""
        self.app.stderr.write('note: no diff, Placement was not used: %s\n'
                              % why)
        self._text = ['+ %s' % t for t in wanted]
        self._text.append('dry run: the provider would carry these %d '
                          'traits of ours; nothing written' % len(wanted))
        return [(t, 'would set', '') for t in wanted]

    def _write_provider_config(self, conf, parsed_args, wanted):
        path, changed = reporter.write_provider_config(
            parsed_args.provider_config, wanted,
            filename=conf.migcompat.provider_config_file,
            dry_run=parsed_args.dry_run)
        if not changed:
            self._text.append('unchanged: %s' % path)
            change = 'unchanged'
        elif parsed_args.dry_run:
            self._text.append('would write %s (%d traits)'
                              % (path, len(wanted)))
            change = 'would write'
        else:
            self._text.append('wrote %s (%d traits); %s'
                              % (path, len(wanted),
                                 reporter.RESTART_MESSAGE))
            if parsed_args.formatter != 'text':
                # Not in the rows: json/yaml users must still see it.
                self.app.stderr.write(reporter.RESTART_MESSAGE + '\n')
            change = 'written'
        return [(t, change, path) for t in wanted]

    def _sync(self, conf, parsed_args, state, wanted):
        # state keeps the client and the provider across --interval runs.
        if state.get('client') is None:
            state['client'] = placement.PlacementClient(
                common.placement_adapter(conf, parsed_args.os_cloud,
                                         parsed_args.placement_url,
                                         os_env=True))
        client = state['client']
        deadline = reporter.Deadline(_deadline_seconds(conf))
        if state.get('rp_uuid') is None:
            state['rp_uuid'] = self._find_provider(client, conf,
                                                   parsed_args, deadline)
        rp_uuid = state['rp_uuid']
        # Schema 3 publishes per-host facts in the host's note: the ages of
        # kept values, the running guests' drift and the last verification
        # with libvirt (run first, so this report carries its counts).
        note = None
        if getattr(wanted, 'records', None) is not None:
            note = {}
            if self._note:
                note['kept'] = self._note
            if self._drift is not None:
                from migcompat_filter.rules import drift
                note['drift'] = drift.shareable(self._drift)
            if getattr(self, '_unjudged', False):
                # Some, not which: the note stays shared (host list).
                note['unjudged'] = 1
            if not parsed_args.dry_run:
                counts = verify_store.note_value(_verify(
                    conf, parsed_args, state, client, rp_uuid, wanted))
                if counts is not None:
                    note[verify_store.NOTE_KEY] = counts
        result = reporter.sync(
            client, rp_uuid, wanted, dry_run=parsed_args.dry_run,
            max_retries=conf.migcompat.max_conflict_retries,
            deadline=deadline, note=note,
            readable=conf.migcompat.readable_profile_traits)
        self._text.extend(result.lines())
        if not result.changed:
            self._text.append('unchanged: %d traits of ours on provider %s'
                              % (len(wanted), rp_uuid))
        elif result.dry_run:
            self._text.append('dry run: nothing written to provider %s'
                              % rp_uuid)
        else:
            self._text.append('updated provider %s (generation %d)'
                              % (rp_uuid, result.generation))
        would = 'would ' if result.dry_run else ''
        added = set(result.added)
        return ([(t, would + 'add' if would else 'added', rp_uuid)
                 for t in result.added] +
                [(t, would + 'remove' if would else 'removed', rp_uuid)
                 for t in result.removed] +
                [(t, 'kept', rp_uuid) for t in wanted if t not in added])

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


def _warn_unjudged(stderr, profile):
    """Name on stderr (and in the log) each running guest whose XML cannot
    be read: the rules refuse every move judged from this host's guests
    until it is fixed (rules/guests.py).
    """
    running = None if profile is None else profile['running_guests']
    unjudged = running.get('unjudged') if isinstance(running, dict) else None
    for why in (unjudged or {}).get('reasons') or ():
        stderr.write('warning: running guest not judged: %s\n' % why)
        LOG.warning('running guest not judged: %s', why)
    return bool(unjudged)


def _check_drift(host, profile, state):
    """The running guests' drift summary (rules/drift.py), after a WARNING
    once per guest and change; None when not checked (a --profile file
    has no guests; a read failure is logged, never fatal). ``host`` and
    ``profile``: the source and the profile the report read.
    """
    if host is None:
        return None
    from migcompat_filter.rules import drift
    try:
        entries = drift.read(host, profile=profile)
    except Exception as e:
        LOG.warning('running guests not checked for drift: %s', e)
        return None
    if 'drift' not in state:
        state['drift'] = drift.Warner(drift.default_state_file())
    state['drift'].warn(entries, LOG)
    return drift.summary(entries)


def _verify(conf, parsed_args, state, client, rp_uuid, wanted):
    """The verification round (fleet/verify_round.py) of a live host's
    report; its failure is logged, never the report's.
    """
    if not conf.migcompat.verify_with_libvirt or parsed_args.root or \
            parsed_args.profile:
        return
    from migcompat_filter.fleet import verify_round
    if state.get('verify') is None:
        state['verify'] = verify_round.Round(
            parsed_args.connect, conf.migcompat.verify_state_file,
            conf.migcompat.verify_budget)
    try:
        counts = state['verify'].run(client, rp_uuid, sorted(wanted))
        LOG.info('verification with libvirt (%s): %s',
                 state['verify'].last, counts)
        return counts
    except Exception as e:
        LOG.warning('verification with libvirt failed (retried next '
                    'report): %s', e)
        return None


def _deadline_seconds(conf):
    """[migcompat] report_deadline, or its default: a few times the
    per-request timeout ([placement] timeout when set).
    """
    if conf.migcompat.report_deadline:
        return conf.migcompat.report_deadline
    timeout = getattr(getattr(conf, 'placement', None), 'timeout', None)
    return reporter_conf.DEFAULT_DEADLINE_FACTOR * float(
        timeout or conf.migcompat.request_timeout)


def _placement_configured(conf, parsed_args):
    """Whether any way to reach Placement is given (an option, the
    environment or nova's [placement] auth_type), before trying it.
    """
    return bool(parsed_args.placement_url or parsed_args.os_cloud or
                os.environ.get('OS_AUTH_URL') or
                getattr(getattr(conf, 'placement', None), 'auth_type', None))
