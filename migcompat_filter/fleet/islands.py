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

"""Migration islands and stranded guests, found before a migration fails.

* An **island** (per guest CPU mode) is a strongly connected part of the
  compatibility graph: a guest started on any of its hosts can reach every
  other one of them and come back. Hosts with identical traits are one
  node of the graph (:func:`matrix.group_hosts`), so the rules run once per
  pair of profile groups. An edge between two islands goes one way only
  (else they would be one island): it is reported with what refuses the
  way back.
* A **stranded** guest is a running guest (from its host's running-guests
  record: the CPU it runs with, its machine type, its TSC set-up) that no
  other host can take. Each gets the smallest action found that frees it
  (a cold restart, which re-baselines its CPU to what its host offers now;
  an upgrade of a named host; a setting of a named host) and the factor
  holding it.
"""

from migcompat_filter.fleet import matrix
from migcompat_filter.placement import hoststate

#: Factors an upgrade of QEMU/libvirt changes.
_UPGRADE = frozenset(['qemu_version', 'libvirt_version', 'machine_types',
                      'usable_models'])


class Verdicts(object):
    """rules.evaluate, cached per (source profile, destination profile,
    mode): hosts of one profile group share their profile object.
    """

    def __init__(self, policy=None):
        self.policy = policy
        self.cache = {}
        self.evaluations = 0

    def __call__(self, source, destination, mode):
        key = (id(source), id(destination), mode)
        if key not in self.cache:
            from migcompat_filter import rules
            self.evaluations += 1
            self.cache[key] = (source, destination, rules.evaluate(
                source, destination, mode=mode, policy=self.policy))
        return self.cache[key][2]


# -- islands ----------------------------------------------------------------

def _strongly_connected(nodes, edges):
    """[[node]] of the strongly connected components (Tarjan, iterative),
    each sorted, in a stable order.
    """
    index, low, on_stack, stack, out = {}, {}, set(), [], []
    counter = [0]
    for root in nodes:
        if root in index:
            continue
        work = [(root, iter(edges[root]))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter[0]
                    counter[0] += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(edges[child])))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                part = []
                while True:
                    n = stack.pop()
                    on_stack.discard(n)
                    part.append(n)
                    if n == node:
                        break
                out.append(sorted(part))
    return out


def islands(hosts, mode, verdicts):
    """(islands, one_way) for guests of mode started now on these hosts.

    islands: [{'hosts': [names], 'inside': bool}] (inside: a guest can
    move between two hosts of the island; False for a lone host or
    identical hosts that refuse each other). one_way: [{'from': [names],
    'to': [names], 'back_factors': [...], 'back': why not back}].
    """
    groups = matrix.group_hosts(hosts)
    by_label = {g.label: g for g in groups}
    edges, ok = {}, {}
    for g in groups:
        edges[g.label] = []
        for h in groups:
            v = verdicts(g.profile, h.profile, mode)
            ok[(g.label, h.label)] = v
            if v.compatible and g is not h:
                edges[g.label].append(h.label)
    parts = _strongly_connected([g.label for g in groups], edges)
    part_of = {label: i for i, part in enumerate(parts) for label in part}
    names = [sorted(n for label in part for n in by_label[label].names)
             for part in parts]
    out = []
    for i, part in enumerate(parts):
        inside = (len(part) > 1 or (len(names[i]) > 1 and
                                    ok[(part[0], part[0])].compatible))
        out.append({'hosts': names[i], 'inside': inside})
    one_way = {}
    for (src, dst), v in sorted(ok.items()):
        a, b = part_of[src], part_of[dst]
        if a == b or not v.compatible or (a, b) in one_way:
            continue
        back = ok[(dst, src)]
        one_way[(a, b)] = {
            'from': names[a], 'to': names[b],
            'back_factors': back.factors() or back.factors('warn'),
            'back': short(back.blocking[0].message if back.blocking else
                          'only through hosts outside both islands')}
    order = sorted(range(len(out)), key=lambda i: names[i])
    return ([out[i] for i in order],
            sorted(one_way.values(), key=lambda e: (e['from'], e['to'])))


# -- stranded guests -------------------------------------------------------

def guest_modes(host):
    """{mode: count} of a host's running guests, or None without a
    readable record.
    """
    running = host.profile['running_guests']
    if not isinstance(running, dict):
        return None
    return {m: n for m, n in (running.get('modes') or {}).items() if n}


def _destinations(hosts, source):
    return [h for h in hosts if h.uuid != source.uuid and
            h.state == hoststate.TRAITED and not h.nova_refusal()]


