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

"""``migcompat demo``: the whole flow on an embedded default, no cloud."""

import logging
import sys
import textwrap
import warnings

from cliff import columns
from cliff import lister

from migcompat_filter.cmd import FastEpilog
from migcompat_filter import cpu_modes
from migcompat_filter.demo import hosts as demo_hosts
from migcompat_filter.demo import runner

#: Column names (also the keys of -f json/yaml): the guest CPU mode (with
#: the guest CPU model in custom mode), the host the guest runs on, the
#: host nova-scheduler chose, the hosts the filter accepted (best first,
#: with their similarity to the source) and the hosts it refused with the
#: blocking factors.
COLUMNS = ('mode', 'source', 'chosen', 'accepted', 'refused')

#: Width the reasons are wrapped to in the table.
TEXT_WIDTH = 64


class _Accepted(columns.FormattableColumn):
    """Accepted hosts, best first, with their similarity to the source."""

    def human_readable(self):
        if not self._value:
            return '(none: no valid host)'
        return '\n'.join('%s (%.2f)' % (host, sim)
                         for host, sim, _weight in self._value)

    def machine_readable(self):
        return [{'host': h, 'similarity': round(s, 3),
                 'weight': round(w, 3)} for h, s, w in self._value]


class _Refused(columns.FormattableColumn):
    """Refused hosts and the factors (and, long, the reasons) why."""

    long = False

    def human_readable(self):
        lines = []
        for r in self._value:
            what = ', '.join(r.factors) or r.state or '?'
            lines.append('%s: %s' % (r.host, what))
            if self.long:
                for f in r.findings:
                    text = f.message + ('; hint: %s' % f.hint
                                        if f.hint else '')
                    lines.extend(textwrap.wrap(
                        text, TEXT_WIDTH, initial_indent='  - ',
                        subsequent_indent='    '))
        return '\n'.join(lines) or '-'

    def machine_readable(self):
        return [r.to_dict() for r in self._value]


class _RefusedLong(_Refused):
    long = True


def _summary(mode, decisions):
    """One line per mode: how many guests found a target, and the
    factors of the refusals, most frequent first.
    """
    counts = {}
    for d in decisions:
        for r in d.refused:
            for factor in r.factors or ['(%s)' % (r.state or '?')]:
                counts[factor] = counts.get(factor, 0) + 1
    placed = sum(1 for d in decisions if d.chosen)
    return '%s: %d of %d guests have a live-migration target; refusals ' \
        'by factor: %s' % (mode, placed, len(decisions), ', '.join(
            '%s %d' % (f, n) for f, n in sorted(
                counts.items(), key=lambda item: (-item[1], item[0]))) or
            'none')


class Demo(FastEpilog, lister.Lister):
    """Run the whole flow on this machine, with no OpenStack cloud.

    Starts an in-process Placement (sqlite), registers a fleet of real
    host profiles bundled with migcompat plus this machine read live,
    publishes their traits with the reporter, and runs nova's own
    scheduler code (default filters and weighers plus
    MigrationCompatibilityFilter and MigrationSimilarityWeigher) to choose
    a live-migration target for a guest on each host, in each guest CPU
    mode. Prints, per mode and source host, the chosen target, the
    accepted hosts (best first, with their similarity to the source) and
    each refused host with the factors that block it (--long: the
    reasons and hints). Progress goes to stderr.
    """

    empty_message = None

    def get_parser(self, prog_name):
        parser = super(Demo, self).get_parser(prog_name)
        parser.add_argument(
            '--mode', action='append', choices=cpu_modes.MODES, default=None,
            help='Guest CPU mode to schedule in (nova [libvirt] cpu_mode); '
                 'may be repeated. Default: all three.')
        parser.add_argument(
            '--cpu-model', metavar='<model>', default=None,
            help='The named CPU model of custom-mode guests (nova [libvirt] '
                 'cpu_models) on every host. Default: by CPU vendor, %s.'
                 % ', '.join('%s on %s' % (m, v) for v, m in
                             sorted(demo_hosts.DEFAULT_CPU_MODELS.items())))
        parser.add_argument(
            '--no-live', action='store_true',
            help='Leave this machine out of the fleet (by default it is '
                 'read live; what cannot be read shows as unknown).')
        parser.add_argument(
            '--connect', metavar='<uri>', default=None,
            help='libvirt URI of this machine (default: qemu:///system).')
        parser.add_argument(
            '--source', metavar='<host>', action='append', default=None,
            help='Only schedule guests on these hosts (may be repeated); '
                 'the whole fleet is still a candidate.')
        parser.add_argument(
            '--long', action='store_true',
            help='Show every blocking reason and hint in the table.')
        parser.add_argument(
            '--pictures', metavar='<directory>', default=None,
            help='Also write the heat map and the compatibility graph of '
                 'the fleet, per mode, into DIR (SVG).')
        return parser

    def take_action(self, parsed_args):
        err = self.app.stderr or sys.stderr

        def progress(text):
            err.write('# %s\n' % text)
            err.flush()

        if self.app.options.verbose_level <= 1:
            # Placement, alembic and nova log every request and migration
            # step at INFO; the demo's own progress lines say what
            # matters (-v -v shows them all).
            logging.getLogger().setLevel(logging.WARNING)
            warnings.filterwarnings('ignore', message=r'\s*Eventlet is '
                                    'deprecated')
        if parsed_args.pictures:
            from migcompat_filter.demo import pictures
            pictures.prepare(parsed_args.pictures)
        demo = runner.Demo(
            modes=parsed_args.mode or cpu_modes.MODES,
            cpu_model=parsed_args.cpu_model,
            live=not parsed_args.no_live, uri=parsed_args.connect,
            config_files=self.app.options.config_file, progress=progress,
            sources=parsed_args.source)
        decisions = demo.run()
        refused_col = _RefusedLong if parsed_args.long else _Refused
        progress('%d scheduling requests, %d Placement GETs by the filter '
                 'and weigher' % (len(decisions), demo.placement_calls))
        for mode in demo.modes:
            progress(_summary(mode, [d for d in decisions
                                     if d.mode == mode]))
        if parsed_args.pictures:
            for path in pictures.write(parsed_args.pictures, demo.modes,
                                       fleet=demo.hosts):
                progress('wrote %s' % path)
        rows = []
        for d in decisions:
            mode = d.mode
            if d.cpu_models:
                mode = '%s (%s)' % (mode, ','.join(d.cpu_models))
            rows.append((mode, d.source, d.chosen or '(no valid host)',
                         _Accepted(d.accepted), refused_col(d.refused)))
        return (COLUMNS, rows)
