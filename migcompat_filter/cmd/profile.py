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

"""``migcompat profile show``, ``migcompat snapshot create`` and
``migcompat factor list``.
"""

import os

from cliff import command
from cliff import lister
from cliff import show

from migcompat_filter.cmd import columns as cmd_columns
from migcompat_filter.cmd import common
from migcompat_filter.cmd import FastEpilog
from migcompat_filter.cmd import ResultStatus
from migcompat_filter import profile as profile_mod


class ShowProfile(FastEpilog, ResultStatus, show.ShowOne):
    """Show the factor profile of this host or of a snapshot.

    On the live host, libvirt unreachable is a failure (exit status 1,
    said on stderr); the profile is still shown, its libvirt factors
    unknown with the reason.
    """

    def get_parser(self, prog_name):
        parser = super(ShowProfile, self).get_parser(prog_name)
        return common.add_host_arguments(parser)

    def take_action(self, parsed_args):
        from migcompat_filter.host import source as hostsource
        source = common.open_host(parsed_args.root, parsed_args.connect,
                                  parsed_args.nova_config)
        if isinstance(source, hostsource.LiveSource):
            try:
                source.connection()
            except hostsource.SourceError as e:
                self.app.stderr.write('error: %s; its libvirt factors are '
                                      'unknown\n' % e)
                self._exit_status = 1
        data = common.read_profile(source).to_dict()
        names = list(data)
        factor = cmd_columns.FactorColumn
        return names, [factor(data[n]) if isinstance(data[n], (
            dict, list)) or data[n] is None else data[n] for n in names]


class WriteSnapshot(FastEpilog, command.Command):
    """Write an offline snapshot of this host to a directory."""

    def get_parser(self, prog_name):
        parser = super(WriteSnapshot, self).get_parser(prog_name)
        parser.add_argument('directory', metavar='<directory>',
                            help='where to write the snapshot (created; '
                                 'must be empty or an older snapshot)')
        return common.add_host_arguments(parser, root=False)

    def take_action(self, parsed_args):
        from migcompat_filter.host import snapshot
        source = common.open_host(None, parsed_args.connect,
                                  parsed_args.nova_config)
        try:
            notes = snapshot.write_snapshot(source, parsed_args.directory,
                                            parsed_args.nova_config)
        finally:
            source.close()
        for note in notes:
            self.app.stderr.write('not captured: %s\n' % note)
        self.app.stdout.write('snapshot of %s written to %s\n'
                              % (source.description,
                                 os.path.abspath(parsed_args.directory)))
        return 0


class ListFactors(FastEpilog, lister.Lister):
    """List the factors a profile is made of (plugins included).

    ``type`` is the kind of value (str, dict, list, int); ``--long`` adds
    its whole shape (``schema``). Long texts wrap in a table; json and
    yaml carry them whole.
    """

    def get_parser(self, prog_name):
        parser = super(ListFactors, self).get_parser(prog_name)
        parser.add_argument('--long', action='store_true',
                            help='also show the shape of each value')
        return parser

    def take_action(self, parsed_args):
        from migcompat_filter.host import reader
        rows = []
        for name, factor in reader.load_factors():
            if isinstance(factor, profile_mod.Unknown):
                description = factor.reason
            else:
                description = factor.description or factor.__doc__ or ''
            schema = profile_mod.FACTOR_SCHEMA.get(
                name, 'json: plugin factor (JSON data)')
            row = (name, cmd_columns.WrappedColumn(description.strip()),
                   schema.split(':', 1)[0].strip())
            if parsed_args.long:
                row += (cmd_columns.WrappedColumn(schema),)
            rows.append(row)
        names = ('name', 'description', 'type')
        return names + (('schema',) if parsed_args.long else ()), rows