def stranded(hosts, verdicts, modes=None):
    """[{'host', 'mode', 'guests', 'factors', 'action', 'why',
    'refused': {destination: [factors]}}] of the running guests no other
    host takes. hosts carry their own running-guests records
    (Fleet.read_own).
    """
    out = []
    for host in hosts:
        if host.state != hoststate.TRAITED:
            continue
        for mode, count in sorted((guest_modes(host) or {}).items()):
            if modes and mode not in modes:
                continue
            dests = _destinations(hosts, host)
            judged = [(d, verdicts(host.profile, d.profile, mode))
                      for d in dests]
            if any(v.compatible for _d, v in judged):
                continue
            out.append(_stranded_row(host, mode, count, judged, hosts,
                                     verdicts))
    return out


def _stranded_row(host, mode, count, judged, hosts, verdicts):
    refused = {d.name: v.factors() for d, v in judged}
    if not judged:
        return {'host': host.name, 'mode': mode, 'guests': count,
                'factors': [], 'refused': {},
                'action': 'add a host: %s is the only one that can be '
                          'judged' % host.name,
                'why': 'no other host with readable traits'}
    nearest, verdict = min(judged, key=_nearness)
    factors = verdict.factors()
    action = _smallest_action(host, mode, judged, hosts, verdicts)
    why = '%s guests on %s have no destination: %s' % (
        mode, host.name, '; '.join(
            '%s: %s' % (d.name, ', '.join(v.factors()) or 'refused')
            for d, v in sorted(judged, key=lambda dv: dv[0].name)))
    return {'host': host.name, 'mode': mode, 'guests': count,
            'factors': factors, 'refused': refused, 'action': action,
            'why': why, 'nearest': nearest.name,
            'nearest_reason': short(verdict.blocking[0].message
                                    if verdict.blocking else '')}


def _nearness(judged):
    """Fewest refusing factors first, then those an upgrade fixes."""
    dest, verdict = judged
    factors = set(verdict.factors())
    return (len(factors - _UPGRADE), len(factors), dest.name)


def _smallest_action(host, mode, judged, hosts, verdicts):
    """The least intrusive change found that frees host's guests of mode:
    a cold restart (the guest re-baselined to what its host offers now),
    an upgrade of one host, an upgrade plus a cold restart, else making
    the nearest host's refusing factors match.
    """
    # A guest started now on this host, without the CPU it booted with.
    fresh = matrix.group_profile(host.profile)
    dests = _destinations(hosts, host)
    reachable = sorted(d.name for d in dests
                       if verdicts(fresh, d.profile, mode).compatible)
    if reachable:
        return ('cold restart (stop and start, not reboot) on %s: it then '
                'runs with the CPU %s offers now and may move to %s'
                % (host.name, host.name, ', '.join(reachable)))
    upgradable = [(d, v) for d, v in judged
                  if set(v.factors()) <= _UPGRADE]
    if upgradable:
        dest, verdict = min(upgradable, key=_least_upgrade)
        return _fix(dest, verdict.factors(), host, verdict)
    after_restart = [(d, verdicts(fresh, d.profile, mode)) for d in dests]
    after_restart = [(d, v) for d, v in after_restart
                     if set(v.factors()) <= _UPGRADE]
    if after_restart:
        dest, verdict = min(after_restart, key=_least_upgrade)
        return '%s, then cold-restart the guest on %s' % (
            _fix(dest, verdict.factors(), host, verdict), host.name)
    dest, verdict = min(judged, key=_nearness)
    return _fix(dest, verdict.factors(), host, verdict)


def _version(value):
    try:
        return tuple(int(p) for p in str(value).split('.')[:3])
    except ValueError:
        return ()


def _least_upgrade(judged):
    """Fewest refusing factors, then the newest QEMU and libvirt (the
    smallest upgrade), then the name.
    """
    dest, verdict = judged
    newest = tuple(-n for f in ('qemu_version', 'libvirt_version')
                   for n in _version(dest.profile[f]) or (0,))
    return (len(verdict.factors()), newest, dest.name)


def short(text, width=160):
    text = ' '.join((text or '').split())
    return text if len(text) <= width else text[:width - 3] + '...'


def _fix(dest, factors, host, verdict):
    """The change of dest that would let host's guests in."""
    if factors and set(factors) <= _UPGRADE:
        versions = ', '.join('%s %s' % (label, host.profile[f]) for f, label
                             in (('qemu_version', 'QEMU'),
                                 ('libvirt_version', 'libvirt')))
        return ('upgrade %s to at least %s\'s versions (%s)'
                % (dest.name, host.name, versions))
    if factors == ['kernel_settings']:
        return ('change the kernel command line of %s to match %s (%s)'
                % (dest.name, host.name, short(verdict.blocking[0].message)))
    if factors == ['microcode_version']:
        return 'update the microcode of %s to %s\'s' % (dest.name,
                                                        host.name)
    return 'make %s of %s match %s (%s)' % (
        ', '.join(factors) or 'the refused factors', dest.name, host.name,
        short(verdict.blocking[0].message if verdict.blocking else
              'refused'))
