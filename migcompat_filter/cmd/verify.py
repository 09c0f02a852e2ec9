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

"""``migcompat host verify``: migcompat's CPU verdicts against libvirt's
on this host, and ``migcompat fleet verify``: the fleet's agreement rate.
"""

from cliff import lister

from migcompat_filter import cmd as cmd_pkg
from migcompat_filter.cmd import common
from migcompat_filter import exception
from migcompat_filter.fleet import verify
from migcompat_filter.placement import verify_store


class HostVerify(common.FleetCommand, cmd_pkg.ResultStatus, lister.Lister):
    """Check migcompat's CPU verdicts against this host's libvirt.

    For every distinct guest CPU (from the given snapshots, profile JSON
    files and domain XMLs, or with --from-placement the running-guest
    CPU classes and each profile's host-model CPU of the fleet), ask this
    host's libvirt (compareHypervisorCPU with the guest's machine type)
    whether it could accept that CPU as a migration destination, and
    judge the same pair with migcompat's rules, CPU part only (vendor,
    features, model). One row per guest CPU: guest_cpu, source, ours,
    libvirt (yes, no or unchecked), agree (yes, NO, or - when either side
    could not judge) and detail. A machine type the local QEMU lacks or a
    CPU model the local libvirt does not know is "unchecked" with the
    reason, never a disagreement.

    Exit status: 0 when every checked guest CPU agrees, 1 on any
    disagreement, 2 on bad input.
    """

    def get_parser(self, prog_name):
        parser = super(HostVerify, self).get_parser(prog_name)
        parser.add_argument(
            '--connect', metavar='<uri>', default='qemu:///system',
            help='libvirt URI of this host (default: %(default)s).')
        parser.add_argument(
            '--from-placement', action='store_true',
            help='The fleet\'s guest CPUs from Placement (the cloud '
                 'connection options) instead of files.')
        parser.add_argument(
            '--all-models', action='store_true',
            help='Also a custom-mode guest CPU of every CPU model this '
                 'host\'s libvirt knows (the model part of the rules).')
        parser.add_argument(
            'inputs', metavar='<snapshot-or-guest-xml>', nargs='*',
            help='A snapshot directory (its host-model CPU and the '
                 'guests in its libvirt/domains folder), a profile JSON '
                 'file or a libvirt domain XML.')
        return self.add_arguments(parser)

    def take_action(self, parsed_args):
        if parsed_args.inputs and parsed_args.from_placement:
            raise exception.InputError(
                'give either --from-placement or snapshots, profile JSON '
                'files and domain XMLs, not both')
        if not (parsed_args.inputs or parsed_args.from_placement or
                parsed_args.all_models):
            raise exception.InputError(
                'nothing to verify: give --from-placement, --all-models or '
                'snapshots, profile JSON files or domain XMLs')
        if parsed_args.from_placement:
            hosts = self.fleet(parsed_args).load()
            self.warn_about_nova()
            cases = verify.cases_from_hosts(hosts)
        else:
            cases = []
            for path in parsed_args.inputs:
                cases.extend(verify.cases_from_path(
                    path, lambda p: common.load_profile(p)[0]))
        rows = verify.run_local(cases, parsed_args.connect,
                                all_models=parsed_args.all_models)
        if any(r.agree is False for r in rows):
            self._exit_status = 1
        return verify.COLUMNS, [r.values() for r in rows]


class FleetVerify(common.FleetCommand, lister.Lister):
    """Show how often migcompat agrees with libvirt, per host and in total.

    Each reporter checks the fleet's guest CPUs against its own libvirt
    and publishes the counts (checked, agree, disagree, unchecked); this
    reads them back. One row per host that published counts, and a last
    row "(fleet)" with the sums; "agreement" is agree / checked.
    """

    COLUMNS = ('host', 'checked', 'agree', 'disagree', 'unchecked',
               'agreement')

    def get_parser(self, prog_name):
        parser = super(FleetVerify, self).get_parser(prog_name)
        return self.add_arguments(parser)

    def take_action(self, parsed_args):
        fleet = self.fleet(parsed_args)
        hosts = fleet.load()
        self.warn_about_nova()
        rows, total = [], dict.fromkeys(verify_store.KEYS, 0)
        for host in hosts:
            got = verify_store.counts_of(host)
            if got is None:
                continue
            for k in verify_store.KEYS:
                total[k] += got[k]
            rows.append(self._row(host.name, got))
        rows.append(self._row('(fleet)', total))
        return self.COLUMNS, rows

    @staticmethod
    def _row(name, got):
        rate = ('%.1f%%' % (100.0 * got['agree'] / got['checked'])
                if got['checked'] else '-')
        return (name,) + tuple(got[k] for k in verify_store.KEYS) + (rate,)
