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

"""``migcompat fleet baseline``: the guest CPU every listed host can offer
(also ``openstack migcompat fleet baseline``).
"""

from cliff import show

from migcompat_filter.cmd import columns as cmd_columns
from migcompat_filter.cmd import common
from migcompat_filter import exception
from migcompat_filter import fleet


class BaselineCommand(common.FleetCommand, show.ShowOne):
    """The guest CPU every listed host can offer (EVC-style).

    The features common to the hosts' host-model CPUs, the richest named
    CPU model usable on all of them, and the nova-compute [libvirt]
    options (cpu_mode = custom, cpu_models, cpu_model_extra_flags) that
    make guests migratable across all of them. libvirt's own baselineCPU
    (on --connect, default test:///default: libvirt's CPU map, no
    daemon) computes the same baseline as a check.
    """

    def get_parser(self, prog_name):
        parser = super(BaselineCommand, self).get_parser(prog_name)
        parser.add_argument('hosts', metavar='<host>', nargs='*',
                            help='compute nodes (name, service host or UUID)')
        parser.add_argument('--aggregate', metavar='<aggregate>',
                            help='every host of this aggregate')
        # --libvirt-uri: the name before 2026.2 (deprecated); every other
        # command calls the libvirt URI --connect.
        parser.add_argument('--connect', '--libvirt-uri', metavar='<uri>',
                            dest='libvirt_uri',
                            default='test:///default',
                            help='libvirt connection whose CPU map expands '
                                 'models and checks the baseline (default: '
                                 '%(default)s)')
        return self.add_arguments(parser)

    def take_action(self, parsed_args):
        from migcompat_filter.fleet import baseline
        hosts = self._hosts(parsed_args)
        self.warn_about_nova()
        cpu_map = baseline.LibvirtCPUMap(parsed_args.libvirt_uri)
        b = baseline.compute(hosts, cpu_map)
        fields = _fields(b) + (('explanation', cmd_columns.ListColumn(_explain(
            hosts, b, lambda some: baseline.compute(some, cpu_map)))),)
        return tuple(f[0] for f in fields), tuple(f[1] for f in fields)

    def _hosts(self, parsed_args):
        if bool(parsed_args.hosts) == bool(parsed_args.aggregate):
            raise exception.InputError('give <host>... or --aggregate '
                                       '<aggregate> '
                                       '(one of the two)')
        f = self.fleet(parsed_args)
        if not parsed_args.aggregate:
            return f.load(names=parsed_args.hosts)
        hosts = f.load(aggregate=parsed_args.aggregate)
        if not hosts:
            raise fleet.NotFound('aggregate %s has no compute node'
                                 % parsed_args.aggregate)
        return hosts


def _fields(b):
    return (
        ('hosts', cmd_columns.ListColumn(b.hosts)),
        ('vendor', b.vendor),
        ('cpu_model', b.model),
        ('extra_flags', cmd_columns.ListColumn(b.extra_flags)),
        ('common_features', cmd_columns.ListColumn(b.common)),
        ('usable_models', cmd_columns.ListColumn(b.candidates)),
        ('nova_conf', b.nova_conf()),
        ('libvirt_check', _check_text(b.libvirt_check)),
        ('notes', cmd_columns.ListColumn(b.notes)),
    )


class _Representative(object):
    """One host standing for its profile group (the explanation is
    worked out per distinct profile, not per host).
    """

    def __init__(self, host, count):
        self.name = host.name + (' (+%d)' % (count - 1) if count > 1 else '')
        self.profile = host.profile
        self.hosts = [host]


def _explain(hosts, b, compute):
    """Why a surprising baseline is what it is (fleet.baseline_explain),
    one representative per distinct profile.
    """
    from migcompat_filter.fleet import baseline_explain
    groups = {}
    for host in hosts:
        groups.setdefault(host.key or host.uuid, []).append(host)
    reps = [_Representative(members[0], len(members))
            for members in groups.values()]

    def compute_for(some):
        return compute([h for rep in some for h in groups[
            rep.hosts[0].key or rep.hosts[0].uuid]])
    return baseline_explain.explain(reps, b.model, b.common,
                                    compute=compute_for)


def _check_text(check):
    """What libvirt's own baselineCPU said, in one line."""
    if not check.get('checked'):
        return 'not checked: %s' % check.get('reason')
    text = '%s: baselineCPU gives %s' % (
        check['uri'],
        'the same features' if check['agrees'] else
        'different features (only libvirt: %s; only ours: %s)' % (
            ', '.join(check['only_libvirt']) or '-',
            ', '.join(check['only_ours']) or '-'))
    if check['unknown_to_libvirt']:
        text += ('; features this libvirt does not know, not checked: %s'
                 % ', '.join(check['unknown_to_libvirt']))
    return text
