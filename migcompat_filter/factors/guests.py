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

"""The running guests factor: what the host's guests need from a destination.

A live migration moves a guest with the CPU libvirt gave it at start, its
machine type and its TSC set-up (doc/source/guests.rst). The host source
lists the running domains (``host.running_domains()``: the live host
through libvirt, one list call and one live-XML read per guest; a snapshot
from ``libvirt/domains/*.xml``); each is parsed
(:func:`migcompat_filter.host.domains.parse_domain`) and their needs are summed
(:func:`migcompat_filter.host.domains.requirements`, then
:func:`migcompat_filter.cpu.guest_requirements.published`: counts and sorted
lists, no guest UUID or name, as the value becomes Placement traits).

Named models are expanded through the host source's CPU-model expansion,
as for ``host_model``: libvirt's CPU map, or its base model plus the local
QEMU's version changes. QEMU's own model lists differ from libvirt's, so a
model only QEMU knows is listed under ``unexpanded`` rather than mixed in.

A guest whose XML cannot be read (an impossible number, not XML, ...) is
listed under ``unjudged`` with the reason naming its file; the others
still count, and the rules block a move from that host rather than judge
it as if the guest were not there (rules.guests.UnjudgedGuestsRule).
"""

import re

from migcompat_filter.cpu import features as cpufeatures
from migcompat_filter.cpu import guest_requirements
from migcompat_filter import exception
from migcompat_filter.factors import base
from migcompat_filter.host import domains
from migcompat_filter.host import source as hostsource


def read_guests(host):
    """[Guest] of the host's running domains; FactorUnknown naming the
    first document that cannot be read (its guest's needs would be
    missing, and an incomplete list would let a move through that should
    not). :func:`sort_guests` keeps the readable ones instead.
    """
    found, unjudged = sort_guests(host)
    if unjudged:
        raise base.FactorUnknown('running guest %s' % unjudged[0])
    return found


def sort_guests(host):
    """([Guest] that can be judged, [why each other one cannot]).

    A domain XML that cannot be read (not XML, an impossible number, a
    second file for one ``<uuid>``, a file named after another guest, a
    guest of another architecture) is not left out silently: it is
    *unjudged*, with a reason naming its file and what is wrong, and the
    others still count. FactorUnknown when the domains cannot be listed.
    """
    found, unjudged = host.cached(('guests',), lambda: _sort_guests(host))
    return list(found), list(unjudged)


def _sort_guests(host):
    """sort_guests, once per host source (the factor and the drift check
    of one report share it: each domain XML is parsed once).
    """
    found, unjudged, by_uuid = [], [], {}
    for origin, text in host.running_domains():
        try:
            guest = domains.parse_domain(text, origin)
        except exception.InputError as e:
            unjudged.append(str(e))
            continue
        name = origin.rpartition('/')[2]
        if origin.startswith(DOMAINS_DIR + '/') and \
                name != '%s.xml' % guest.uuid:
            unjudged.append(
                '%s: holds guest %s; a snapshot names each '
                'file after its guest\'s <uuid>' % (origin, guest.uuid))
        elif guest.uuid in by_uuid:
            unjudged.append(
                '%s: the same <uuid> %s as %s; one guest '
                'runs once' % (origin, guest.uuid, by_uuid[guest.uuid]))
        else:
            by_uuid[guest.uuid] = origin
            found.append(guest)
    wrong = _wrong_arch(host, found)
    unjudged += [why for _guest, why in wrong] + _kept_unjudged(host)
    left_out = {id(guest) for guest, _why in wrong}
    return [g for g in found if id(g) not in left_out], unjudged


#: Where a snapshot keeps its running guests' XML (host.source.DOMAINS_DIR).
DOMAINS_DIR = 'libvirt/domains'
#: A guest a snapshot could not capture: the reason, in
#: DOMAINS_DIR/unjudged-<n>.txt (host/snapshot.py).
_KEPT = re.compile(r'^unjudged-[0-9]+\.txt$')


def _kept_unjudged(host):
    """The reasons a snapshot kept for the guests it could not capture."""
    if not isinstance(host, hostsource.SnapshotSource):
        return []
    return [host.read_text('%s/%s' % (DOMAINS_DIR, name),
                           errors='backslashreplace').strip()[:500] or
            '%s/%s: no reason recorded' % (DOMAINS_DIR, name)
            for name in host.listdir(DOMAINS_DIR) if _KEPT.match(name)]


#: A guest <os><type arch> -> the host architectures that run it.
_RUNS_ON = {'i686': ('x86_64', 'i686'), 'i386': ('x86_64', 'i686')}


def _wrong_arch(host, guests):
    """[(guest, why)] of the guests of another architecture than the host
    (KVM runs guests of the host's own): their needs would be counted
    against hosts they can never run on.
    """
    try:
        arch = (host.host_cpu().findtext('arch') or '').strip() or None
    except base.FactorUnknown:
        arch = None
    if arch is None:
        arch = next((g.arch for g in guests if g.arch), None)
    return [(guest, '%s: a %s guest on a %s host; KVM runs '
             'guests of the host\'s architecture'
             % (guest.origin, guest.arch, arch))
            for guest in guests
            if guest.arch and arch and arch not in _RUNS_ON.get(
                guest.arch, (guest.arch,))]


def model_expander(host, arch='x86_64'):
    """expand(model) -> libvirt-spelt features (a frozenset), or None when
    only QEMU's own definition knows the model; SourceError when nothing
    does. One expansion per model and host source (the guests of a cloud
    share a few models: 5,000 guests, a handful of expansions).
    """
    memo = host.cached(('guest model expansions', arch), dict)

    def expand(model):
        if model not in memo:
            try:
                memo[model] = _expand(host, arch, model)
            except exception.FactorUnknown as e:
                memo[model] = e
        if isinstance(memo[model], exception.FactorUnknown):
            raise memo[model]
        return memo[model]
    return expand


def _expand(host, arch, model):
    cpu = '<cpu><arch>%s</arch><model>%s</model></cpu>' % (arch, model)
    expansion = host.expand_cpu(cpu)
    if expansion.how == 'qemu':
        return None
    return frozenset(cpufeatures.canonical_features(expansion.features,
                                                    'libvirt'))


class RunningGuestsFactor(base.Factor):
    """The running guests' needs (catalogue row ``running_guests``)."""

    def read(self, host):
        guests, unjudged = sort_guests(host)
        arch = next((g.arch for g in guests if g.arch), 'x86_64')
        value = guest_requirements.published(
            domains.requirements(guests, model_expander(host, arch)))
        if unjudged:
            value['unjudged'] = guest_requirements.unjudged(unjudged)
        return value
