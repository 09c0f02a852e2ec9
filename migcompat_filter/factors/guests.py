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
"""

from migcompat_filter.cpu import features as cpufeatures
from migcompat_filter.cpu import guest_requirements
from migcompat_filter import exception
from migcompat_filter.factors import base
from migcompat_filter.host import domains


def read_guests(host):
    """[Guest] of the host's running domains; FactorUnknown naming the
    document that cannot be read (the guests' needs would be incomplete,
    and an incomplete record would let a move through that should not).
    """
    found = []
    for origin, text in host.running_domains():
        try:
            found.append(domains.parse_domain(text, origin))
        except exception.InputError as e:
            raise base.FactorUnknown('running guest %s' % e)
    return found


def model_expander(host, arch='x86_64'):
    """expand(model) -> libvirt-spelt features, or None when only QEMU's
    own definition knows the model; SourceError when nothing does.
    """

    def expand(model):
        cpu = '<cpu><arch>%s</arch><model>%s</model></cpu>' % (arch, model)
        expansion = host.expand_cpu(cpu)
        if expansion.how == 'qemu':
            return None
        return cpufeatures.canonical_features(expansion.features, 'libvirt')
    return expand


class RunningGuestsFactor(base.Factor):
    """The running guests' needs (catalogue row ``running_guests``)."""

    def read(self, host):
        guests = read_guests(host)
        arch = next((g.arch for g in guests if g.arch), 'x86_64')
        return guest_requirements.published(
            domains.requirements(guests, model_expander(host, arch)))
