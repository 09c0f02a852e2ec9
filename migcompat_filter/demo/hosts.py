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

"""The demo fleet: the host profiles bundled in ``data/`` (written by
``tools/make_demo_fleet.py``) and this machine, read live.
"""

import json
import os
import socket

from migcompat_filter import cpu_modes
from migcompat_filter.exception import InputError
from migcompat_filter import profile as profile_mod

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'data')
FLEET_FILE = os.path.join(DATA, 'fleet.json')

#: The named CPU model of custom-mode guests ([libvirt] cpu_models) by CPU
#: vendor, as operators set one per group of hosts: the oldest EPYC model,
#: and a TSX-less Skylake, which the Cascade Lake hosts can all run.
DEFAULT_CPU_MODELS = {'AMD': 'EPYC', 'Intel': 'Skylake-Server-noTSX-IBRS'}
FALLBACK_CPU_MODEL = 'qemu64'
#: Factors the demo sets itself (nova.conf's [libvirt] options).
DEMO_SET_FACTORS = ('cpu_mode', 'cpu_models')
LIVE_NAME_SUFFIX = ' (live)'


class DemoHost(object):
    """One compute host of the demo fleet."""

    def __init__(self, name, description, profile, live=False, filled=()):
        self.name = name
        self.description = description
        self.profile = profile
        self.live = live
        #: Factors tools/make_demo_fleet.py filled in (not in the snapshot).
        self.filled = list(filled)
        self.rp_uuid = None
        self.host_state = None
        self._custom = None

    def unknown_factors(self):
        """[(factor, reason)] of the factors that could not be read."""
        out = []
        for factor in sorted(self.profile.factors):
            if factor in DEMO_SET_FACTORS:
                continue
            value = self.profile.factors[factor]
            if profile_mod.is_unknown(value):
                out.append((factor, value.reason))
        return out

    def cpu_models(self, override=None):
        """The guest CPU models of this host in custom mode: override,
        else :meth:`custom_model`.
        """
        if override:
            return [override]
        return [self.custom_model()[0]]

    def custom_model(self):
        """(model, why or None): the model an operator could set in this
        host's ``[libvirt] cpu_models``. The vendor's DEFAULT_CPU_MODELS
        when libvirt lists it usable here (or the usable models are not
        known); else the richest model libvirt lists usable here, with
        why. nova-compute does not start with a cpu_models model its host
        cannot run, so a guest of the vendor's model cannot be on such a
        host (a nested L1 hypervisor may offer only 486 to pentium3).
        """
        if self._custom is None:
            self._custom = _custom_model(self.profile)
        return self._custom

    def in_mode(self, mode, cpu_model=None):
        """This host's profile with nova's [libvirt] cpu_mode (and, for
        custom, cpu_models) set.
        """
        factors = dict(self.profile.factors)
        factors['cpu_mode'] = mode
        factors['cpu_models'] = (self.cpu_models(cpu_model)
                                 if mode == cpu_modes.CUSTOM else [])
        return profile_mod.Profile(factors)


def _custom_model(profile):
    """DemoHost.custom_model of a profile."""
    cpu = profile['cpu_model']
    vendor = cpu.get('vendor') if isinstance(cpu, dict) else None
    wanted = DEFAULT_CPU_MODELS.get(vendor, FALLBACK_CPU_MODEL)
    usable = profile['usable_models']
    if not isinstance(usable, list) or wanted in usable:
        return wanted, None
    listed = ', '.join(usable) or 'none'
    richest = _richest(usable, vendor)
    if richest is None:
        return wanted, ('%s is not usable here (libvirt lists: %s), and '
                        'no libvirt CPU map is at hand to rank those: '
                        'guests keep %s and are refused everywhere'
                        % (wanted, listed, wanted))
    return richest, ('%s is not usable here (libvirt lists: %s; nova-compute '
                     'does not start with a cpu_models its host cannot '
                     'run): guests use %s, the richest of those'
                     % (wanted, listed, richest))


#: (models, vendor) -> _richest's answer (hosts of a fleet share them).
_RICHEST = {}


def _richest(models, vendor):
    """The model of models with the most features in libvirt's CPU map
    (as ``fleet baseline`` ranks them), or None without libvirt.
    """
    key = (tuple(models), vendor)
    if key not in _RICHEST:
        from migcompat_filter.fleet import baseline
        cpu_map = baseline.LibvirtCPUMap()
        ranked = [(-len(cpu_map.expand(m, vendor) or ()), '-v' in m, m)
                  for m in models] if cpu_map.available else []
        _RICHEST[key] = min(ranked)[2] if ranked else None
    return _RICHEST[key]


def load_fleet(path=FLEET_FILE):
    """The bundled hosts (DemoHost list) in fleet.json's order."""
    try:
        with open(path, encoding='utf-8') as f:
            manifest = json.load(f)
    except (OSError, ValueError) as e:
        raise InputError('%s: the bundled demo fleet cannot be read (%s); '
                         'is the package installed with its data files?'
                         % (path, e))
    base = os.path.dirname(path)
    hosts = []
    for entry in manifest.get('hosts', []):
        prof_path = os.path.join(base, entry['profile'])
        try:
            with open(prof_path, encoding='utf-8') as f:
                text = f.read()
        except OSError as e:
            raise InputError('%s: cannot be read: %s'
                             % (prof_path, e.strerror or e))
        hosts.append(DemoHost(entry['name'], entry['description'],
                              profile_mod.Profile.from_json(
                                  text, origin=prof_path),
                              filled=entry.get('filled', ())))
    if not hosts:
        raise InputError('%s: lists no hosts' % path)
    return hosts


def live_host(uri):
    """This machine as a DemoHost; never raises.

    Without libvirt (not installed, daemon down, no permission) the
    libvirt factors are Unknown with the reason, as the reporter would
    publish them on a real compute node.
    """
    from migcompat_filter.host import reader
    from migcompat_filter.host import source as hostsource
    name = (socket.gethostname() or 'this-host').split('.')[0]
    try:
        source = hostsource.open_source(None, uri)
    except Exception as e:  # libvirt module missing and the like
        reason = 'this host could not be read: %s: %s' % (
            type(e).__name__, e)
        factors = {n: profile_mod.Unknown(reason)
                   for n in profile_mod.FACTOR_SCHEMA}
        prof = profile_mod.Profile(factors)
    else:
        try:
            prof = reader.read_profile(source)
        finally:
            source.close()
    return DemoHost(name + LIVE_NAME_SUFFIX, 'this machine, read live now',
                    prof, live=True)
