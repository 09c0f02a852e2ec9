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

"""The migcompat CLI: one cliff command per verb."""

import os

#: The OpenStackClient names before 2026.2: their entry points stay for
#: one release, but ``openstack --help`` no longer lists them.
DEPRECATED_OSC_NAMES = frozenset(['migcompat matrix', 'migcompat check',
                                  'migcompat baseline'])


class FastEpilog(object):
    """Every migcompat command mixes this in, first.

    cliff's default epilog looks up which distribution provides the
    command (importlib.metadata.packages_distributions: ~170 ms per run);
    ours are all in migcompat itself, so there is nothing to say.
    """

    def get_epilog(self):
        return self._epilog or ''

    #: Said on stderr when a listing's table is empty (a blank output
    #: reads as a failure); a command names what it lists.
    empty_message = 'nothing to list'

    def produce_output(self, parsed_args, column_names, data):
        """cliff's output, with migcompat's rules (cmd/columns.py
        OutputAdapter): tables fitted to the terminal, or 100 columns
        when piped, without words cut in the middle; no Python reprs in
        ``-f value|csv|shell``; an empty listing says so.
        """
        from migcompat_filter.cmd import columns
        real = self.formatter
        self.formatter = columns.OutputAdapter(
            real, parsed_args, self.app.stdout, self.app.stderr,
            self.empty_message)
        try:
            return super(FastEpilog, self).produce_output(
                parsed_args, column_names, data)
        finally:
            self.formatter = real

    @property
    def deprecated(self):
        """cliff's help leaves deprecated commands out of its listing."""
        return getattr(self, 'cmd_name', None) in DEPRECATED_OSC_NAMES

    def run(self, parsed_args):
        """The same exit statuses under ``openstack`` as standalone.

        OpenStackClient (like cliff) maps every error to 1; migcompat's
        contract (doc/source/cli.rst) is 2 for bad input and, for a
        command whose 1 means something else (``profile compare``: not
        compatible), its ``internal_error_status`` for any other error.
        The ``migcompat`` app applies it itself (shell.exit_status).
        """
        _global_cloud(self.app, parsed_args)
        try:
            return super(FastEpilog, self).run(parsed_args)
        except Exception as e:
            status = _foreign_app_status(self, e)
            if status is None:
                raise
            log = self.app.LOG
            if getattr(getattr(self.app, 'options', None), 'debug', False):
                log.exception(e)
            else:
                log.error(e)
            raise SystemExit(status)


class ResultStatus(object):
    """A display command whose exit status is its result: cliff's display
    commands always return 0, so take_action sets ``self._exit_status``
    (``EXIT_DEFAULT`` until it does). Mixed in after FastEpilog.
    """

    EXIT_DEFAULT = 0

    def run(self, parsed_args):
        self._exit_status = self.EXIT_DEFAULT
        super(ResultStatus, self).run(parsed_args)
        return self._exit_status


def _global_cloud(app, parsed_args):
    """``migcompat --os-cloud X <command>`` (OpenStackClient's habit):
    the global option stands for the command's own --os-cloud when that
    was not given (it then holds its default, $OS_CLOUD).
    """
    cloud = getattr(getattr(app, 'options', None), 'os_cloud', None)
    if (cloud and hasattr(parsed_args, 'os_cloud') and
            parsed_args.os_cloud == os.environ.get('OS_CLOUD')):
        parsed_args.os_cloud = cloud


def _foreign_app_status(cmd, error):
    """The exit status for error when cmd runs in an app that is not
    migcompat's own (None: leave it to that app).
    """
    if getattr(cmd.app, 'MIGCOMPAT_EXIT_STATUSES', False):
        return None
    from migcompat_filter import exception
    if isinstance(error, (exception.InputError, exception.FactorUnknown)):
        return 2
    return getattr(cmd, 'internal_error_status', None)


def main(argv=None):
    """The ``migcompat`` console script.

    The base install is nova's scheduler plugin only; the commands need
    the ``[reporter]`` or ``[cli]`` extra (cliff and friends). Say so
    instead of a traceback when they are missing.
    """
    import sys
    try:
        from migcompat_filter.cmd import shell
    except ImportError as e:
        sys.stderr.write(
            'migcompat: the command line is not installed (%s); install '
            'an extra: pip install "migcompat-filter[cli]" (operator '
            'workstation) or "migcompat-filter[reporter]" (compute node)\n'
            % e)
        return 2
    return shell.main(argv)


def positive_count(text):
    """argparse type of a count that must be 1 or more (--workers)."""
    import argparse
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError('%r is not a whole number' % text)
    if value < 1:
        raise argparse.ArgumentTypeError('%r: must be 1 or more' % text)
    return value
