"""``migcompat profile``, ``migcompat snapshot`` and ``migcompat factors``."""

import os
import textwrap

from cliff import columns
from cliff import command
from cliff import lister
from cliff import show

from migcompat_filter.cmd import common
from migcompat_filter.cmd import FastEpilog
from migcompat_filter import profile as profile_mod


class FactorColumn(columns.FormattableColumn):
    """A factor value: raw JSON data for json/yaml, readable text for
    table/value (an unknown as "unknown: reason")."""

    def human_readable(self):
        return _human(self._value)

    def machine_readable(self):
        return self._value


def _human(value, indent=''):
    if isinstance(value, dict):
        if profile_mod.is_unknown_json(value):
            return 'unknown: %s' % value.get('reason')
        lines = []
        for key in sorted(value):
            sub = value[key]
            if isinstance(sub, dict) and not profile_mod.is_unknown_json(sub):
                lines.append('%s%s:' % (indent, key))
                lines.append(_human(sub, indent + '  '))
            else:
                lines.append('%s%s: %s' % (indent, key, _human(sub)))
        return '\n'.join(lines) if lines else '%s(none)' % indent
    if isinstance(value, list):
        text = ', '.join(_human(v) for v in value) or '(none)'
        lines = textwrap.wrap(text, 72, subsequent_indent=indent + '  ')
        return '\n'.join(lines) or text
    if value is None:
        return '-'
    if value is True:
        return 'true'
    if value is False:
        return 'false'
    return str(value)


class ShowProfile(FastEpilog, show.ShowOne):
    """Show the factor profile of this host or of a snapshot."""

    def get_parser(self, prog_name):
        parser = super(ShowProfile, self).get_parser(prog_name)
        return common.add_host_arguments(parser)

    def take_action(self, parsed_args):
        data = common.read_profile(common.open_host(
            parsed_args.root, parsed_args.connect,
            parsed_args.nova_config)).to_dict()
        names = list(data)
        return names, [FactorColumn(data[n]) if isinstance(data[n], (
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
        from migcompat_filter import snapshot
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
    """List the factors a profile is made of (plugins included)."""

    def take_action(self, parsed_args):
        from migcompat_filter import reader
        rows = []
        for name, factor in reader.load_factors():
            if isinstance(factor, profile_mod.Unknown):
                description = factor.reason
            else:
                description = factor.description or factor.__doc__ or ''
            rows.append((name, description.strip(),
                         profile_mod.FACTOR_SCHEMA.get(
                             name, 'plugin factor (JSON data)')))
        return ('Name', 'Description', 'Value'), rows
