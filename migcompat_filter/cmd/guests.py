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

"""``migcompat guest list``: the running guests of a host and what limits
their moves.
"""

from cliff import columns
from cliff import lister

from migcompat_filter.cmd import columns as cmd_columns
from migcompat_filter.cmd import common
from migcompat_filter.cmd import FastEpilog

#: osc-placement's column names; the default fits a 100-column table.
COLUMNS = ('name', 'mode', 'model', 'machine_type', 'drift', 'limits')
LONG_COLUMNS = ('uuid',) + COLUMNS + ('tsc', 'phys_bits')


def _tsc(guest):
    freq = (guest.tsc or {}).get('frequency')
    if guest.invtsc:
        return ('invtsc, pinned %d Hz' % freq if freq
                else 'invtsc, not pinned')
    return 'pinned %d Hz' % freq if freq else '-'


def _phys_bits(guest):
    phys = guest.maxphysaddr or {}
    if phys.get('bits') is not None:
        return str(phys['bits'])
    return phys.get('mode') or '-'


def _missing(need, guest, hosts):
    """Per destination, what this guest needs that it lacks (a hint: the
    destination's host-model features and machine types).
    """
    out = []
    for name, prof in hosts:
        lacks = []
        host_model = prof.get('host_model')
        if need is not None and isinstance(host_model, dict) and \
                isinstance(host_model.get('features'), list):
            lacks += sorted(need - set(host_model['features']))
        machines = prof.get('machine_types')
        if guest.machine and isinstance(machines, list) and \
                guest.machine not in machines:
            lacks.append('machine type %s' % guest.machine)
        if lacks:
            out.append('missing on %s: %s' % (name, ', '.join(lacks)))
    return out


#: The host's factors a running guest is compared with (drift).
DRIFT_FACTORS = ('host_model', 'cpu_features', 'machine_types',
                 'qemu_version', 'tsc')


class DriftColumn(columns.FormattableColumn):
    """The drifted factors' names in a table; what drifted in json/yaml."""

    def human_readable(self):
        if isinstance(self._value, dict):
            return ', '.join(sorted(self._value))
        return str(self._value)

    def machine_readable(self):
        return self._value


def _drift(drifted, unknown):
    """{factor: what drifted}, '-' when nothing did, plus the factors
    that could not be compared ('unknown: ...').
    """
    out = dict(drifted)
    out.update(('%s (unknown)' % f, why) for f, why in unknown.items())
    return out or '-'


class ListGuests(FastEpilog, lister.Lister):
    """List the running guests of this host (or of a snapshot).

    One row per guest: its name, nova CPU mode, model, machine type, drift
    (what the host no longer offers of what the guest runs with:
    host_model, cpu_features, machine_types, tsc; '-' when nothing) and
    what limits its live migrations; with --long also its UUID (nova's
    instance UUID), TSC set-up and guest physical address bits. With
    --hosts, also which features or machine type each guest would miss
    on those hosts (a hint from their host-model CPU and machine types;
    ``migcompat profile compare --guest`` judges one guest fully).
    """

    empty_message = 'no running guests'

    def get_parser(self, prog_name):
        parser = super(ListGuests, self).get_parser(prog_name)
        common.add_host_arguments(parser)
        parser.add_argument(
            '--hosts', metavar='<host>', nargs='+', default=[],
            help='Snapshots, profile JSON files or trait lists of possible '
                 'destinations: show what each guest would miss there.')
        parser.add_argument(
            '--long', action='store_true',
            help='Also the UUID, the TSC set-up and the guest physical '
                 'address bits.')
        return parser

    def take_action(self, parsed_args):
        from migcompat_filter.cpu import guest_requirements
        from migcompat_filter.factors import guests as guests_factor
        from migcompat_filter.host import domains
        from migcompat_filter.host import reader
        from migcompat_filter.rules import drift
        cloud = common.app_cloud(self.app)
        hosts = [(spec, common.load_profile(spec, cloud)[0].factors)
                 for spec in parsed_args.hosts]
        source = common.open_host(parsed_args.root, parsed_args.connect,
                                  parsed_args.nova_config)
        try:
            found = [domains.parse_domain(text, origin)
                     for origin, text in source.running_domains()]
            # What this host offers now, for the drift column.
            now = reader.read_profile(source, list(DRIFT_FACTORS))
            rows = []
            for guest in found:
                expand = guests_factor.model_expander(
                    source, guest.arch or 'x86_64')
                need, limits = guest_requirements.one_guest(guest, expand)
                limits += _missing(need, guest, hosts)
                drifted, unknown = drift.guest_drift(guest, need, now)
                rows.append({
                    'uuid': guest.uuid, 'name': guest.name or '-',
                    'mode': guest.nova_mode, 'model': guest.model or '-',
                    'machine_type': guest.machine or '-',
                    'drift': DriftColumn(_drift(drifted, unknown)),
                    'tsc': _tsc(guest), 'phys_bits': _phys_bits(guest),
                    'limits': cmd_columns.ListColumn(limits)})
        finally:
            source.close()
        cols = LONG_COLUMNS if parsed_args.long else COLUMNS
        return cols, [tuple(r[c] for c in cols) for r in rows]
