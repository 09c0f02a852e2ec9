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

"""Free capacity of compute nodes, from Placement inventories and usages.

What Placement itself checks when nova claims a server on a host: per
resource class, ``(total - reserved) * allocation_ratio - used`` must
cover the request. A drain plan keeps its own ledger of that so that it
never plans two servers into room there is for one.
"""

import concurrent.futures

from migcompat_filter.placement import client as placement

#: The resource classes a plan accounts for (a server's allocation on its
#: compute node; nested providers such as a GPU are not planned).
RESOURCES = ('VCPU', 'MEMORY_MB', 'DISK_GB')


class Capacity(object):
    """What is free on one compute node, per resource class."""

    def __init__(self, free, limit=None):
        self.free = dict(free)
        #: The capacity each class has in all, for the share still free.
        self.limit = dict(limit or free)

    @classmethod
    def from_placement(cls, inventories, usages):
        free, limit = {}, {}
        for rc, inv in inventories.items():
            cap = int((inv.get('total', 0) - inv.get('reserved', 0)) *
                      inv.get('allocation_ratio', 1.0))
            limit[rc] = cap
            free[rc] = cap - usages.get(rc, 0)
        return cls(free, limit)

    def fits(self, need):
        """True when every class of need has room (a class the host has
        no inventory of has no room).
        """
        return all(self.free.get(rc, 0) >= amount
                   for rc, amount in need.items() if amount)

    def short(self, need):
        """The classes of need without room, as text ('' when it fits)."""
        return ', '.join('%s %d > %d free' % (rc, amount,
                                              self.free.get(rc, 0))
                         for rc, amount in sorted(need.items())
                         if amount and self.free.get(rc, 0) < amount)

    def take(self, need):
        for rc, amount in need.items():
            self.free[rc] = self.free.get(rc, 0) - amount

    def headroom(self):
        """The smallest share still free over the classes (0..1)."""
        shares = [self.free.get(rc, 0) / float(cap)
                  for rc, cap in self.limit.items()
                  if rc in RESOURCES and cap > 0]
        return min(shares) if shares else 0.0

    def copy(self):
        return Capacity(self.free, self.limit)

    def to_dict(self):
        return {rc: self.free[rc] for rc in sorted(self.free)
                if rc in RESOURCES}


# Placement has no bulk call for these: one request each, through the
# client's public get_json (request count, timeouts, URL redaction and the
# check that the answer is a JSON object).

def _section(body, key, what):
    """body[key] as a dict of dicts or numbers; PlacementError otherwise
    (a wrong-shaped answer is a failure, never a guess).
    """
    section = body.get(key, {})
    if not isinstance(section, dict):
        raise placement.PlacementError('%s: no %r object in the answer'
                                       % (what, key))
    return section


def _number(value, what):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise placement.PlacementError('%s: %r is not a number'
                                       % (what, value))
    return value


def read(client, host_uuid, label=None):
    """The :class:`Capacity` of one resource provider."""
    what = 'read the inventories of %s' % (label or host_uuid)
    inv = _section(client.get_json('/resource_providers/%s/inventories'
                                   % host_uuid, what), 'inventories', what)
    for rc, record in inv.items():
        if not isinstance(record, dict):
            raise placement.PlacementError('%s: inventory %s is not an '
                                           'object' % (what, rc))
        for field in ('total', 'reserved', 'allocation_ratio'):
            if field in record:
                _number(record[field], '%s: %s %s' % (what, rc, field))
    what = 'read the usages of %s' % (label or host_uuid)
    used = _section(client.get_json('/resource_providers/%s/usages'
                                    % host_uuid, what), 'usages', what)
    for rc, amount in used.items():
        _number(amount, '%s: %s' % (what, rc))
    return Capacity.from_placement(inv, used)


def read_all(client, hosts, workers=8):
    """{host uuid: Capacity}, workers requests in flight; a host Placement
    cannot answer for has none (it takes no server).
    """
    def one(host):
        try:
            return host.uuid, read(client, host.uuid, host.name)
        except placement.PlacementError:
            return host.uuid, Capacity({})
    if not hosts:
        return {}
    with concurrent.futures.ThreadPoolExecutor(
            max(1, min(workers, len(hosts)))) as pool:
        return dict(pool.map(one, hosts))


def allocation(client, consumer, rp_uuid):
    """{resource class: amount} a consumer (a server) holds on a provider;
    empty when it holds nothing there.
    """
    what = 'read the allocations of server %s' % consumer
    allocs = _section(client.get_json('/allocations/%s' % consumer, what),
                      'allocations', what)
    mine = allocs.get(rp_uuid) or {}
    resources = mine.get('resources') if isinstance(mine, dict) else None
    if not isinstance(resources, dict):
        return {}
    return {rc: _number(n, '%s: %s' % (what, rc))
            for rc, n in resources.items() if rc in RESOURCES}
