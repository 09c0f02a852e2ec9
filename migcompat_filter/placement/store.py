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

"""The migcompat store: schema-3 records as resource providers in Placement.

Each record (a profile, the per-host factors of hosts running the same
guests, a note) is one root provider ``migcompat-<kind>-<digest>`` and
part providers (roots too, so that placement's allocation candidates keep
their flat path) whose names carry its content
(:mod:`migcompat_filter.traits.schema3`). None has inventory, so none is
ever an allocation candidate; all are members of one aggregate,
:data:`AGGREGATE`, so that

    GET /resource_providers?member_of=<AGGREGATE>   (microversion 1.14)

lists the whole store in one request. Every reader checks each record
against its digest (schema3.assemble). UUIDs are uuid5 of the record's
kind and digest: two reporters creating one record at once converge, and
"already exists" is success.

Writers (placement/store_writes.py): ``ensure`` creates the records a
host's traits point at and the store does not hold (two requests per
provider: POST, then the aggregate PUT; ~10-30 providers for a new
profile, once in the fleet); :func:`unreferenced` finds the records no
host points at and ``delete`` removes them (``migcompat trait prune``).
"""

import urllib.parse

from migcompat_filter import profile as profile_mod
from migcompat_filter.traits import codec as traits_codec
from migcompat_filter.traits import schema3

AGGREGATE = schema3.STORE_AGGREGATE
VERSION = '1.14'  # parent_provider_uuid in listings


def listing_url():
    return '/resource_providers?member_of=%s' % urllib.parse.quote(AGGREGATE)


class Store(object):
    """One reading of the store: records (digest -> schema3.Record or
    schema3.Invalid), providers [(uuid, name, parent)].
    """

    __slots__ = ('records', 'providers')

    def __init__(self, records=None, providers=()):
        self.records = dict(records or {})
        self.providers = list(providers)

    def valid(self, digest):
        rec = self.records.get(digest)
        return rec is not None and rec.valid

    def __repr__(self):
        return 'Store(%d records, %d providers)' % (len(self.records),
                                                    len(self.providers))


class BadStore(Exception):
    """The store listing is not the JSON expected."""


def parse(body):
    """A Store from the body of the store listing."""
    rps = body.get('resource_providers') if isinstance(body, dict) else None
    if not isinstance(rps, list):
        raise BadStore('GET %s: no "resource_providers" list'
                       % listing_url())
    found = []
    for rp in rps:
        if not isinstance(rp, dict) or not isinstance(rp.get('uuid'), str):
            raise BadStore('GET %s: a provider without a uuid'
                           % listing_url())
        name = rp.get('name')
        parent = rp.get('parent_provider_uuid')
        found.append((rp['uuid'], name if isinstance(name, str) else '',
                      parent if isinstance(parent, str) else None))
    return Store(schema3.assemble(found), found)


def read(get):
    """The Store, in one request: get(url, version) -> JSON body."""
    return parse(get(listing_url(), VERSION))


def records_for(names, records, get):
    """The records a host's schema-3 traits point at: ``records`` (a
    snapshot's) when it holds them all, else the store read now with
    get (1 call; on a failure the snapshot's, and the host's missing
    record makes it unreadable). None for a host of an older schema.
    """
    wanted = schema3.referenced(names)
    if not wanted:
        return None
    if wanted.issubset(records):
        return records
    try:
        return read(get).records
    except Exception:  # a failure of get, or BadStore: never raise here
        return records


def client_get(client, deadline=None):
    """A get(url, version) over a PlacementClient (within a reporter
    Deadline when given).
    """
    def get(url, version):
        if deadline is None:
            return client.get_json(url, 'read the migcompat store', version)
        return deadline.call(client, 'reading the migcompat store',
                             client.get_json, url,
                             'read the migcompat store', version)
    return get


def readable_names(rec):
    """Schema 2's names of a profile record's facts (no schema or digest
    trait: the root must never look like a host).
    """
    return readable_names_of(profile_mod.Profile(
        {n: profile_mod.from_jsonable(v)
         for n, v in rec.value.get('factors', {}).items()}))


def readable_names_of(profile):
    """Schema 2's readable names of a profile, without schema or digest
    trait ("host show" of a schema-3 host, a record's root).
    """
    names = traits_codec.encode(profile, 2)
    return sorted(n for n in names
                  if not n.startswith(traits_codec.SCHEMA_PREFIX) and
                  not n.startswith(traits_codec.DIGEST_PREFIX))


def unreferenced(store, referenced):
    """[(uuid, name, parent)] of the store's records no host points at
    (referenced: digests that some provider's traits name), and of its
    providers that belong to no record.
    """
    keep = set(referenced)
    out = []
    for rp in store.providers:
        digest = digest_of_name(rp[1])
        if digest is None or digest not in keep:
            out.append(rp)
    return out


def digest_of_name(name):
    for part in (name or '').split('-'):
        if len(part) == schema3.DIGEST_HEX and part.isalnum() and \
                part.upper() == part:
            return part
    return None


def referenced_by(trait_names):
    """Record digests named by trait names (any providers')."""
    return schema3.referenced(trait_names)
