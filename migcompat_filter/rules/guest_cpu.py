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

"""The migrating guest: what travels with it, as plain data for the rules.

A live migration moves a guest, not a host. What must fit on the
destination is the guest's own CPU as libvirt started it (mode, model,
features), its machine type and its TSC set-up. A :class:`GuestCPU` says
what is known of them, from up to three places:

- nova's ``instance.vcpu_model`` (the scheduler reads it with the
  instance): the guest's CPU mode, and for a custom guest its one model;
  the features nova added (``cpu_model_extra_flags``) with their policies;
- the ``running_guests`` factor of the source host (its reporter read the
  live XML of every running guest): per mode, the union of the CPU
  features those guests have, the machine types in use, their TSC set-up
  and address bits. That union is a superset of what one guest needs: a
  destination it refuses could still suit the one guest that moves
  (conservative, never unsafe);
- one libvirt domain XML (``migcompat profile compare --guest``,
  :func:`from_domain`): exactly this guest (``exact``: nothing is added
  from the running guests' union).

What none of them says is None, and the rules then fall back to the
source host's profile, as a proxy (say so in their messages).
"""

import copy

from migcompat_filter.cpu import guest_requirements
from migcompat_filter import cpu_modes

#: Feature policies that give the guest the feature (libvirt's words).
GIVES = ('require', 'force')
#: Feature policies that take it away.
TAKES = ('disable', 'forbid')


class GuestCPU(object):
    """What is known of the migrating guest(s); None = not known."""

    __slots__ = ('mode', 'model', 'features', 'required', 'expanded',
                 'machine_types', 'invtsc_frequencies', 'invtsc_unpinned',
                 'phys_bits', 'passthrough_extra', 'migratable_off', 'exact',
                 'origin', 'mode_origin')

    def __init__(self, mode=None, model=None, features=None, required=None,
                 expanded=None, machine_types=None, invtsc_frequencies=None,
                 invtsc_unpinned=None, phys_bits=None,
                 passthrough_extra=None, migratable_off=None, exact=False,
                 origin='', mode_origin=''):
        #: nova's CPU mode of the guest (cpu_modes.MODES) or None.
        self.mode = mode
        #: The named model of a custom guest (None for the other modes).
        self.model = model
        #: Explicit features: {name: policy} (nova's extra flags, or the
        #: domain XML's <feature>s).
        self.features = dict(features or {})
        #: Every feature the guest CPU has (expanded, migratable view), or
        #: None when only the host profile can stand in for it.
        self.required = None if required is None else frozenset(required)
        #: Whether ``required`` is the complete list (False: a named model
        #: could not be expanded, only its explicit features are in it).
        self.expanded = expanded
        self.machine_types = (None if machine_types is None
                              else frozenset(machine_types))
        #: Pinned TSC frequencies (Hz) of guests with an invariant TSC.
        self.invtsc_frequencies = (None if invtsc_frequencies is None
                                   else frozenset(invtsc_frequencies))
        #: How many guests have invtsc and no pinned TSC frequency (QEMU
        #: refuses to migrate those at all).
        self.invtsc_unpinned = invtsc_unpinned
        #: Guest physical address bits in use (the largest), or None.
        self.phys_bits = phys_bits
        #: Features nova added to host-passthrough guests (their XML lists
        #: them as required on top of the host CPU), or None.
        self.passthrough_extra = (None if passthrough_extra is None
                                  else frozenset(passthrough_extra))
        #: How many host-passthrough guests run with <cpu migratable='off'>
        #: (they carry the host's non-migratable features, invtsc
        #: included when the host has it), or None.
        self.migratable_off = migratable_off
        #: True: this is one guest's complete record (a domain XML); what it
        #: does not say is known absent, not to be filled from the union.
        self.exact = bool(exact)
        #: Where this came from, for messages ("instance vcpu_model", ...).
        self.origin = origin
        self.mode_origin = mode_origin

    def given(self):
        """Explicit features the guest is given (require/force)."""
        return frozenset(n for n, p in self.features.items() if p in GIVES)

    def taken(self):
        """Explicit features taken from the guest (disable/forbid)."""
        return frozenset(n for n, p in self.features.items() if p in TAKES)

    def extra(self):
        """Every feature added on top of the guest's mode: the explicit
        given ones and, for host-passthrough, what nova added there.
        """
        return self.given() | (self.passthrough_extra or frozenset())

    def key(self):
        """A hashable tuple that differs when any judged field differs
        (verdict caches key on it).
        """
        def frozen(value):
            return None if value is None else tuple(sorted(value))
        return (self.mode, self.model,
                tuple(sorted(self.features.items())),
                frozen(self.required), self.expanded,
                frozen(self.machine_types),
                frozen(self.invtsc_frequencies), self.invtsc_unpinned,
                self.phys_bits, frozen(self.passthrough_extra),
                self.migratable_off, self.exact)

    def copy(self):
        return copy.copy(self)

    def to_dict(self):
        def listed(value):
            return None if value is None else sorted(value)
        return {
            'mode': self.mode, 'model': self.model,
            'features': dict(sorted(self.features.items())),
            'required': listed(self.required), 'expanded': self.expanded,
            'machine_types': listed(self.machine_types),
            'invtsc_frequencies': listed(self.invtsc_frequencies),
            'invtsc_unpinned': self.invtsc_unpinned,
            'phys_bits': self.phys_bits,
            'passthrough_extra': listed(self.passthrough_extra),
            'migratable_off': self.migratable_off, 'exact': self.exact,
            'origin': self.origin,
        }

    def __repr__(self):
        return 'GuestCPU(%s, %s, %d features, %s)' % (
            self.mode, self.model, len(self.features), self.origin)


