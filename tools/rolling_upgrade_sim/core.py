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

"""The simulator: a fleet from the bundled real profiles, guests, waves
of changes, and what happens to every live migration a drain requests.

Each scheduler ("world") runs the same schedule on its own copy of the
fleet, from the same seed:

* ``nova``: nova's scheduler picks among hosts with room (most free
  first, as its RAM weigher spreads); nova's own checks then refuse a
  pick (precheck; the conductor tries the next host, up to
  ``RETRIES``), else the migration runs as :mod:`.migration_model` says.
* ``migcompat`` / ``migcompat-strict``: the same, after our filter
  (the rules engine, default policy or every recommendation blocking)
  removed the hosts it refuses.

A host is upgraded only when its drain emptied it; otherwise it keeps
its old profile (and is counted).

Filled in (the bundled profiles lack them): microcode and firmware
versions where unknown (one value per base profile), and the models a
host can run for custom guests (those whose features it has).
"""

import random
import time

from migcompat_filter.demo import hosts as demo_hosts
from migcompat_filter.fleet import whatif
from migcompat_filter.profile import is_unknown
from migcompat_filter.profile import Profile
from migcompat_filter.rules.guest_cpu import GuestCPU
from migcompat_filter.rules.policy import Policy
from rolling_upgrade_sim import migration_model as mm

RETRIES = 3
SLOTS = 6

#: Base profiles (bundled demo hosts) and how many of each in 1000.
MIX = (('clx-8268', 200), ('clx-4214r', 150), ('rome-q82', 150),
       ('rome-q90', 100), ('milan-a', 200), ('milan-c', 50),
       ('genoa-q10', 150))
#: Filled values: (microcode, firmware version) per base profile.
FILLED = {'clx-8268': '0x5003604', 'clx-4214r': '0x5003604',
          'rome-q82': '0x830107a', 'rome-q90': '0x830107a',
          'genoa-q10': '0xa101144'}
MODES = ((mm.HOST_MODEL, 0.6), (mm.HOST_PASSTHROUGH, 0.25),
         (mm.CUSTOM, 0.15))
#: Custom guests' models: the features every base of the vendor has.
CUSTOM_MODEL = {'Intel': 'Cascadelake-Server-noTSX', 'AMD': 'EPYC-Rome'}

OUTCOMES = ('requests', 'moved, safe', 'refused before the pick',
            'failed at precheck', 'gave up: every try failed precheck',
            'failed after the pick', 'moved, then unsafe',
            'false refusals (requests)', 'false refusals (hosts)',
            'drains left incomplete')


def _base_profiles():
    fleet = {h.name: h for h in demo_hosts.load_fleet()}
    out = {}
    for name, _count in MIX:
        factors = dict(fleet[name].profile.factors)
        if name in FILLED:
            if is_unknown(factors.get('microcode_version')):
                factors['microcode_version'] = FILLED[name]
        if is_unknown(factors.get('firmware_version')):
            factors['firmware_version'] = {'vendor': 'ACME',
                                           'version': name + '-1.0',
                                           'date': '01/01/2026'}
        for factor in ('cpu_mode', 'cpu_models'):
            if is_unknown(factors.get(factor)):
                factors[factor] = 'host-model' if factor == 'cpu_mode' \
                    else []
        out[name] = Profile(factors)
    return out


class Fleet(object):
    """Profiles by key (base name, changes applied), and their model
    hosts, built once.
    """

    def __init__(self):
        self.bases = _base_profiles()
        self.profiles = {}
        self.models = {}
        self.custom = self._custom_models()
        for name in self.bases:
            self.profile((name, ()))

    def _custom_models(self):
        by_vendor = {}
        for prof in self.bases.values():
            vendor = prof['cpu_model']['vendor']
            feats = set(prof['host_model']['features'])
            by_vendor[vendor] = feats if vendor not in by_vendor else \
                by_vendor[vendor] & feats
        return {CUSTOM_MODEL[v]: frozenset(f) for v, f in by_vendor.items()}

    def profile(self, key):
        if key not in self.profiles:
            base, changes = key
            prof = whatif.apply(self.bases[base], list(changes))
            hm = set(prof['host_model']['features'])
            models = sorted(m for m, f in self.custom.items() if f <= hm)
            prof = Profile(dict(prof.factors, usable_models=models))
            self.profiles[key] = prof
            self.models[key] = _model_host(key, prof, models)
        return self.profiles[key]


