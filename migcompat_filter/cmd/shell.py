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

"""The ``migcompat`` command."""

import os
import sys

from cliff import app
from cliff import commandmanager

import migcompat_filter
from migcompat_filter.cmd import entry_points
from migcompat_filter import exception
from migcompat_filter.factors import base as factor_base
from migcompat_filter import redaction

#: Exit statuses of every command (doc/source/cli.rst). ``compare`` adds
#: its verdicts (0 compatible, 1 not compatible) and EXIT_INTERNAL_ERROR.
EXIT_OK = 0
#: A runtime failure: Placement down, libvirt unreachable, ...
EXIT_FAILURE = 1
#: Bad input or usage: a file, an option or a URL that cannot be used.
EXIT_BAD_INPUT = 2
#: An error inside a command whose 1 means something else (``compare``:
#: 1 = not compatible); such a command sets ``internal_error_status``.
EXIT_INTERNAL_ERROR = 3

#: Environment variables whose URL may carry credentials (see redaction).
_URL_VARIABLES = ('MIGCOMPAT_PLACEMENT_URL', 'MIGCOMPAT_NOVA_URL',
                  'OS_AUTH_URL')


#: The command names before 2026.2 -> their <object> <action> names. The
#: old names keep working for one release (cliff's legacy commands: not
#: listed in --help); run from a terminal they say what to use instead.
RENAMED = {
    'profile': 'profile show',
    'compare': 'profile compare',
    'report': 'profile publish',
    'snapshot': 'snapshot create',
    'factors': 'factor list',
    'traits': 'trait list',
    'guests': 'guest list',
    'check': 'server check',
    'matrix': 'fleet matrix',
    'baseline': 'fleet baseline',
    'drain': 'host drain',
    'what-if': 'fleet what-if',
    'upgrade-plan': 'fleet upgrade-plan',
}


class LazyCommandManager(commandmanager.CommandManager):
    """Finds commands by entry point and imports only the one that runs.

    cliff's manager loads every command through stevedore when the app
    starts, so "migcompat profile show" would import the fleet commands'
    keystoneauth and requests too (about a third of its start-up time).
    cliff itself calls ``.load()`` on what it finds. The entry points come
    from the process's one scan (migcompat_filter.cmd.entry_points).
    """

    def load_commands(self, namespace):
        self.group_list.append(namespace)
        for ep in entry_points.group(namespace):
            name = (ep.name.replace('_', ' ') if self.convert_underscores
                    else ep.name)
            self.commands[name] = ep
        for old, new in RENAMED.items():
            if new in self.commands:
                self.add_legacy_command(old, new)

    def find_command(self, argv):
        found = super(LazyCommandManager, self).find_command(argv)
        #: (old name, new name) when argv used a deprecated name.
        self.renamed = ((found[1], RENAMED[found[1]])
                        if found[1] in RENAMED else None)
        return found


