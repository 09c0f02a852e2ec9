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

"""A drain plan: where each server of a host can go, and one assignment.

For every server on the host, its valid targets in order of preference:

1. the filter's decision (placement/acceptance.py, through
   matrix.accepts) and verdict for a guest of that server's CPU mode
   (compatible before compatible-with-warnings before hosts the filter
   cannot judge and lets through). nova's API does not show an
   instance's vcpu_model, so the plan judges each server by its mode and
   the source's running-guests record of that mode, where the filter
   judges the instance's own CPU: for a custom guest every model of the
   source's cpu_models, not its one model;
2. then similarity to the source (the weigher's measure),
3. then free capacity (the smallest share still free, from Placement).

The assignment takes the servers with the fewest valid targets first and
gives each the first target with room left, keeping a ledger of what it
has planned so that no host is overcommitted (Placement's own arithmetic,
allocation ratios included). A server with no valid target, or none with
room, is unplaced and listed first, with what blocks it on each candidate.

The plan only requests: ``--execute`` asks nova for a live migration to
the planned host without forcing it, so nova's scheduler (our filter
included) still decides.
"""

from migcompat_filter.fleet import capacity as capacity_mod
from migcompat_filter.fleet import matrix
from migcompat_filter.placement import hoststate

#: Server statuses nova live-migrates (None: the status is not shown).
#: MIGRATING: nova is already live-migrating it (a drain run that asked
#: was stopped before it recorded the request): it is planned, and the
#: run follows that migration instead of asking again.
LIVE_MIGRATABLE = (None, 'ACTIVE', 'PAUSED', 'MIGRATING')

#: Ranks of a target's verdict (lower is preferred).
RANK_OK, RANK_WARN, RANK_UNJUDGED = 0, 1, 2


class Target(object):
    """One candidate host for one server, judged."""

    def __init__(self, host, accepted, reason, verdict, similarity, free):
        self.host = host
        self.accepted = accepted
        self.reason = reason
        self.verdict = verdict
        self.similarity = similarity
        self.free = free

    @property
    def rank(self):
        if self.verdict is None:
            return RANK_UNJUDGED
        return RANK_WARN if self.verdict.warnings else RANK_OK

    @property
    def blocking(self):
        """What refuses this host: factor names, else the reason."""
        if self.verdict is not None and not self.verdict.compatible:
            return self.verdict.factors('block')
        return [self.reason]

    def sort_key(self):
        return (self.rank, -round(self.similarity, 6),
                -self.free.headroom(), self.host.name)


class ServerPlan(object):
    """One server: what it needs, where it may go, where it is planned."""

    def __init__(self, server, need, mode, mode_origin):
        self.server = server
        self.need = need
        self.mode = mode
        self.mode_origin = mode_origin
        #: Accepted targets, best first.
        self.targets = []
        #: Refused candidates: [Target].
        self.refused = []
        #: The planned Target, or None.
        self.target = None
        #: Why no target was planned ('' when one was).
        self.why_unplaced = ''

    @property
    def id(self):
        return self.server['id']

    @property
    def name(self):
        return self.server.get('name') or self.server['id']

    def to_dict(self):
        return {
            'server': self.id, 'name': self.name, 'mode': self.mode,
            'target': self.target.host.name if self.target else None,
            'valid_targets': [t.host.name for t in self.targets],
            'blocked': {t.host.name: t.blocking for t in self.refused},
            'why_unplaced': self.why_unplaced,
        }


class Plan(object):

    def __init__(self, source, servers):
        self.source = source
        #: ServerPlans, unplaced ones first, then in the order assigned.
        self.servers = servers

    @property
    def unplaced(self):
        return [s for s in self.servers if s.target is None]

    @property
    def placed(self):
        return [s for s in self.servers if s.target is not None]


def server_need(server, allocation):
    """{resource class: amount} a server needs on a destination: its
    allocation on the source, else its flavor (nova's API 2.47+ shows
    vcpus, ram and disk).
    """
    if allocation:
        return dict(allocation)
    flavor = server.get('flavor') or {}
    need = {'VCPU': flavor.get('vcpus', 0),
            'MEMORY_MB': flavor.get('ram', 0),
            'DISK_GB': flavor.get('disk', 0)}
    return {rc: n for rc, n in need.items() if n}


def _judged(source, hosts, mode, policy, actions):
    """[(host, accepted, reason, verdict, similarity)] for a guest of
    mode on source (what the filter and the weigher would say).
    """
    from migcompat_filter import rules
    out = []
    for host, ok, why, verdict in matrix.accepts(
            hosts, source, policy=policy, mode=mode, actions=actions):
        sim = (rules.similarity(source.profile, host.profile)
               if host.state == hoststate.TRAITED and
               source.state == hoststate.TRAITED else 0.0)
        out.append((host, ok, why, verdict, sim))
    return out


def judge(sp, judged, free):
    """Fill sp.targets (sorted best first) and sp.refused from judged
    (see _judged).
    """
    for host, ok, why, verdict, sim in judged:
        target = Target(host, ok, why, verdict, sim,
                        free.get(host.uuid) or capacity_mod.Capacity({}))
        (sp.targets if ok else sp.refused).append(target)
    sp.targets.sort(key=Target.sort_key)
    sp.refused.sort(key=lambda t: t.host.name)


def assign(server_plans, free):
    """Give each server the best valid target with room, most
    constrained server first; free ({uuid: Capacity}) is the ledger and
    is updated. Returns them unplaced first, then in assignment order.
    """
    order = sorted(server_plans, key=lambda sp: (len(sp.targets),
                                                 sp.name, sp.id))
    placed, unplaced = [], []
    for sp in order:
        status = sp.server.get('status')
        if status not in LIVE_MIGRATABLE:
            sp.why_unplaced = ('status %s: only an ACTIVE or PAUSED server '
                               'can be live-migrated' % status)
            unplaced.append(sp)
            continue
        if not sp.targets:
            sp.why_unplaced = 'no valid target'
            unplaced.append(sp)
            continue
        for target in sp.targets:
            room = free.get(target.host.uuid)
            if room is not None and room.fits(sp.need):
                room.take(sp.need)
                sp.target = target
                placed.append(sp)
                break
        else:
            sp.why_unplaced = 'no valid target has room: ' + '; '.join(
                '%s: %s' % (t.host.name, (free.get(t.host.uuid) or
                                          capacity_mod.Capacity({})).short(
                                              sp.need) or 'no inventory')
                for t in sp.targets)
            unplaced.append(sp)
    return unplaced + placed


def make_plan(source, hosts, servers, needs, free, mode_of, policy=None,
              actions=None):
    """The :class:`Plan` to empty source.

    servers: nova's server dicts on source; needs: {server id: {rc: n}};
    free: {host uuid: Capacity} of every host (copied, not changed);
    mode_of(server) -> (guest CPU mode, where it came from);
    actions: the filter's acceptance.Actions (None: all pass, the
    options' defaults).
    """
    ledger = {u: c.copy() for u, c in free.items()}
    plans = []
    by_mode = {}  # every server of one mode is judged alike
    for server in servers:
        mode, origin = mode_of(server)
        if mode not in by_mode:
            by_mode[mode] = _judged(source, hosts, mode, policy, actions)
        sp = ServerPlan(server, needs.get(server['id']) or {}, mode, origin)
        judge(sp, by_mode[mode], free)
        plans.append(sp)
    return Plan(source, assign(plans, ledger))
