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

"""Drift: a host that changed under its running guests.

A running guest keeps the CPU, machine type and TSC it started with. When
the host changes under it (a late-loaded microcode update, a kernel
command line waiting for the next boot, a QEMU package updated while the
old QEMU processes run), the host may no longer offer them: the guest is
**drifted** when its own host could not start it again as it runs now.
The first sign is otherwise a failed migration back, or a guest that does
not start after a restart.

Per guest, against the host's profile *now*:

* ``host_model`` (host-model and custom guests): the CPU features the
  guest runs with (its expanded live CPU, migratable view) that the
  host's host-model CPU no longer offers;
* ``cpu_features`` (host-passthrough guests): the features the guest's
  XML requires that the host CPU no longer has;
* ``machine_types``: the guest's machine type is not one the host's QEMU
  offers now;
* ``tsc``: the guest's pinned TSC frequency is more than the tolerance
  (libvirt's 250 ppm) from the host's, and the host cannot scale the TSC.

A factor the host cannot say now (unknown) is not drift: it is reported
as unknown with its reason, never guessed.
"""

import json
import os

from migcompat_filter.cpu import guest_requirements
from migcompat_filter import cpu_modes
from migcompat_filter.profile import is_unknown

#: libvirt's TSC tolerance (qemuProcessStartValidateTSC).
TSC_TOLERANCE_PPM = 250


def _known(profile, factor):
    value = profile.get(factor) if profile is not None else None
    if value is None or is_unknown(value):
        return None
    return value


def _features(value):
    if isinstance(value, dict) and isinstance(value.get('features'), list):
        return set(value['features'])
    return None


def guest_drift(guest, need, profile):
    """({factor: what drifted}, {factor: why unknown}) of one guest.

    guest: a host.domains.Guest; need: the features it runs with
    (guest_requirements.one_guest; None for host-passthrough).
    """
    drifted, unknown = {}, {}
    if guest.nova_mode == cpu_modes.HOST_PASSTHROUGH:
        required = {n for n, p in (guest.features or {}).items()
                    if p in ('require', 'force', None)}
        offer = _features(_known(profile, 'cpu_features'))
        if offer is None:
            unknown['cpu_features'] = 'host CPU features unknown'
        elif required - offer:
            drifted['cpu_features'] = 'host CPU lacks %s now' % ', '.join(
                sorted(required - offer))
    elif need:
        offer = _features(_known(profile, 'host_model'))
        if offer is None:
            unknown['host_model'] = 'host-model CPU unknown'
        elif need - offer:
            drifted['host_model'] = (
                'host-model CPU lacks %s now' % ', '.join(sorted(
                    need - offer)))
    if guest.machine:
        machines = _known(profile, 'machine_types')
        if not isinstance(machines, list):
            unknown['machine_types'] = 'machine types unknown'
        elif guest.machine not in machines:
            drifted['machine_types'] = (
                'QEMU %s has no machine type %s now' % (
                    _known(profile, 'qemu_version') or '(version unknown)',
                    guest.machine))
    freq = (guest.tsc or {}).get('frequency')
    if freq:
        why = _tsc_drift(freq, _known(profile, 'tsc'))
        if why is None:
            unknown['tsc'] = 'host TSC frequency unknown'
        elif why:
            drifted['tsc'] = why
    return drifted, unknown


def _tsc_drift(freq, tsc):
    """'' when the host can run freq, why not, or None when unknown."""
    if not isinstance(tsc, dict) or not tsc.get('frequency'):
        return None
    host = tsc['frequency']
    if abs(host - freq) <= host * TSC_TOLERANCE_PPM / 1e6:
        return ''
    if tsc.get('scaling') is True:
        return ''
    return ('guest TSC %d Hz, host %d Hz now (more than %d ppm) without '
            'TSC scaling' % (freq, host, TSC_TOLERANCE_PPM))


