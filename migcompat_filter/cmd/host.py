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

"""``migcompat host list`` and ``migcompat host show`` (also ``openstack
migcompat host ...`` through the OSC plugin).

They read every compute node's ``CUSTOM_MIGCOMPAT_*`` traits from
Placement (and nova's API, for host names and aggregates), reached with a
``clouds.yaml`` cloud or ``OS_*`` variables (``--os-cloud``), nova's
``[placement]`` options in a config file (``--config-file``, default
``/etc/nova/nova.conf``), or with no auth (``--placement-url`` and
``--nova-url``, for tests). Inside ``openstack`` the OpenStackClient
session is used.
"""

from cliff import lister
from cliff import show

from migcompat_filter.cmd import columns as cmd_columns
from migcompat_filter.cmd import common
from migcompat_filter.fleet import inventory
from migcompat_filter.placement import hoststate
from migcompat_filter.placement import store
from migcompat_filter.placement import verify_store
from migcompat_filter.profile import is_unknown
from migcompat_filter.profile import to_jsonable
from migcompat_filter.traits import codec as traits_codec

#: The default columns fit a 100-column table; --long adds the rest.
LIST_COLUMNS = ('name', 'profile', 'cpu', 'qemu', 'libvirt', 'mode',
                'drift')
LONG_COLUMNS = LIST_COLUMNS + ('kernel', 'microcode', 'nested', 'changed',
                               'uuid', 'service_host', 'nova', 'verify')
#: summary() column -> the factor shown as is.
_FACTOR_COLUMNS = {'microcode': 'microcode_version',
                   'kernel': 'kernel_version', 'qemu': 'qemu_version',
                   'libvirt': 'libvirt_version', 'mode': 'cpu_mode'}


def _text(value):
    if value is None:
        return None
    if is_unknown(value):
        return 'unknown'
    return value


def _cpu_text(profile):
    cpu = profile['cpu_model']
    if is_unknown(cpu) or not isinstance(cpu, dict):
        hm = profile['host_model']
        if isinstance(hm, dict) and not is_unknown(hm.get('model')):
            return '%s (host-model)' % hm.get('model')
        return 'unknown'
    name = cpu.get('model_name')
    if is_unknown(name) or not name:
        name = cpu.get('libvirt_model')
    sig = []
    for part in ('family', 'model', 'stepping'):
        v = cpu.get(part)
        sig.append('?' if is_unknown(v) or v is None else str(v))
    return '%s [%s]' % (_text(name) or 'unknown', '/'.join(sig))


def _nested_text(profile):
    nested = profile['nested_virt']
    if is_unknown(nested) or not isinstance(nested, dict):
        return 'unknown'
    flag = nested.get('nested')
    if is_unknown(flag):
        return 'unknown'
    if not flag:
        return 'no'
    hv = nested.get('hypervisor')
    return 'yes' + (' (%s)' % hv if hv and not is_unknown(hv) else '')


def _changed_text(host):
    if host.group_updated and not host.updated:
        return 'by ' + host.group_updated
    if host.updated and host.traits_created:
        if host.traits_created == host.updated:
            return host.updated
        return 'between %s and %s' % (host.traits_created, host.updated)
    return host.updated


def _drift_text(host):
    """Running guests drifted under the host (its note's ``drift``, trait
    schema 3) and whether some cannot be judged (``unjudged``), or '-'
    when its traits carry no note.
    """
    note = getattr(host.profile, 'note', None) or getattr(host, 'note',
                                                          None)
    if not isinstance(note, dict):
        return '-'
    drift = note.get('drift')
    text = '-'
    if isinstance(drift, dict):
        factors = drift.get('factors') or {}
        text = 'none' if not drift.get('guests') else 'yes%s' % (
            ' (%s)' % ', '.join(sorted(factors)) if factors else '')
    if note.get('unjudged'):
        # Guests whose XML cannot be read: every move from here is refused.
        text = 'unjudged guests' if text == '-' else (
            text + '; unjudged guests')
    return text


def summary(host, memo=None):
    """A host's one-line profile summary (dict of plain strings).

    memo: a dict shared across calls, so that the hosts of a profile
    group (one shared profile object) have their profile columns worked
    out once.
    """
    out = {
        'name': host.name,
        'uuid': host.uuid,
        'service_host': host.service_host,
        'profile': host.status,
        'changed': _changed_text(host),
        'drift': _drift_text(host),
        'nova': host.nova_refusal() or ('up, enabled' if host.hypervisor
                                        else None),
    }
    if host.state != hoststate.TRAITED:
        out.update(dict.fromkeys(('cpu', 'nested') + tuple(_FACTOR_COLUMNS)))
        return out
    memo = {} if memo is None else memo
    key = id(host.profile)
    if key not in memo:
        memo[key] = _profile_columns(host.profile)
    out.update(memo[key])
    return out


