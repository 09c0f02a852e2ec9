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

"""What a host's running guests need from any destination.

Public as :func:`migcompat_filter.host.domains.requirements`; it reads the
:class:`migcompat_filter.host.domains.Guest` records of one host and returns
plain, sorted, JSON-able data (the same guests in any order give the same
result).
"""

from migcompat_filter.cpu import map_migratable as cpu_map_migratable
from migcompat_filter import cpu_modes
from migcompat_filter import exception


def requirements(guests, expand=None):
    """What a host's running guests need from any destination (plain data).

    ``guests`` are :class:`~migcompat_filter.host.domains.Guest` records;
    ``expand(model)`` turns a named model into its features (a set or
    list) through libvirt's CPU map, or returns None when it does not know
    the model; it may also raise ``exception.FactorUnknown`` (so
    ``SourceError``), read as unknown with that reason. On a host,
    ``lambda m: source.expand_cpu('<cpu><model>%s</model></cpu>' %
    m).features`` of a ``hostsource`` source serves. Without ``expand`` no
    model is expanded. Returns::

      {'guests': N,
       'modes': {nova mode: count},
       'features': {nova mode: sorted features}   # host-model, custom
       'unexpanded': [{'model', 'nova_mode', 'guests': [uuid], 'reason'}],
       'non_migratable_dropped': sorted features dropped,
       'machine_types': sorted ['pc-q35-7.2', ...],
       'invtsc': {'guests': n, 'frequencies': sorted Hz,
                  'unpinned': sorted [uuid]},
       'phys_bits': sorted [bits], 'phys_bits_passthrough': n,
       'passthrough_migratable_off': sorted [uuid],
       'passthrough_required': sorted features,
       'cpu_map': libvirt version of the non-migratable list}

    Requirement = expanded model + required/forced - disabled/forbidden
    features - libvirt's non-migratable ones (never carried across). An
    unexpandable model's guest still adds its listed features and is named
    under ``unexpanded`` (incomplete, never silently empty). ``unpinned``:
    invtsc without a TSC frequency, which QEMU refuses to migrate;
    ``passthrough_migratable_off``: may carry the host's non-migratable
    features (the XML cannot say which). ``passthrough_required``: what
    host-passthrough guests list as required (nova's extra flags), on top
    of the host CPU they see; their full feature set is not in the XML.
    """
    modes, features, unexpanded, dropped = {}, {}, {}, set()
    machines, freqs, unpinned, bits, off = set(), set(), [], set(), []
    invtsc = pt_bits = 0
    cache, pt_required = {}, set()
    for guest in guests:
        modes[guest.nova_mode] = modes.get(guest.nova_mode, 0) + 1
        if guest.machine:
            machines.add(guest.machine)
        if guest.invtsc:
            invtsc += 1
            if guest.tsc and guest.tsc.get('frequency'):
                freqs.add(guest.tsc['frequency'])
            else:
                unpinned.append(guest.uuid)
        phys = guest.maxphysaddr or {}
        if phys.get('bits') is not None:
            bits.add(phys['bits'])
        elif phys.get('mode') == 'passthrough':
            pt_bits += 1
        # libvirt always writes the guest arch; x86_64 is its default.
        blocked = cpu_map_migratable.non_migratable(guest.arch or 'x86_64')
        if guest.nova_mode == cpu_modes.HOST_PASSTHROUGH:
            if guest.migratable is False:
                off.append(guest.uuid)
            dropped |= guest.required_features() & blocked
            pt_required |= guest.required_features() - blocked
            continue
        need, reason = _guest_requirement(guest, expand, cache)
        if reason:
            key = (guest.model, guest.nova_mode, reason)
            unexpanded.setdefault(key, []).append(guest.uuid)
        dropped |= need & blocked
        features.setdefault(guest.nova_mode, set()).update(need - blocked)
    return {
        'guests': sum(modes.values()),
        'modes': dict(sorted(modes.items())),
        'features': {m: sorted(f) for m, f in sorted(features.items())},
        'unexpanded': [{'model': model, 'nova_mode': mode,
                        'guests': sorted(uuids), 'reason': reason}
                       for (model, mode, reason), uuids in sorted(
                           unexpanded.items(), key=lambda i: str(i[0]))],
        'non_migratable_dropped': sorted(dropped),
        'machine_types': sorted(machines),
        'invtsc': {'guests': invtsc, 'frequencies': sorted(freqs),
                   'unpinned': sorted(unpinned)},
        'phys_bits': sorted(bits),
        'phys_bits_passthrough': pt_bits,
        'passthrough_migratable_off': sorted(off),
        'passthrough_required': sorted(pt_required),
        'cpu_map': cpu_map_migratable.LIBVIRT_VERSION,
    }


