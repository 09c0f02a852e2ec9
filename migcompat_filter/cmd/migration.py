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

"""``migcompat migration explain``: why a live migration failed, as a
factor, a likely cause and a fix.
"""

from cliff import lister

from migcompat_filter.cmd import columns as cmd_columns
from migcompat_filter.cmd import common
from migcompat_filter import exception
from migcompat_filter import fleet

COLUMNS = ('factor', 'cause', 'hint', 'evidence')
#: The longest --error-text accepted (a pasted log excerpt).
MAX_TEXT = 64 * 1024


class Explain(common.FleetCommand, lister.Lister):
    """Explain a failed live migration: the factor, cause and fix.

    <migration> is a nova migration ID or UUID; --server takes a server's
    latest failed live migration. The error texts nova keeps of it (the
    instance action's failed events, microversion 2.84, and the server's
    fault) are matched against migcompat's table of libvirt, QEMU and nova
    error texts (doc/source/troubleshooting.rst lists them with the source
    each comes from). With both hosts' profiles from Placement, the
    evidence also says what differs between them now.

    --error-text explains a pasted error line offline (no cloud needed);
    --source/--destination then name a snapshot directory, a profile
    file or a trait list (or, with a cloud configured, a host name).

    A text no pattern matches gives one row with factor "unknown": the
    command never guesses.
    """

    def get_parser(self, prog_name):
        parser = super(Explain, self).get_parser(prog_name)
        which = parser.add_mutually_exclusive_group()
        which.add_argument('migration', metavar='<migration>', nargs='?',
                           help='nova migration ID or UUID')
        which.add_argument('--server', metavar='<server>',
                           help='explain this server\'s latest failed live '
                                'migration (name or ID)')
        which.add_argument('--error-text', metavar='<text>',
                           help='explain this error text offline (a log '
                                'line pasted from a ticket)')
        parser.add_argument('--source', metavar='<host>',
                            help='with --error-text: the source host (a '
                                 'snapshot directory, profile file, trait '
                                 'list or host name)')
        parser.add_argument('--destination', metavar='<host>',
                            help='with --error-text: the destination host')
        return self.add_arguments(parser)

    def take_action(self, parsed_args):
        from migcompat_filter.fleet import explain
        if parsed_args.error_text is not None:
            return COLUMNS, _table(self._offline(explain, parsed_args))
        if parsed_args.source or parsed_args.destination:
            raise exception.InputError(
                '--source and --destination go with --error-text; a nova '
                'migration names its own hosts')
        if parsed_args.migration is None and parsed_args.server is None:
            raise exception.InputError(
                'name the migration: <migration> (a nova migration ID or '
                'UUID), --server <server> or --error-text <text>')
        f = self.fleet(parsed_args)
        if f.nova is None:
            raise exception.InputError(
                'explaining a nova migration needs nova\'s API (%s); use '
                '--error-text with the error line instead' % f.nova_error)
        migration, server_id = self._migration(f.nova, parsed_args)
        self.app.stderr.write(
            'migration %s (%s) of server %s: %s -> %s, status %s\n' % (
                migration.get('id'), migration.get('uuid', '-'), server_id,
                migration.get('source_compute'),
                migration.get('dest_compute'), migration.get('status')))
        events, server = self._nova_record(explain, f.nova, migration,
                                           server_id)
        texts = explain.nova_texts(events, server)
        source = self._profile(f, migration, 'source')
        destination = self._profile(
            f, migration, 'dest', explain.destination_from_events(events))
        none = ('nova recorded no error text for migration %s (status %s): '
                'an error during the transfer itself is only in the '
                'source nova-compute log ("Live Migration failure: ...")'
                % (migration.get('id'), migration.get('status')))
        return COLUMNS, _table(explain.explain_texts(
            texts, source, destination, none_found=none))

    # -- offline ---------------------------------------------------------
    def _offline(self, explain, parsed_args):
        text = parsed_args.error_text
        if not text.strip():
            raise exception.InputError('--error-text: empty; paste the '
                                       'error line')
        if len(text) > MAX_TEXT:
            raise exception.InputError('--error-text: %d characters; at '
                                       'most %d' % (len(text), MAX_TEXT))
        profiles = []
        cloud = self._cloud(parsed_args)
        for option, spec in (('--source', parsed_args.source),
                             ('--destination', parsed_args.destination)):
            if spec is None:
                profiles.append(None)
                continue
            try:
                profiles.append(common.load_profile(spec, cloud)[0])
            except exception.InputError as e:
                raise exception.InputError('%s %s' % (option, e)) from None
        return explain.explain(text, profiles[0], profiles[1],
                               text_from='--error-text')

    def _cloud(self, parsed_args):
        """Where a host name given as --source/--destination is looked
        up: this command's --os-cloud or --placement-url, else as
        ``profile compare`` looks host names up (OpenStackClient's
        session, the global --os-cloud, --config-file, the environment).
        """
        fallback = common.app_cloud(self.app)

        def cloud():
            if (getattr(parsed_args, 'os_cloud', None) or
                    getattr(parsed_args, 'placement_url', None)):
                return self.fleet(parsed_args)
            return fallback()
        return cloud

    # -- nova ------------------------------------------------------------
    def _migration(self, nova, parsed_args):
        from migcompat_filter.fleet import nova_api
        if parsed_args.server is not None:
            server = nova.server(parsed_args.server)
            failed = [m for m in nova.server_live_migrations(server['id'])
                      if m.get('status') in nova_api.MIGRATION_FAILED]
            if not failed:
                raise fleet.NotFound(
                    'server %s (%s) has no failed live migration'
                    % (server.get('name'), server['id']))
            return failed[-1], server['id']
        wanted = parsed_args.migration.strip()
        if not (wanted.isdigit() or _is_uuid(wanted)):
            raise exception.InputError(
                '<migration> %r: neither a nova migration ID (a number) nor '
                'a UUID' % parsed_args.migration)
        for m in nova.all_live_migrations():
            if str(m.get('id')) == wanted or m.get('uuid') == wanted:
                return m, m.get('instance_uuid')
        raise fleet.NotFound('no live migration %s in nova' % wanted)

    def _nova_record(self, explain, nova, migration, server_id):
        """(the migration's instance action events, the server or None)."""
        action = explain.pick_action(nova.instance_actions(server_id),
                                     migration)
        events = []
        if action is not None:
            events = nova.instance_action(
                server_id, action['request_id']).get('events') or []
        server = None
        try:
            server = nova.server_by_id(server_id)
        except Exception as e:  # a deleted server still has its actions
            self.app.stderr.write('server %s not shown (%s): its fault is '
                                  'not read\n' % (server_id, e))
        return events, server

    def _profile(self, f, migration, side, fallback=None):
        """The host's profile from Placement, or None (said on stderr)."""
        from migcompat_filter.placement import client as placement
        from migcompat_filter.placement import hoststate
        name = (migration.get('%s_node' % side) or
                migration.get('%s_compute' % side) or fallback)
        if not name:
            self.app.stderr.write('%s: not recorded by nova; its profile '
                                  'is not used\n' % side)
            return None
        try:
            host = f.host(name, timestamps=False)
        except (exception.InputError, placement.PlacementError) as e:
            self.app.stderr.write('%s %s: profile not read (%s)\n'
                                  % (side, name, e))
            return None
        if host.state != hoststate.TRAITED:
            self.app.stderr.write('%s %s: %s; its profile is not used\n'
                                  % (side, name, host.status))
            return None
        return host.profile


def _is_uuid(text):
    from migcompat_filter.placement import client as placement
    return placement.is_uuid(text)


def _table(rows):
    return [(r['factor'], r['cause'], r['hint'],
             cmd_columns.JSONColumn(r['evidence'])) for r in rows]