def scan(guests, profile, expand_for=None):
    """[{'uuid', 'name', 'mode', 'drift': {factor: what},
    'unknown': {factor: why}}] of guests (host.domains.Guest) against the
    host's profile now; expand_for(arch) -> expand(model) as the running
    guests factor uses (None: models are not expanded).
    """
    out = []
    for guest in guests:
        expand = expand_for(guest.arch or 'x86_64') if expand_for else None
        need, _limits = guest_requirements.one_guest(guest, expand)
        drifted, unknown = guest_drift(guest, need, profile)
        out.append({'uuid': guest.uuid, 'name': guest.name,
                    'mode': guest.nova_mode, 'drift': drifted,
                    'unknown': unknown})
    return out


def signature(entry):
    """What a WARNING is given once for: the guest and what drifted."""
    return '%s %s' % (entry['uuid'], sorted(entry['drift'].items()))


def summary(entries):
    """The note's ``drift`` value: counts by factor (no guest UUID or
    name: the note is a record many hosts share).
    """
    by_factor = {}
    for e in entries:
        for factor in e['drift']:
            by_factor[factor] = by_factor.get(factor, 0) + 1
    return {'guests': sum(1 for e in entries if e['drift']),
            'factors': dict(sorted(by_factor.items()))}


def shareable(summary):
    """The summary as the note publishes it: which factors drifted, not
    how many guests (with the numbers, every host of a fleet-wide update
    would have its own note record and trait name).
    """
    return {'guests': min(summary.get('guests') or 0, 1),
            'factors': {f: 1 for f in summary.get('factors') or {}}}


def read(source, factors=('host_model', 'cpu_features', 'machine_types',
                          'qemu_version', 'tsc'), profile=None):
    """The drift entries of a host source's running guests (see scan),
    the host's factors read now through the same source, or taken from
    ``profile`` when the caller read it already.
    """
    from migcompat_filter.factors import guests as guests_factor
    from migcompat_filter.host import reader
    if profile is None:
        profile = reader.read_profile(source, list(factors))
    found = guests_factor.read_guests(source)
    return scan(found, profile,
                lambda arch: guests_factor.model_expander(source, arch))


class Warner(object):
    """A WARNING once per guest and change of what drifted.

    What was warned about is kept across the rounds of ``profile publish
    --interval`` and, when ``path`` is given (the migcompat cache
    directory), across runs (a reporter started by a timer).
    """

    def __init__(self, path=None):
        self.path = path
        self.seen = {}
        if path:
            try:
                with open(path, encoding='utf-8') as f:
                    data = json.load(f)
                if isinstance(data, dict):
                    self.seen = {str(k): str(v) for k, v in data.items()}
            except (OSError, ValueError):
                pass  # no record yet (or unreadable): warn again

    def warn(self, entries, log):
        """Log each new or changed drift; returns the entries warned."""
        now, warned = {}, []
        for e in entries:
            if not e['drift']:
                continue
            now[e['uuid']] = signature(e)
            if self.seen.get(e['uuid']) != now[e['uuid']]:
                warned.append(e)
                log.warning(
                    'guest %s (%s, %s) drifted: this host could not start '
                    'it again as it runs now: %s', e['uuid'], e['name'],
                    e['mode'], '; '.join('%s: %s' % kv for kv in sorted(
                        e['drift'].items())))
        if now != self.seen:
            self.seen = now
            self._save()
        return warned

    def _save(self):
        if not self.path:
            return
        try:
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            tmp = self.path + '.tmp'
            with open(tmp, 'w', encoding='utf-8') as f:
                json.dump(self.seen, f, sort_keys=True)
            os.replace(tmp, self.path)
        except OSError:
            pass  # then a later run warns again, never less


def default_state_file():
    """drift-warned.json in the migcompat cache directory, or None when
    the cache is off (MIGCOMPAT_CACHE_DIR=).
    """
    from migcompat_filter.host import expansion_cache
    base = expansion_cache.cache_dir()
    return os.path.join(base, 'drift-warned.json') if base else None