def _guest_requirement(guest, expand, cache):
    """(feature set, reason or None) of a host-model or custom guest."""
    listed = guest.required_features()
    if not guest.model:
        reason = ('host-model not expanded: the XML is not a running '
                  "guest's" if guest.mode == 'host-model'
                  else 'no model named in <cpu>')
        return listed - guest.disabled_features(), reason
    if expand is None:
        return (listed - guest.disabled_features(),
                'no CPU map given to expand the model')
    if guest.model not in cache:
        try:
            base = expand(guest.model)
            cache[guest.model] = (None if base is None else set(base),
                                  'the CPU map does not know this model')
        except exception.FactorUnknown as e:
            cache[guest.model] = (None, str(e))
    base, why = cache[guest.model]
    if base is None:
        return listed - guest.disabled_features(), why
    return (base | listed) - guest.disabled_features(), None


def published(reqs):
    """The ``running_guests`` factor value of :func:`requirements`' output.

    Plain data for Placement traits (see the catalogue row): counts and
    sorted lists, never a guest UUID or name, so that the value says what
    the guests need, not who they are.
    """
    features = reqs['features']
    return {
        'count': reqs['guests'],
        'modes': dict(reqs['modes']),
        'host_model_features': list(features.get(cpu_modes.HOST_MODEL, [])),
        'custom_features': list(features.get(cpu_modes.CUSTOM, [])),
        'unexpanded': sorted({u['model'] or '(%s without a model)'
                              % u['nova_mode'] for u in reqs['unexpanded']}),
        'machine_types': list(reqs['machine_types']),
        'invtsc_frequencies': list(reqs['invtsc']['frequencies']),
        'invtsc_unpinned': len(reqs['invtsc']['unpinned']),
        'phys_bits': list(reqs['phys_bits']),
        'passthrough_extra': list(reqs['passthrough_required']),
    }


#: How many reasons ``unjudged`` keeps (the count says how many there are).
MAX_UNJUDGED_REASONS = 5


def unjudged(reasons):
    """The ``running_guests`` factor's ``unjudged`` part: how many guests
    could not be read and why (the first few reasons, sorted, each naming
    the guest's file; the others are only counted).
    """
    reasons = sorted(reasons)
    return {'count': len(reasons),
            'reasons': reasons[:MAX_UNJUDGED_REASONS]}


def one_guest(guest, expand=None):
    """(features it needs or None, [what limits its moves]) of one Guest.

    The features are as :func:`requirements` counts them (migratable
    view; None for a host-passthrough guest, whose feature set is the
    host CPU's and not in its XML). The limits are sentences an operator
    reads in ``migcompat guest list``.
    """
    blocked = cpu_map_migratable.non_migratable(guest.arch or 'x86_64')
    limits = []
    need = None
    if guest.nova_mode == cpu_modes.HOST_PASSTHROUGH:
        limits.append('host-passthrough: only to a host with an identical '
                      'CPU, microcode and kernel')
        if guest.migratable is False:
            limits.append("migratable='off': may carry features libvirt "
                          'cannot migrate')
    else:
        need, reason = _guest_requirement(guest, expand, {})
        need -= blocked
        if reason:
            limits.append('model %s not expanded (%s): its requirement is '
                          'only the listed features'
                          % (guest.model or '(none)', reason))
    if guest.invtsc:
        freq = (guest.tsc or {}).get('frequency')
        limits.append('invtsc with a pinned TSC frequency: only to hosts '
                      'of %d Hz (within tolerance) or with TSC scaling'
                      % freq if freq else
                      'invtsc without a pinned TSC frequency: cannot '
                      'migrate (QEMU blocks it)')
    phys = guest.maxphysaddr or {}
    if phys.get('mode') == 'passthrough' and phys.get('bits') is None:
        limits.append('maxphysaddr passthrough: only to hosts with the same '
                      'physical address bits')
    return need, limits
