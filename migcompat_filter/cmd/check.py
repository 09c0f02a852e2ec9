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

"""``migcompat server check SERVER``: where the scheduler would let one server
live-migrate (also ``openstack migcompat server check``).
"""

from cliff import lister

from migcompat_filter.cmd import common
from migcompat_filter import cpu_modes
from migcompat_filter import fleet
from migcompat_filter.placement import hoststate
from migcompat_filter import rules

COLUMNS = ('host', 'accepted', 'reason')


class Check(common.FleetCommand, lister.Lister):
    """Show where one server may live-migrate, and why not elsewhere.

    For one server: the hosts the scheduler would accept as live-migration
    targets and, for each refused host, why.

    Needs nova's API (to find the server's host). A host is refused when
    nova's service is down or disabled, or when the migcompat filter
    would refuse it: the rules engine under the [migcompat] policy and
    nova's [workarounds], and the filter's actions for hosts without
    (readable) traits.

    The server is judged by its own CPU as far as it can be known here.
    nova's API does not show the instance's vcpu_model (the scheduler
    reads it from nova's database), so the guest CPU mode is --mode, else
    the source's nova cpu_mode; the guest's CPU is the source's record of
    its running guests of that mode (the union of their CPUs: the server
    is one of them), else the source's host-model. stderr says which.
    """

    empty_message = 'no other compute node to migrate to'

    def get_parser(self, prog_name):
        parser = super(Check, self).get_parser(prog_name)
        parser.add_argument('server', metavar='<server>',
                            help='server name or ID')
        parser.add_argument('--mode', choices=cpu_modes.MODES,
                            help='the server\'s guest CPU mode (its '
                                 'vcpu_model mode, which nova\'s API does '
                                 'not show); default: the source host\'s '
                                 'cpu_mode')
        parser.add_argument('--strict', action='store_true', default=None,
                            help='every recommendation blocks')
        return self.add_arguments(parser)

    def take_action(self, parsed_args):
        hosts, source = self._locate(parsed_args.server,
                                     self.fleet(parsed_args))
        mode = None
        if source.state == hoststate.TRAITED:
            mode, origin = _mode(source.profile, parsed_args.mode)
            self.app.stderr.write('judged as a %s guest (%s); CPU: %s\n' % (
                mode, origin, _cpu_used(source, mode)))
        return COLUMNS, rows(hosts, source, mode,
                             self.policy(parsed_args.strict), self.actions())

    def _locate(self, server_name, f):
        """(every host, the Host the server runs on)."""
        # Find the server first: without nova nothing else is worth doing.
        server, node = f.server_host(server_name)
        hosts = f.load()
        source = [h for h in hosts if h.name == node]
        if not source:
            raise fleet.NotFound('server %s runs on compute node %s, which '
                                 'is not in Placement' % (server['id'], node))
        self.app.stderr.write('server %s (%s) on %s\n' % (
            server.get('name'), server['id'], node))
        # The source's own traits: its running guests, which its profile
        # group leaves blank.
        return hosts, f.read_own(source[0])


def rows(hosts, source, mode, policy, actions):
    """[(host name, accepted, reason)]: every other host as the filter
    would judge a guest of mode on source (fleet/matrix.accepts), the
    accepted ones first.
    """
    from migcompat_filter.fleet import matrix
    judged = matrix.accepts(hosts, source, policy=policy, mode=mode,
                            actions=actions)
    judged.sort(key=lambda j: (not j[1], j[0].name))
    return [(h.name, ok, why) for h, ok, why, _v in judged]


_NO_VCPU_MODEL = "nova's API does not show the guest's own"


def _mode(profile, given):
    """(mode, where it came from) of the server's guest CPU."""
    if given:
        return given, '--mode'
    mode = rules.choose_mode(profile)
    if profile['cpu_mode'] == mode:
        return mode, "the source's cpu_mode; %s" % _NO_VCPU_MODEL
    return mode, "nova's default, the source reports no cpu_mode; %s" % (
        _NO_VCPU_MODEL)


def _cpu_used(source, mode):
    """What stands in for the server's CPU: the source's running guests of
    its mode (the engine reads them), else the source host's profile.
    """
    running = source.profile['running_guests']
    if not isinstance(running, dict):
        return ("%s's host CPU profile (no running-guests record: %s)"
                % (source.name, getattr(running, 'reason', running)))
    count = (running.get('modes') or {}).get(mode, 0)
    if not count:
        return ("%s's host CPU profile (its running-guests record has no "
                "%s guest)" % (source.name, mode))
    if mode == cpu_modes.HOST_PASSTHROUGH:
        return ("%s's host CPU, with the extra flags of its running "
                "host-passthrough guests" % source.name)
    key = {cpu_modes.HOST_MODEL: 'host_model_features',
           cpu_modes.CUSTOM: 'custom_features'}[mode]
    return ('the union of the running %s guests on %s (its '
            'running-guests record; the server is one of them, so a host '
            'refused for a feature only another guest has is refused '
            'conservatively): %s' % (mode, source.name,
                                     ' '.join(running.get(key) or ())))
