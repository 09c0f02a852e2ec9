"""The ``migcompat`` command."""

import importlib.metadata
import sys

from cliff import app
from cliff import commandmanager

import migcompat_filter
from migcompat_filter import exception
from migcompat_filter.factors import base as factor_base


class LazyCommandManager(commandmanager.CommandManager):
    """Finds commands by entry point and imports only the one that runs.

    cliff's manager loads every command through stevedore when the app
    starts, so "migcompat profile" would import the fleet commands'
    keystoneauth and requests too (about a third of its start-up time).
    cliff itself calls ``.load()`` on what it finds.
    """

    def load_commands(self, namespace):
        self.group_list.append(namespace)
        for ep in importlib.metadata.entry_points(group=namespace):
            name = (ep.name.replace('_', ' ') if self.convert_underscores
                    else ep.name)
            self.commands[name] = ep


class MigcompatApp(app.App):

    def __init__(self):
        super(MigcompatApp, self).__init__(
            description=migcompat_filter.__doc__.strip(),
            version=_version(),
            command_manager=LazyCommandManager('migcompat.cli'),
            deferred_help=True,
        )

    def build_option_parser(self, description, version, argparse_kwargs=None):
        parser = super(MigcompatApp, self).build_option_parser(
            description, version, argparse_kwargs)
        parser.add_argument(
            '--config-file', metavar='FILE', action='append', default=[],
            help='oslo.config file with a [migcompat] section (policy, '
                 'reporter and filter options); may be repeated.')
        return parser

    def run_subcommand(self, argv):
        self._error = None
        result = super(MigcompatApp, self).run_subcommand(argv)
        # cliff maps every exception to 1; bad input or usage is 2, so that
        # "compare" can keep diff's convention (1 = not compatible).
        if isinstance(self._error, (exception.InputError,
                                    factor_base.FactorUnknown)):
            return 2
        return result

    def clean_up(self, cmd, result, err):
        # cliff already printed the message (no traceback unless --debug).
        self._error = err


def _version():
    try:
        from pbr import version
        return version.VersionInfo('migcompat-filter').version_string()
    except Exception:
        return 'unknown'


def main(argv=None):
    if argv is None:
        argv = sys.argv[1:]
    return MigcompatApp().run(argv)


if __name__ == '__main__':
    sys.exit(main())
