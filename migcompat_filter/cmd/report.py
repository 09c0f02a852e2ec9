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

"""``migcompat report``: publish this host's traits in Placement."""

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
from migcompat_filter.conf import reporter as reporter_conf
from migcompat_filter import exception
from migcompat_filter.placement import client as placement
from migcompat_filter.placement import reporter

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
        where = parser.add_mutually_exclusive_group()
        where.add_argument(
            '--provider-config', metavar='<directory>',
            help='Write nova\'s provider config file into DIR (its [compute] '
                 'provider_config_location) instead of calling Placement; '
                 'nova-compute must then be restarted to read it.')
        common.add_placement_arguments(where)
        return parser

    def take_action(self, parsed_args):
        conf = common.load_conf(self.app.options.config_file)
        interval = self._interval(conf, parsed_args)
        if not interval:
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
        """The rows of one report; self._text gets its text lines."""
        self._text = []
        wanted = common.traits_from_args(parsed_args)
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
        result = reporter.sync(
            client, rp_uuid, wanted, dry_run=parsed_args.dry_run,
            max_retries=conf.migcompat.max_conflict_retries,
            deadline=deadline)
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