def _profile_columns(p):
    cols = {'cpu': _cpu_text(p), 'nested': _nested_text(p)}
    for column, factor in _FACTOR_COLUMNS.items():
        cols[column] = _text(p[factor])
    return cols


class HostList(common.FleetCommand, lister.Lister):
    """List every compute node with its migcompat profile summary.

    One row per compute node: CPU (name [family/model/stepping]), QEMU,
    libvirt and guest CPU mode; with --long also kernel, microcode,
    nested, and "changed": "by T", T being the newest change in Placement
    of any host with the same profile (the Last-Modified of its profile
    group's listing), so the host's traits last changed at or before T.
    The fleet is read by profile group, in 3 + 2 x profiles requests
    whatever the number of hosts, so no per-host time is read here;
    "host show HOST" gives the host's own window. Hosts without migcompat
    traits show "no migcompat traits" (and no time).
    """

    empty_message = 'no compute nodes'

    def get_parser(self, prog_name):
        parser = super(HostList, self).get_parser(prog_name)
        parser.add_argument('--aggregate', metavar='<aggregate>',
                            help='Only the hosts of this aggregate (nova '
                                 'name or ID, or Placement aggregate UUID).')
        parser.add_argument('--long', action='store_true',
                            help='Also kernel, microcode, nested, when the '
                                 'traits changed, the provider UUID, '
                                 'nova\'s service host, nova\'s service '
                                 'state and the host\'s libvirt '
                                 'verification counts ("migcompat fleet '
                                 'verify").')
        return self.add_arguments(parser)

    def take_action(self, parsed_args):
        hosts = self.fleet(parsed_args).load(
            aggregate=parsed_args.aggregate, timestamps=True)
        self.warn_about_nova()
        cols = LONG_COLUMNS if parsed_args.long else LIST_COLUMNS
        memo = {}
        summaries = [summary(host, memo) for host in hosts]
        if parsed_args.long:
            for host, s in zip(hosts, summaries):
                s['verify'] = verify_text(verify_store.counts_of(host))
        unjudged = inventory.unjudged_sources(hosts)
        if unjudged:
            states = ', '.join('%s: %d' % kv
                               for kv in sorted(unjudged.items()))
            self.app.stderr.write(
                '%d of %d hosts cannot be judged as a live-migration '
                'source (%s): the scheduler\'s untraited_source_action, '
                'newer_schema_action and placement_error_action decide '
                'for them\n' % (sum(unjudged.values()), len(hosts), states))
        return cols, [tuple(s[c] for c in cols) for s in summaries]


class HostShow(common.FleetCommand, show.ShowOne):
    """Show one compute node: decoded factors and raw traits.

    Reads only that host (its provider by name or UUID, its traits, the
    creation time of its trait names), never the whole fleet. "changed"
    is the window between the creation of the newest of the host's trait
    values and the provider's last update (Placement keeps no per-trait
    time).
    """

    def get_parser(self, prog_name):
        parser = super(HostShow, self).get_parser(prog_name)
        parser.add_argument('host', metavar='<host>',
                            help='compute node name, nova service host or '
                                 'resource provider UUID')
        return self.add_arguments(parser)

    def take_action(self, parsed_args):
        host = self.fleet(parsed_args).host(parsed_args.host)
        self.warn_about_nova()
        fields = _show_fields(host)
        fields.insert(6, ('verify',
                          verify_text(verify_store.counts_of(host))))
        return tuple(f[0] for f in fields), tuple(f[1] for f in fields)


def verify_text(counts):
    """The libvirt-verification counts of a host as one line, or None."""
    if not counts:
        return None
    return ('%(agree)d of %(checked)d agree with libvirt, %(disagree)d '
            'disagree, %(unchecked)d unchecked' % counts)


def _show_fields(host):
    """[(field, value)] of host show: identity, factors, traits."""
    fields = [('name', host.name), ('uuid', host.uuid),
              ('service_host', host.service_host),
              ('profile', host.status), ('changed', _changed_text(host)),
              ('drift', _drift_text(host)),
              ('generation', host.generation)]
    for name in sorted(host.profile.factors):
        # Readable and wrapped as in "profile show", not one JSON line.
        fields.append(('factor:' + name, cmd_columns.FactorColumn(
            to_jsonable(host.profile.factors[name]))))
    fields.append(('problems', cmd_columns.ListColumn(
        [str(p) for p in host.problems])))
    if getattr(host, 'note', None):
        fields.append(('note', cmd_columns.FactorColumn(host.note)))
    fields.append(('migcompat_traits', cmd_columns.ListColumn(host.ours)))
    if host.state == hoststate.TRAITED and \
            traits_codec.SCHEMA_PREFIX + '3' in host.ours:
        # Schema 3: the record's facts as schema 2 would name them.
        fields.append(('readable_traits', cmd_columns.ListColumn(
            store.readable_names_of(host.profile))))
    fields.append(('other_traits', cmd_columns.ListColumn(
        sorted(set(host.traits) - set(host.ours)))))
    return fields