class MigcompatApp(app.App):

    #: This app maps errors to exit statuses itself (exit_status).
    MIGCOMPAT_EXIT_STATUSES = True

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
            '--config-file', metavar='<file>', action='append', default=[],
            help='oslo.config file with a [migcompat] section (policy, '
                 'reporter and filter options); may be repeated.')
        # OpenStackClient's habit: "migcompat --os-cloud X host list".
        parser.add_argument(
            '--os-cloud', metavar='<name>', default=None,
            help='clouds.yaml cloud for every command that talks to the '
                 'cloud (as the command\'s own --os-cloud; default '
                 '$OS_CLOUD).')
        return parser

    def configure_logging(self):
        super(MigcompatApp, self).configure_logging()
        # The console handler writes to the (redacting) stderr, but a
        # --log-file handler does not: redact at the formatter too.
        redaction.redact_handlers()

    def run_subcommand(self, argv):
        self._error = None
        self._cmd = None
        self._say_renamed(argv)
        result = super(MigcompatApp, self).run_subcommand(argv)
        return exit_status(self._error, result, self._cmd)

    def _say_renamed(self, argv):
        """A deprecated name run from a terminal says what replaces it
        (not in scripts' output: their stderr stays as it was for the
        release the old names are kept).
        """
        try:
            self.command_manager.find_command(argv)
        except ValueError:
            return  # cliff reports the unknown command itself
        renamed = getattr(self.command_manager, 'renamed', None)
        if renamed and self.stderr.isatty():
            self.stderr.write('migcompat: "%s" is deprecated and goes in '
                              'the next release; use "migcompat %s"\n'
                              % renamed)

    def prepare_to_run_command(self, cmd):
        """Every command refuses a --config-file that is not there (exit
        2), not only those that read one.
        """
        super(MigcompatApp, self).prepare_to_run_command(cmd)
        from migcompat_filter.host import safefile
        for path in getattr(self.options, 'config_file', None) or ():
            problem = safefile.not_regular(path)
            if problem:
                raise exception.InputError('--config-file %s: %s'
                                           % (path, problem))

    def clean_up(self, cmd, result, err):
        # cliff already printed the message (no traceback unless --debug).
        self._error = err
        self._cmd = cmd


def exit_status(error, result, cmd=None):
    """The exit status of a command that returned result or raised error.

    cliff maps every exception to 1. Bad input or usage is
    EXIT_BAD_INPUT, so that "compare" can keep diff's convention (1 = not
    compatible); any other error of a command that sets
    ``internal_error_status`` (compare) gets that status, never 1.
    """
    if error is None:
        return result
    if isinstance(error, (exception.InputError, factor_base.FactorUnknown)):
        return EXIT_BAD_INPUT
    special = getattr(cmd, 'internal_error_status', None)
    if special is not None and not isinstance(error, KeyboardInterrupt):
        return special
    return result


def _version():
    try:
        from pbr import version
        return version.VersionInfo('migcompat-filter').version_string()
    except Exception:
        return 'unknown'


def protect_output(argv, environ=None):
    """Redact credentials from everything this process prints: register
    the userinfo of every URL in argv and the URL variables, and wrap
    sys.stdout and sys.stderr (also what a --debug traceback goes to).
    """
    environ = os.environ if environ is None else environ
    for value in list(argv) + [environ.get(v) for v in _URL_VARIABLES]:
        if value and '://' in value:
            redaction.add_secrets_from_url(value.split('=', 1)[-1]
                                           if value.startswith('--')
                                           else value)
    for name in ('stdout', 'stderr'):
        stream = getattr(sys, name)
        if not isinstance(stream, redaction.RedactingStream):
            setattr(sys, name, redaction.RedactingStream(stream))


#: SIGTERM that arrived while a reporter command was starting (see
#: hold_early_sigterm); the reporter's own handler takes it from here.
EARLY_SIGTERM = []


def hold_early_sigterm(argv):
    """For ``report``/``profile publish``: note a SIGTERM that arrives
    during start-up instead of dying of it, so that ``--interval`` can
    stop cleanly (exit 0) as documented. A one-shot report gives the
    signal back (release_early_sigterm).
    """
    import signal
    if not {'report', 'publish'} & set(argv):
        return
    signal.signal(signal.SIGTERM,
                  lambda signum, _frame: EARLY_SIGTERM.append(signum))


def release_early_sigterm():
    """Back to the default SIGTERM action; one held meanwhile kills the
    process now, as it would have.
    """
    import signal
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if EARLY_SIGTERM:
        os.kill(os.getpid(), signal.SIGTERM)


def main(argv=None):
    if argv is None:
        argv = sys.argv[1:]
    protect_output(argv)
    hold_early_sigterm(argv)
    # Before cliff's first ExtensionManager (command hooks, formatters).
    entry_points.prime_stevedore()
    return MigcompatApp().run(argv)


if __name__ == '__main__':
    sys.exit(main())
