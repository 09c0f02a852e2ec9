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

"""Where a host's libvirt-verification counts are published (interim).

The counts (checked, agree, disagree, unchecked) belong in the host's
schema-3 ``note`` record under the key ``verify``
(``reporter.sync(..., note={'verify': counts})``, read back as
``HostProfile.note['verify']``). Until that note is on main, they are kept
apart from every trait: one provider per host, no inventory (never an
allocation candidate), no trait, named
``migcompat-verify-<host uuid>-c<checked>-a<agree>-d<disagree>-u<unchecked>``
with UUID ``uuid5(NS, 'verify:<host uuid>')``, a member of the aggregate
:data:`AGGREGATE`, so ONE request lists every host's counts. Readers
prefer the note when a profile carries one (:func:`counts_of`).
"""

import re
import uuid

from migcompat_filter.placement import client as placement

KEYS = ('checked', 'agree', 'disagree', 'unchecked')
NOTE_KEY = 'verify'
NS = uuid.uuid5(uuid.NAMESPACE_URL, 'https://opendev.org/migcompat')
#: The aggregate of every host's counts provider.
AGGREGATE = str(uuid.uuid5(NS, 'migcompat-verify'))
PREFIX = 'migcompat-verify-'
_NAME_RE = re.compile(r'^migcompat-verify-([0-9a-f-]{36})-c(\d+)-a(\d+)'
                      r'-d(\d+)-u(\d+)$')
#: Aggregates with a generation, member_of listings.
MICROVERSION = '1.19'


def provider_uuid(host_uuid):
    return str(uuid.uuid5(NS, 'verify:%s' % host_uuid))


def provider_name(host_uuid, counts):
    return '%s%s-c%d-a%d-d%d-u%d' % ((PREFIX, host_uuid) + tuple(
        int(counts[k]) for k in KEYS))


def parse_name(name):
    """(host uuid, counts) of a counts provider's name, or None."""
    found = _NAME_RE.match(name or '')
    if not found:
        return None
    return found.group(1), dict(zip(KEYS, (int(v) for v in
                                           found.groups()[1:])))


def publish(client, host_uuid, counts):
    """Make host_uuid's counts provider say counts; returns True when
    something was written. PlacementError when Placement fails.
    """
    rp = provider_uuid(host_uuid)
    name = provider_name(host_uuid, counts)
    what = 'verification counts of %s' % host_uuid
    resp = client._request('GET', '/resource_providers/%s' % rp, what,
                           ok=(200, 404), microversion=MICROVERSION)
    if resp.status_code == 200:
        body = resp.json()
        if body.get('name') == name:
            return False
        client._request('PUT', '/resource_providers/%s' % rp, what,
                        json={'name': name}, microversion=MICROVERSION)
        return True
    try:
        client._request('POST', '/resource_providers', what,
                        json={'name': name, 'uuid': rp}, ok=(200, 201),
                        microversion=MICROVERSION)
    except placement.Conflict:
        # Created meanwhile by another round of ours: rename it.
        client._request('PUT', '/resource_providers/%s' % rp, what,
                        json={'name': name}, microversion=MICROVERSION)
    got = client._request('GET', '/resource_providers/%s' % rp, what,
                          microversion=MICROVERSION).json()
    client._request('PUT', '/resource_providers/%s/aggregates' % rp, what,
                    json={'aggregates': [AGGREGATE],
                          'resource_provider_generation':
                              got['generation']},
                    microversion=MICROVERSION)
    return True


def read_all(client):
    """{host uuid: counts} of every published counts provider (one
    request). PlacementError when Placement fails.
    """
    body = client.get_json('/resource_providers?member_of=%s' % AGGREGATE,
                           'list verification counts',
                           microversion=MICROVERSION)
    out = {}
    for rp in body.get('resource_providers') or ():
        parsed = parse_name(rp.get('name') if isinstance(rp, dict) else None)
        if parsed:
            out[parsed[0]] = parsed[1]
    return out


def counts_of(host, published):
    """A host's counts: its schema-3 note's ``verify`` when its profile
    has one, else what :func:`read_all` found for it, else None.
    """
    note = getattr(getattr(host, 'profile', None), 'note', None)
    if isinstance(note, dict) and isinstance(note.get(NOTE_KEY), dict):
        value = note[NOTE_KEY]
        if all(isinstance(value.get(k), int) for k in KEYS):
            return {k: value[k] for k in KEYS}
    return published.get(getattr(host, 'uuid', None))