def _mode(value):
    value = (value or '').lower()
    return value if value in cpu_modes.MODES else None


def from_vcpu_model(vcpu_model):
    """GuestCPU from nova's VirtCPUModel (or anything with its fields).

    nova records the CPU config it generated: the mode, for custom guests
    the model, and the features nova added, each with its policy. A
    host-model guest's expanded CPU is not in it (libvirt expands it at
    start): that comes from the source's running guests.
    """
    if vcpu_model is None:
        return None
    features = {}
    for feature in getattr(vcpu_model, 'features', None) or ():
        name = getattr(feature, 'name', None)
        if name:
            features[name] = getattr(feature, 'policy', None) or 'require'
    mode = _mode(getattr(vcpu_model, 'mode', None))
    return GuestCPU(mode=mode,
                    model=getattr(vcpu_model, 'model', None) or None,
                    features=features, origin='instance vcpu_model',
                    mode_origin='instance vcpu_model' if mode else '')


#: running_guests value key of each judged mode's feature union.
FEATURE_KEYS = {
    cpu_modes.HOST_MODEL: 'host_model_features',
    cpu_modes.CUSTOM: 'custom_features',
}


def with_running(guest, running, mode):
    """guest completed from the source's running_guests value for mode.

    ``running`` is the factor's value (a dict; an Unknown or None leaves
    guest as it is). The union of the running guests of that mode stands
    in for the one guest's CPU. The guest given is not changed (a copy is
    completed); an ``exact`` guest (one domain XML) is returned as it is.
    """
    if not isinstance(running, dict) or (guest is not None and guest.exact):
        return guest
    guest = guest.copy() if guest else GuestCPU()
    features = running.get(FEATURE_KEYS.get(mode))
    count = (running.get('modes') or {}).get(mode)
    if guest.required is None and isinstance(features, list) and count:
        guest.required = frozenset(features)
        guest.expanded = not running.get('unexpanded')
        guest.origin = ('%s + running guests' % guest.origin
                        if guest.origin else 'running guests')
    for field in ('machine_types', 'invtsc_frequencies'):
        if getattr(guest, field) is None and \
                isinstance(running.get(field), list):
            setattr(guest, field, frozenset(running[field]))
    if guest.invtsc_unpinned is None and \
            isinstance(running.get('invtsc_unpinned'), int):
        guest.invtsc_unpinned = running['invtsc_unpinned']
    bits = running.get('phys_bits')
    if guest.phys_bits is None and isinstance(bits, list) and bits:
        guest.phys_bits = max(bits)
    extra = running.get('passthrough_extra')
    if mode == cpu_modes.HOST_PASSTHROUGH and isinstance(extra, list) and \
            guest.passthrough_extra is None:
        guest.passthrough_extra = frozenset(extra)
    return guest


def from_domain(record, expand=None):
    """GuestCPU of one guest from its domain record (domains.Guest).

    ``expand(model)`` turns a named model into its features (see
    ``guest_requirements.requirements``); a model it cannot expand leaves
    ``expanded`` False. Everything the XML does not show is known absent
    (``exact``): no invtsc, no pinned frequency, no maxphysaddr.
    """
    need = guest_requirements.requirements([record], expand)
    mode = record.nova_mode
    invtsc = need['invtsc']
    pinned = set(invtsc['frequencies'])
    if (record.tsc or {}).get('frequency'):
        # A pinned TSC frequency binds the destination whether or not the
        # guest has invtsc: KVM cannot run it at another rate unscaled.
        pinned.add(record.tsc['frequency'])
    return GuestCPU(
        mode=mode,
        model=record.model if mode == cpu_modes.CUSTOM else None,
        features=dict(record.features or {}),
        required=(need['features'].get(mode, ())
                  if mode in FEATURE_KEYS else None),
        expanded=(not need['unexpanded'] if mode in FEATURE_KEYS
                  else None),
        machine_types=need['machine_types'],
        invtsc_frequencies=pinned,
        invtsc_unpinned=len(invtsc['unpinned']),
        phys_bits=max(need['phys_bits']) if need['phys_bits'] else 0,
        passthrough_extra=(need['passthrough_required']
                           if mode == cpu_modes.HOST_PASSTHROUGH else None),
        migratable_off=len(need['passthrough_migratable_off']),
        exact=True, origin=record.origin,
        mode_origin='domain XML (%s)' % record.mode_basis)
