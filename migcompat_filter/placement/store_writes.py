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

"""Write records to the migcompat store (placement/store.py reads it).

Apart from store.py so that the grouped read (grouping -> store) never
imports the HTTP client (client -> grouping).
"""

from migcompat_filter.placement import client as placement
from migcompat_filter.placement.store import AGGREGATE
from migcompat_filter.traits import schema3


def _call(deadline, client, what, func, *args):
    if deadline is None:
        return func(*args)
    return deadline.call(client, what, func, *args)


def _create(client, rp_uuid, name, parent, deadline):
    """Create one provider in the store's aggregate (or finish one that
    a killed or concurrent reporter created).
    """
    try:
        gen = _call(deadline, client, 'creating %s' % name[:60],
                    client.create_provider, rp_uuid, name, parent)
    except placement.Conflict:
        found = _call(deadline, client, 'looking up %s' % rp_uuid,
                      client.find_provider, rp_uuid)
        if found.get('uuid') != rp_uuid or found.get('name') != name:
            raise placement.PlacementError(
                'cannot store %s: a provider %s already holds its name or '
                'UUID' % (name[:60], found.get('uuid')))
        gen = found.get('generation')
    for attempt in range(3):
        try:
            return _call(deadline, client, 'adding %s to the store' % rp_uuid,
                         client.set_aggregates, rp_uuid, [AGGREGATE], gen)
        except placement.Conflict:
            gen = _call(deadline, client, 'looking up %s' % rp_uuid,
                        client.find_provider, rp_uuid).get('generation')
    raise placement.PlacementError('provider %s kept changing while it was '
                                   'added to the migcompat store' % rp_uuid)


def delete(client, providers, deadline=None):
    """Delete store providers, parts (and any children, as an older
    store had) before record roots; the count deleted.
    """
    deleted = 0
    for rp_uuid, _name, _parent in sorted(
            providers, key=lambda p: (p[2] is None,
                                      schema3.is_root_name(p[1]))):
        if _call(deadline, client, 'deleting %s' % rp_uuid,
                 client.delete_provider, rp_uuid):
            deleted += 1
    return deleted


def ensure(client, records, store, deadline=None):
    """Create the records (digest -> schema3.Record) the store does not
    hold valid; an invalid one is deleted and written again. Returns the
    digests written.
    """
    written = []
    for digest, rec in sorted(records.items()):
        if store.valid(digest):
            continue
        old = store.records.get(digest)
        if old is not None:
            gone = set(old.providers)
            delete(client, [p for p in store.providers if p[0] in gone],
                   deadline)
        for rp_uuid, name, parent in schema3.providers_of(rec):
            _create(client, rp_uuid, name, parent, deadline)
        written.append(digest)
    return written
