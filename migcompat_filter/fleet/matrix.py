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

"""Who can receive live migrations from whom.

Hosts with identical traits have identical profiles: they form one
:class:`Group`, and the matrix evaluates the one rules engine once per
*group* pair, not per host pair. :func:`accepts` answers for one source
what the scheduler filter would, through the filter's own decision
(placement/acceptance.py): the same rules engine for the hosts it can
judge, the filter's configured action for the hosts it cannot.
"""

from migcompat_filter.placement import acceptance
from migcompat_filter.placement import hoststate


class Group(object):
    """Hosts with identical migcompat traits, hence identical profiles
    (but for their per-host factors: their running guests).
    """

    def __init__(self, label, hosts):
        self.label = label
        self.hosts = hosts
        self.profile = group_profile(hosts[0].profile)

    @property
    def names(self):
        return [h.name for h in self.hosts]

    def __repr__(self):
        return 'Group(%s, %s)' % (self.label, self.names)


def group_profile(profile):
    # The running guests differ between the hosts of a group (they are in
    # no digest): a group's row judges a guest started there now, not the
    # guests one of its hosts happens to run (check SERVER judges those).
    from migcompat_filter.factors import catalogue
    from migcompat_filter.profile import Profile
    from migcompat_filter.profile import Unknown
    names = catalogue.per_host()
    if profile is None or not any(n in profile for n in names):
        return profile
    factors = dict(profile.factors)
    for name in names:
        factors[name] = Unknown('per host: a group stands for a guest '
                                'started on any of its hosts')
    return Profile(factors)


def group_hosts(hosts):
    """[Group] of the hosts with readable traits: biggest group first."""
    by_key = {}
    for host in hosts:
        if host.state == hoststate.TRAITED:
            by_key.setdefault(host.key, []).append(host)
    ordered = sorted(by_key.values(),
                     key=lambda hs: (-len(hs), hs[0].name))
    return [Group('G%d' % (i + 1), sorted(hs, key=lambda h: h.name))
            for i, hs in enumerate(ordered)]


class Cell(object):
    """The verdict for guests of one group moving to another group."""

    __slots__ = ('source', 'destination', 'verdict')

    def __init__(self, source, destination, verdict):
        self.source = source
        self.destination = destination
        self.verdict = verdict

    @property
    def status(self):
        if not self.verdict.compatible:
            return 'refused'
        return 'warn' if self.verdict.warnings else 'ok'

    @property
    def blocking(self):
        return self.verdict.factors('block')

    def text(self):
        if self.status == 'refused':
            return 'NO: ' + ', '.join(self.blocking)
        if self.status == 'warn':
            return 'yes (%d warning%s)' % (
                len(self.verdict.warnings),
                '' if len(self.verdict.warnings) == 1 else 's')
        return 'yes'

    def reason(self):
        first = self.verdict.blocking[:1] or self.verdict.warnings[:1]
        return first[0].message if first else ''


class Matrix(object):
    """group x group verdicts, plus the hosts left out and why."""

    def __init__(self, groups, cells, left_out, mode):
        self.groups = groups
        self.cells = cells  # (source label, destination label) -> Cell
        self.left_out = left_out  # [(host, why)]
        self.mode = mode
        self.evaluations = len(cells)

    def cell(self, source, destination):
        return self.cells[(source.label, destination.label)]


def build(hosts, mode=None, policy=None, cpu_models=None):
    """The live-migration :class:`Matrix` of the hosts, one evaluation per
    pair of groups (the diagonal too: identical hosts can still refuse,
    e.g. when a factor is unknown and the policy blocks unknowns).
    """
    from migcompat_filter import rules

    groups = group_hosts(hosts)
    grouped = {h.name for g in groups for h in g.hosts}
    left_out = [(h, h.status) for h in hosts if h.name not in grouped]
    cells = {}
    for src in groups:
        for dst in groups:
            verdict = rules.evaluate(src.profile, dst.profile, mode=mode,
                                     policy=policy, cpu_models=cpu_models)
            cells[(src.label, dst.label)] = Cell(src, dst, verdict)
    return Matrix(groups, cells, left_out, mode)


def accepts(hosts, source, policy=None, mode=None, actions=None,
            guest=None):
    """For a guest on source: [(host, accepted, reason, verdict or None)]
    for every other host, as the scheduler filter would judge it
    (acceptance.decide): one rules evaluation per distinct destination
    profile, not per host. A host nova refuses (service down or
    disabled) is refused first.

    guest: what is known of the guest (a rules.guest_cpu.GuestCPU) or None;
    the engine completes it from the source's running-guests record, as
    it does for the filter.

    actions: the filter's acceptance.Actions (see
    acceptance.Actions.from_options); None: every action passes, as the
    options do by default.
    """
    actions = actions or acceptance.Actions()
    verdicts = {}
    how = dict(mode=mode, policy=policy, guest=guest)
    out = []
    for host in hosts:
        if host.uuid == source.uuid:
            continue
        refusal = host.nova_refusal()
        if refusal:
            out.append((host, False, 'nova: %s' % refusal, None))
            continue
        decision = acceptance.decide(
            source.state, host.state, actions,
            lambda: _verdict(source, host, verdicts, how))
        out.append((host, decision.accepted,
                    _reason(decision, source, host), decision.verdict))
    return out


def _verdict(source, host, verdicts, how):
    # The hosts of a profile group share one profile object, and only the
    # source's per-host factors count: one evaluation per group.
    key = id(host.profile)
    if key not in verdicts:
        from migcompat_filter import rules
        verdicts[key] = rules.evaluate(source.profile, host.profile, **how)
    return verdicts[key]


def _reason(decision, source, host):
    if decision.by == acceptance.BY_VERDICT:
        return _judged(decision.verdict)
    if decision.by == acceptance.BY_SOURCE:
        return 'source %s cannot be judged (%s); the filter %ss every ' \
            'host (%s)' % (source.name, source.state, decision.action,
                           decision.option)
    return _unjudged(host, decision.action)


def _unjudged(host, action):
    if host.error:
        return 'cannot be judged (%s): the filter %ss it' % (
            host.error, action)
    # "check" has always called a newer schema unreadable.
    state = (hoststate.UNREADABLE if host.state == hoststate.NEWER_SCHEMA
             else host.state)
    return '%s (%s): the filter %ss it' % (host.status, state, action)


def _judged(verdict):
    if verdict.compatible:
        if not verdict.warnings:
            return 'compatible'
        return 'compatible; warns: %s' % ', '.join(verdict.factors('warn'))
    return '%s: %s' % (', '.join(verdict.factors()),
                       verdict.blocking[0].message)
