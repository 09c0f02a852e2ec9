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

"""An order in which to upgrade hosts so that each can be drained first.

At its turn a host is emptied: each of its guests must go to another
host that may receive it (the rules engine, with the hosts upgraded so
far already changed: a QEMU upgrade makes them one-way targets) and has
room (Placement's capacity, less what the plan already moved there).
Then the host is upgraded, empty, and can receive guests of later turns.

The search tries hosts in a greedy order (the one whose guests have the
most room to go first) and backtracks when a later host cannot be
drained, within a bounded number of steps. When no order is found, the
answer names the host that could not be drained and the guest that had
nowhere to go, with what blocked it on each candidate.

Simplification: a guest is judged as if started on the host it is on
(its CPU is that host's), also after it was moved by an earlier turn.
"""

from migcompat_filter.fleet import capacity as capacity_mod
from migcompat_filter.fleet import whatif

#: Drain attempts (one per host tried at some depth) before giving up.
DEFAULT_BUDGET = 20000


class Guest(object):
    def __init__(self, id, name, mode, need):
        self.id = id
        self.name = name
        self.mode = mode
        self.need = dict(need)

    def __repr__(self):
        return 'Guest(%s)' % self.name


class Step(object):
    """One turn: the host upgraded and where its guests went."""

    def __init__(self, host, moves):
        self.host = host
        self.moves = moves        # [(guest, destination name)]


class Stuck(object):
    """Why a host could not be drained at some turn."""

    def __init__(self, host, guest, blocked, upgraded):
        self.host = host
        self.guest = guest
        self.blocked = blocked    # {destination: reason}
        self.upgraded = upgraded  # names upgraded before this turn

    def text(self):
        return ('%s cannot be drained%s: guest %s (%s) has no target: %s'
                % (self.host, ' after %s' % ', '.join(self.upgraded)
                   if self.upgraded else ' first', self.guest.name,
                   self.guest.mode, '; '.join(
                       '%s: %s' % kv for kv in sorted(self.blocked.items()))
                   or 'no other host'))


class Planner(object):

    def __init__(self, hosts, after, guests, free, verdicts=None,
                 budget=DEFAULT_BUDGET):
        """hosts: the hosts to upgrade, as they are (whatif.Changed);
        after: {name: the same host upgraded}; guests: {name: [Guest]};
        free: {name: Capacity}.
        """
        self.before = {h.name: h for h in hosts}
        self.after = after
        self.guests = guests
        self.free = free
        self.verdicts = verdicts or whatif.Verdicts()
        self.budget = budget
        self.tries = 0
        self.deepest = None

    def _current(self, name, upgraded):
        return self.after[name] if name in upgraded else self.before[name]

    def _drain(self, name, upgraded, free, guests):
        """[(guest, dest)] moving every guest off name, updating free and
        guests, or a Stuck.
        """
        src = self._current(name, upgraded)
        moves = []
        for guest in sorted(guests[name], key=lambda g: (
                -sum(g.need.values()), g.name)):
            blocked = {}
            dest = None
            for other in sorted(self.before, key=lambda n: (
                    n not in upgraded, -free[n].headroom(), n)):
                if other == name:
                    continue
                cand = self._current(other, upgraded)
                if cand.nova_refusal():
                    blocked[other] = 'nova: ' + cand.nova_refusal()
                    continue
                verdict = self.verdicts(src, cand, guest.mode)
                if not verdict.compatible:
                    blocked[other] = ', '.join(verdict.factors('block'))
                elif not free[other].fits(guest.need):
                    blocked[other] = 'no room (%s)' % free[other].short(
                        guest.need)
                else:
                    dest = other
                    break
            if dest is None:
                return Stuck(name, guest, blocked, sorted(upgraded))
            free[dest].take(guest.need)
            free[name].take({rc: -n for rc, n in guest.need.items()})
            guests[dest].append(guest)
            moves.append((guest, dest))
        guests[name] = []
        return moves

    def _search(self, upgraded, order, free, guests):
        left = [n for n in sorted(self.before) if n not in upgraded]
        if not left:
            return order
        # Emptier hosts first: the fewest guests to place.
        left.sort(key=lambda n: (len(guests[n]), n))
        for name in left:
            if self.tries >= self.budget:
                return None
            self.tries += 1
            f2 = {n: c.copy() for n, c in free.items()}
            g2 = {n: list(gs) for n, gs in guests.items()}
            moves = self._drain(name, upgraded, f2, g2)
            if isinstance(moves, Stuck):
                if self.deepest is None or \
                        len(moves.upgraded) >= len(self.deepest.upgraded):
                    self.deepest = moves
                continue
            found = self._search(upgraded | {name},
                                 order + [Step(name, moves)], f2, g2)
            if found is not None:
                return found
        return None

    def plan(self):
        """[Step] in upgrade order, or None (then see self.deepest)."""
        free = {n: (self.free.get(n) or capacity_mod.Capacity({})).copy()
                for n in self.before}
        guests = {n: list(self.guests.get(n) or ()) for n in self.before}
        return self._search(frozenset(), [], free, guests)