def _version(text):
    return tuple(int(p) for p in str(text).split('.'))


def _model_host(key, prof, models):
    cpu = prof['cpu_model']
    hm = prof['host_model']['features']
    return mm.Host(
        '%s%s' % key, cpu['vendor'],
        (cpu['family'], cpu['model'], cpu['stepping']), hm,
        set(prof['cpu_features']['features']) | set(hm), models,
        prof['microcode_version'], prof['kernel_version'],
        str(prof['firmware_version']), _version(prof['qemu_version']),
        key=key)


def schedule(fleet_hosts, rng):
    """[(day, [host index], change function)]: the waves."""
    clx = [i for i, k in enumerate(fleet_hosts) if k[0] == 'clx-8268']
    tsx = sorted(rng.sample(clx, len(clx) // 2))

    def microcode(key, fleet):
        return key[1] + (('microcode_version', '0x5003707'),
                         ('remove_features', ('hle', 'rtm')))

    def kernel(key, fleet):
        return key[1] + (('kernel_version', '6.8.0-60-generic'),)

    def qemu(key, fleet):
        v = _version(fleet.profile(key)['qemu_version'])
        return key[1] + (('qemu_version', '%d.%d.%d'
                          % (v[0], v[1], v[2] + 1)),)

    everyone = list(range(len(fleet_hosts)))
    waves = [(1, tsx[:len(tsx) // 2], microcode),
             (2, tsx[len(tsx) // 2:], microcode)]
    for d in range(5):
        waves.append((3 + d, everyone[d::5], kernel))
    for d in range(5):
        waves.append((8 + d, everyone[d::5], qemu))
    return waves


class World(object):
    """One scheduler's copy of the fleet and its tally."""

    def __init__(self, name, fleet, keys, guests, policy=None):
        self.name = name
        self.fleet = fleet
        self.keys = list(keys)                  # host index -> profile key
        self.on = {g.id: h for g, h in guests}  # guest id -> host index
        self.guests = {g.id: g for g, _h in guests}
        self.free = [SLOTS] * len(keys)
        for _g, h in guests:
            self.free[h] -= 1
        self.policy = policy                    # None: nova alone
        self.tally = dict.fromkeys(OUTCOMES, 0)
        self.verdicts = {}
        self.outcomes = {}
        self.unsafe = set()
        #: {(mode, blocking factors): hosts refused that were safe}.
        self.false_why = {}
        self.examples = {}
        self.similarity = {}

    def _ours(self, src, guest, dst):
        key = (src, guest.key, dst)
        if key not in self.verdicts:
            from migcompat_filter import rules
            cpu = GuestCPU(mode=guest.mode, model=guest.model,
                           required=guest.features, expanded=True,
                           exact=True)
            verdict = rules.evaluate(
                self.fleet.profile(src), self.fleet.profile(dst),
                mode=guest.mode, policy=self.policy, guest=cpu)
            self.verdicts[key] = (
                verdict.compatible, tuple(verdict.factors('block')),
                '%s -> %s: %s' % (src[0], dst[0], verdict.blocking[0].message)
                if verdict.blocking else '')
        return self.verdicts[key]

    def _similar(self, src, dst):
        key = (src, dst)
        if key not in self.similarity:
            from migcompat_filter import rules
            self.similarity[key] = round(rules.similarity(
                self.fleet.profile(src), self.fleet.profile(dst)), 6)
        return self.similarity[key]

    def _real(self, src, guest, dst):
        """(nova precheck refusal or None, model outcome)."""
        key = (src, guest.key, dst)
        if key not in self.outcomes:
            s, d = self.fleet.models[src], self.fleet.models[dst]
            self.outcomes[key] = (mm.nova_precheck(s, d, guest),
                                  mm.migrate(s, d, guest)[0])
        return self.outcomes[key]

    def request(self, gid, disabled):
        """One live-migration request of guest gid, off its host."""
        t = self.tally
        t['requests'] += 1
        guest, src = self.guests[gid], self.on[gid]
        skey = self.keys[src]
        cands = [h for h in range(len(self.keys))
                 if h != src and h not in disabled and self.free[h] > 0]
        if self.policy is not None:
            ok = {}
            kept = []
            refused_safe = 0
            for h in cands:
                dkey = self.keys[h]
                if dkey not in ok:
                    ok[dkey] = self._ours(skey, guest, dkey)
                if ok[dkey][0]:
                    kept.append(h)
                elif self._real(skey, guest, dkey) == (None, mm.OK):
                    refused_safe += 1
                    why = (guest.mode, ok[dkey][1])
                    self.false_why[why] = self.false_why.get(why, 0) + 1
                    self.examples.setdefault(why, ok[dkey][2])
            t['false refusals (hosts)'] += refused_safe
            if not kept:
                t['refused before the pick'] += 1
                if refused_safe:
                    t['false refusals (requests)'] += 1
                return False
            cands = kept
        if not cands:
            t['refused before the pick'] += 1
            return False
        # nova's weigher: most free first; ties in a seeded random order.
        # With migcompat, its similarity weigher ranks first (its weight
        # multiplier set above the RAM weigher's, as the docs advise).
        if self.policy is not None:
            cands.sort(key=lambda h: (-self._similar(skey, self.keys[h]),
                                      -self.free[h], (h * 7919) % 1009))
        else:
            cands.sort(key=lambda h: (-self.free[h], (h * 7919) % 1009))
        for h in cands[:RETRIES + 1]:
            refusal, outcome = self._real(skey, guest, self.keys[h])
            if refusal:
                t['failed at precheck'] += 1
                continue
            if outcome == mm.FAILED:
                t['failed after the pick'] += 1
                return False
            self.free[src] += 1
            self.free[h] -= 1
            self.on[gid] = h
            if outcome == mm.UNSAFE:
                t['moved, then unsafe'] += 1
                self.unsafe.add(gid)
            else:
                t['moved, safe'] += 1
            return True
        t['gave up: every try failed precheck'] += 1
        return False

    def wave(self, hosts, change):
        disabled = set(hosts)
        by_host = {}
        for gid, h in self.on.items():
            if h in disabled:
                by_host.setdefault(h, []).append(gid)
        for h in hosts:
            for gid in sorted(by_host.get(h, ())):
                self.request(gid, disabled)
            if any(self.on[g] == h for g in by_host.get(h, ())):
                self.tally['drains left incomplete'] += 1
                continue
            key = self.keys[h]
            new = (key[0], change(key, self.fleet))
            self.fleet.profile(new)
            self.keys[h] = new


def build(hosts=1000, guests=3000, seed=1):
    """(Fleet, host keys, [(model Guest, host index)])."""
    rng = random.Random(seed)
    fleet = Fleet()
    total = sum(n for _b, n in MIX)
    keys = []
    for base, n in MIX:
        keys += [(base, ())] * (n * hosts // total)
    keys += [(MIX[0][0], ())] * (hosts - len(keys))
    placed = []
    free = [SLOTS] * len(keys)
    for i in range(guests):
        h = rng.choice([j for j in range(len(keys)) if free[j] > 1] or
                       range(len(keys)))
        free[h] -= 1
        r, mode = rng.random(), mm.HOST_MODEL
        for m, share in MODES:
            if r < share:
                mode = m
                break
            r -= share
        host = fleet.models[keys[h]]
        model = CUSTOM_MODEL[host.vendor] if mode == mm.CUSTOM else None
        placed.append((mm.started_on(host, mode, 'g%05d' % i, model,
                                     fleet.custom.get(model, ())), h))
    return fleet, keys, placed, rng


def run(hosts=1000, guests=3000, seed=1, progress=None):
    """{world name: tally}, [(day, seconds)] of one simulation."""
    fleet, keys, placed, rng = build(hosts, guests, seed)
    waves = schedule(keys, rng)
    worlds = [World('nova', fleet, keys, placed),
              World('migcompat', fleet, keys, placed, Policy()),
              World('migcompat-strict', fleet, keys, placed,
                    Policy(strict=True))]
    days = []
    for day, hosts_of_day, change in waves:
        start = time.perf_counter()
        for w in worlds:
            w.wave(hosts_of_day, change)
        days.append((day, len(hosts_of_day), time.perf_counter() - start))
        if progress:
            progress(day, days[-1][2])
    return worlds, days
