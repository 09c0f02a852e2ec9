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
import warnings

from cliff import lister

from migcompat_filter.cmd import columns as cmd_columns
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


class _Accepted(cmd_columns.Wrappable):
    """Accepted hosts, best first, with nova's final weight and their
    similarity to the source; in a narrow column the numbers go under
    the host, not split between lines.
    """

    def wrapped(self, width):
        if not self._value:
            return cmd_columns.wrap_item('(none: no valid host)', width)
        # nova's final weight (all weighers) decides; our similarity is
        # one of its terms.
        lines = []
        for host, sim, weight in self._value:
            numbers = '(%.2f, %.2f)' % (weight, sim)
            if width is None or len(host) + 1 + len(numbers) <= width:
                lines.append('%s %s' % (host, numbers))
            else:
                lines.extend([host, '  ' + numbers])
        return lines

    def machine_readable(self):
        return [{'host': h, 'similarity': round(s, 3),
                 'weight': round(w, 3)} for h, s, w in self._value]


class _Refused(cmd_columns.Wrappable):
    """Refused hosts and the factors (and, long, the reasons) why,
    wrapped to the table's column.
    """

    long = False

    def wrapped(self, width):
        lines = []
        for r in self._value:
            what = ', '.join(r.factors) or r.state or '?'
            first = r.host + ': '
            if width is not None and len(first) + len(
                    what.split()[0]) > width:
                # The host alone on its line: the first factor after it
                # would overflow the column.
                lines.append(first.rstrip())
                first = '  '
            lines.extend(cmd_columns.wrap_item(what, width, first, '  '))
            if self.long:
                for f in r.findings:
                    text = f.message + ('; hint: %s' % f.hint
                                        if f.hint else '')
                    lines.extend(cmd_columns.wrap_item(
                        ' '.join(text.split()), width, '  - ', '    '))
        return lines or ['-']

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

    def produce_output(self, parsed_args, column_names, data):
        """The table, then the run's headline findings, last on stdout
        (a table for people; -f json and the others stay pure data).
        """
        result = super(Demo, self).produce_output(parsed_args, column_names,
                                                  data)
        if parsed_args.formatter == 'table' and getattr(
                self, '_headlines', None):
            self.app.stdout.write(
                '\naccepted: host (nova\'s final weight, which decides; '
                'our similarity, one of its terms), best first\n'
                '\nWhat this run shows:\n')
            for line in self._headlines:
                self.app.stdout.write('\n'.join(cmd_columns.wrap_item(
                    line, cmd_columns.PIPED_WIDTH, '', '   ')) + '\n')
        return result

    def get_parser(self, prog_name):
        parser = super(Demo, self).get_parser(prog_name)
        parser.add_argument(
            '--mode', action='append', choices=cpu_modes.MODES, default=None,
            help='Guest CPU mode to schedule in (nova [libvirt] cpu_mode); '
                 'may be repeated. Default: all three.')
        parser.add_argument(
            '--cpu-model', metavar='<model>', default=None,
            help='The named CPU model of custom-mode guests (nova [libvirt] '
                 'cpu_models) on every host. Default: by CPU vendor, %s; '
                 'on a host whose libvirt does not list that model as '
                 'usable, the richest model it does list (stderr says '
                 'so).'
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
        self._headlines = headlines(decisions)
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


def headlines(decisions):
    """The run's three findings an operator needs, for the end of stdout:
    a refusal with the tsx=off hint, a version refusal that is one-way,
    and how many guests found a target in each mode.
    """
    lines = []
    tsx = _best_refusal(decisions, _tsx_text)
    if tsx is not None:
        src, r = tsx
        modes = [d.mode for d in decisions if d.source == src and any(
            x.host == r.host for x in d.refused)]
        hints = [f.hint for f in r.findings
                 if f.hint and 'tsx' in _tsx_text(f)]
        lines.append('%s -> %s is refused in %s (%s)%s' % (
            src, r.host, ', '.join(modes), ', '.join(r.factors),
            '; hint: %s' % hints[0] if hints else ''))
    version = _first_refusal(decisions, lambda r: set(r.factors) & {
        'qemu_version', 'libvirt_version'})
    if version is not None:
        src, r = version
        back = [d for d in decisions if d.source == r.host and any(
            h == src for h, _s, _w in d.accepted)]
        lines.append('%s -> %s is refused (%s)%s: guests move to a newer '
                     'QEMU and libvirt only' % (
                         src, r.host, ', '.join(r.factors),
                         '; %s -> %s is accepted' % (r.host, src)
                         if back else ''))
    modes = []
    for d in decisions:
        if d.mode not in modes:
            modes.append(d.mode)
    lines.append('guests with a live-migration target: %s' % '; '.join(
        '%s %d of %d' % (m, sum(1 for d in decisions
                                if d.mode == m and d.chosen),
                         sum(1 for d in decisions if d.mode == m))
        for m in modes))
    return ['%d. %s' % (i + 1, line) for i, line in enumerate(lines)]


def _tsx_text(finding):
    return ('%s %s' % (finding.message, finding.hint or '')).lower()


def _best_refusal(decisions, text):
    """The refusal whose findings speak of tsx=off (else of TSX) with the
    fewest blocking factors: the clearest example.
    """
    found = [(('tsx=off' not in ' '.join(text(f) for f in r.findings)),
              len(r.factors), n, d.source, r)
             for n, d in enumerate(decisions) for r in d.refused
             if any('tsx' in text(f) for f in r.findings)]
    if not found:
        return None
    best = min(found, key=lambda t: t[:3])
    return best[3], best[4]


def _first_refusal(decisions, wanted):
    for d in decisions:
        for r in d.refused:
            if wanted(r):
                return d.source, r
    return None
