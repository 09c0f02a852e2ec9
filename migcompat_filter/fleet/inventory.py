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

"""The compute nodes and what their Placement traits say.

A compute node's provider UUID is nova's compute node UUID. When nova's
API is reachable its hypervisor list names the compute nodes exactly,
gives the service host of each and its state, and resolves aggregates by
name; without nova, the compute nodes are the providers that carry nova's
``COMPUTE_NODE`` trait or any trait of ours, and aggregates are Placement
aggregate UUIDs.

The fleet is read the way the scheduler reads it,
:func:`migcompat_filter.placement.grouping.read`: hosts grouped by profile
digest in 2 + 2 x profiles requests, one decoded profile per group shared by
its hosts. Only the hosts that carry traits of ours but no valid digest
(``Grouping.loose``) and the hosts a command needs on their own (``host show``,
a ``check``'s source) are read one by one, classified with
:func:`migcompat_filter.placement.hoststate.classify` as the filter does.
"""

import concurrent.futures
import threading

from migcompat_filter.exception import InputError
from migcompat_filter import fleet
from migcompat_filter.fleet import nova_api
from migcompat_filter.placement import client as placement
from migcompat_filter.placement import grouping
from migcompat_filter.placement import hoststate
from migcompat_filter.placement import store
from migcompat_filter.profile import Profile
from migcompat_filter.traits import codec as traits_codec

#: The trait nova-compute puts on every compute node provider.
COMPUTE_NODE_TRAIT = 'COMPUTE_NODE'
DEFAULT_WORKERS = 8
#: A compute node of nova that Placement lists nowhere.
NO_PROVIDER = ('no resource provider %s in Placement with nova\'s '
               'COMPUTE_NODE trait or migcompat traits')


#: Factors published as one trait per list item (hundreds in schema 2):
#: their names are left out of the dating of a host's last change.
_LIST_FACTORS = ('cpu_features', 'host_model', 'usable_models',
                 'running_guests')


def _dating_names(ours):
    """The trait names whose creation times date a host's last change:
    all of ours but the per-item names of list factors, so that one
    request answers (a subset keeps the lower bound a lower bound; a new
    microcode, kernel, version or feature set still brings a name of its
    own outside those lists).
    """
    if len(ours) <= 60:
        return ours
    return [name for name, factor, _value in traits_codec.describe(ours)
            if factor not in _LIST_FACTORS]


def _iso(stamp):
    """ISO 8601 UTC text of a datetime, or None."""
    return stamp.strftime('%Y-%m-%dT%H:%M:%SZ') if stamp else None


class Host(object):
    """One compute node: provider, traits, their reading, nova's view."""

    def __init__(self, name, uuid, hypervisor=None):
        self.name = name
        self.uuid = uuid
        #: nova's hypervisor record when nova answered, else None.
        self.hypervisor = hypervisor
        self.traits = set()
        self.generation = None
        self.classify()
        #: When Placement last changed the provider (any writer); the
        #: reporter's last change of our traits is at or before it.
        self.updated = None
        #: When the newest of this host's trait names of ours was first
        #: created in Placement; the reporter's last change is at or
        #: after it.
        self.traits_created = None
        #: host list: the newest change of any host of this host's
        #: profile group (its listing's Last-Modified), so the last change
        #: of this host's traits is at or before it.
        self.group_updated = None
        #: Why Placement could not be read for this host, or None.
        self.error = None
        #: A schema-3 host's note record ({} when none).
        self.note = {}

    def classify(self, records=None):
        """Read self.traits (schema 3 with records, the migcompat
        store's): state, profile key, problems, profile and note.
        """
        read = hoststate.classify(self.traits, records, self.name)
        self.note = read.note
        self.state = read.state
        self.key = read.key
        self.problems = read.problems
        self.reason = read.reason
        if read.profile is not None:
            self.profile = read.profile
        else:
            # What undecodable traits still say (each factor unknown, with
            # why), so that "host show" lists them.
            self.profile = (traits_codec.decode(self.ours) if self.ours
                            else Profile({}))

    def adopt(self, hp):
        """Take a profile group's HostProfile (decoded once, shared by
        every host of the group; its per-host factors are blank).
        """
        self.state = hp.state
        self.key = hp.key
        self.problems = hp.problems
        self.reason = hp.reason
        if hp.state != hoststate.TRAITED and hp.reason:
            self.reason = 'provider %s: %s' % (self.name, hp.reason)
        self.profile = hp.profile
        self.note = hp.note

    def fail(self, error):
        """Placement failed while reading this host: it is not judged."""
        self.error = error
        self.state = hoststate.UNJUDGED

    @property
    def ours(self):
        return hoststate.ours(self.traits)

    @property
    def service_host(self):
        if self.hypervisor:
            return (self.hypervisor.get('service') or {}).get('host')
        return None

    @property
    def status(self):
        """One line: how far this host's traits can be read."""
        if self.error:
            return 'error: %s' % self.error
        if self.state == hoststate.UNTRAITED:
            return 'no migcompat traits'
        if self.state in (hoststate.NEWER_SCHEMA, hoststate.UNREADABLE):
            return 'unreadable: %s' % (self.problems[0] if self.problems
                                       else self.reason)
        if self.problems:
            return '%d bad trait(s)' % len(self.problems)
        return 'reported'

    def nova_refusal(self):
        """Why nova itself would not schedule to this host, or None."""
        hyp = self.hypervisor
        if not hyp:
            return None
        if hyp.get('state') not in (None, 'up'):
            return 'nova-compute service is %s' % hyp.get('state')
        if hyp.get('status') not in (None, 'enabled'):
            why = (hyp.get('service') or {}).get('disabled_reason')
            return 'nova-compute service is %s%s' % (
                hyp.get('status'), ' (%s)' % why if why else '')
        return None

    def names(self):
        return {n for n in (self.name, self.uuid, self.service_host) if n}

    def __repr__(self):
        return 'Host(%s, %s, %s)' % (self.name, self.uuid, self.state)


def unjudged_sources(hosts):
    """{state: count} of the hosts a live migration *from* which the
    scheduler cannot judge (no, unreadable or newer-schema traits, or
    Placement failed): the filter's untraited_source_action,
    newer_schema_action or placement_error_action decide for them.
    """
    counts = {}
    for host in hosts:
        if host.state != hoststate.TRAITED:
            counts[host.state] = counts.get(host.state, 0) + 1
    return counts


class Fleet(object):
    """Compute nodes from Placement (and nova, when reachable)."""

    def __init__(self, placement_client, nova=None, workers=DEFAULT_WORKERS,
                 progress=None):
        self.placement = placement_client
        self.nova = nova
        #: Why nova is not used (shown to the user), or None.
        self.nova_error = None if nova else 'no compute endpoint configured'
        #: nova was configured but could not be used (worth saying).
        self.nova_failed = False
        self.workers = max(1, int(workers))
        #: progress(done, total, what) or None.
        self.progress = progress
        #: The last grouping.Grouping read (load), or None.
        self.grouping = None
        # digest -> HostProfile: a digest names its content, so a profile
        # decoded once is never read again.
        self._known = {}
        self._hyps = None
        self._ours = None
        #: The migcompat store's records read last (schema 3).
        self._records = {}

    # -- nova -------------------------------------------------------------

    def _hypervisors(self):
        """nova's hypervisor list (read once), or None without nova."""
        if self._hyps is not None:
            return self._hyps
        if self.nova is None:
            return None
        try:
            self._hyps = self.nova.hypervisors()
            return self._hyps
        except nova_api.NovaError as e:
            self.nova_error = str(e)
            self.nova_failed = True
            self.nova = None
            return None

    def _nova_aggregates(self):
        if self.nova is None:
            return None
        try:
            return self.nova.aggregates()
        except nova_api.NovaError as e:
            self.nova_error = str(e)
            return None

    def _aggregate(self, name):
        """(Placement aggregate UUID, None) or (None, nova service hosts)
        of an aggregate.
        """
        aggs = self._nova_aggregates()
        if aggs is not None:
            for agg in aggs:
                if name in (agg.get('name'), str(agg.get('id')),
                            agg.get('uuid')):
                    return None, set(agg.get('hosts') or ())
            if not placement.is_uuid(name):
                raise fleet.NotFound(
                    'no nova host aggregate named %r (known: %s)'
                    % (name, ', '.join(sorted(
                        a.get('name') or str(a.get('id'))
                        for a in aggs)) or 'none'))
        if not placement.is_uuid(name):
            raise fleet.NotFound(
                'aggregate %r: without nova\'s API only a Placement '
                'aggregate UUID can be given (%s)'
                % (name, self.nova_error or 'nova not configured'))
        return name, None

    # -- the whole fleet, by profile group --------------------------------

    def read_grouping(self):
        """(grouping.Grouping, {listing URL: Last-Modified}) of the fleet:
        2 + 2 x new profiles requests (PlacementError on a failure).
        """
        stamps = {}

        def get(url, version):
            body, stamps[url] = self.placement.get_dated_json(
                url, 'read the fleet\'s profile groups (GET %s)'
                % url[:120], version)
            if url.startswith('/traits?'):
                # Every trait of ours in use: its schema traits tell the
                # compute nodes without traits of ours (_untraited).
                self._ours = body.get('traits')
            return body

        def progress(done, total):
            if self.progress:
                self.progress(done, total, 'profile groups')
        try:
            found = grouping.read(get, known=self._known, progress=progress)
        except grouping.PartialRead as e:
            if isinstance(e.error, placement.PlacementError):
                raise e.error from None
            raise placement.PlacementError(
                'read the fleet\'s profile groups: %s' % e.error) from None
        self.grouping = found
        self._records = found.records
        self._known.update((d, hp) for d, hp in found.profiles.items()
                           if hp.state == hoststate.TRAITED)
        return found, stamps

    def load(self, aggregate=None, names=None, timestamps=False):
        """The compute nodes with their profiles, sorted by name.

        names: only these hosts (name, service host or UUID), each read
        on its own (NotFound for a name that is none). Otherwise the
        fleet is read by profile group plus, unless nova lists the compute
        nodes, one listing of those without traits of ours
        (``?required=COMPUTE_NODE,!<schema traits>``; for an aggregate its
        members with COMPUTE_NODE, ``member_of=``): requests <= 3 + 2 x
        profiles + 2 per loose host.
        timestamps: each grouped host's group_updated (from the group
        listing, no extra request).
        """
        if names:
            return [self.host(n, timestamps=timestamps) for n in names]
        hypervisors = self._hypervisors()
        member_of = service_hosts = None
        if aggregate:
            member_of, service_hosts = self._aggregate(aggregate)
        found, stamps = self.read_grouping()
        listed = None
        if member_of:
            listed = {rp['uuid']: rp['name'] for rp in
                      self.placement.list_providers(
                          member_of=member_of, required=COMPUTE_NODE_TRAIT)}
        elif hypervisors is None:
            # nova names its compute nodes; else the groups and this.
            listed = self._untraited()
        if hypervisors is not None:
            hosts = [Host(h['hypervisor_hostname'], h['id'], hypervisor=h)
                     for h in hypervisors]
            if service_hosts is not None:
                hosts = [h for h in hosts if h.service_host in service_hosts]
            elif member_of:
                hosts = [h for h in hosts if h.uuid in listed]
        else:
            uuids = set(listed)
            if member_of is None:
                uuids |= found.traited
            hosts = [Host(listed.get(u) or found.names.get(u) or u, u)
                     for u in uuids]
        self._judge(hosts, found, listed, stamps if timestamps else None)
        self._read_notes(hosts, found)
        return sorted(hosts, key=lambda h: (h.name, h.uuid))

    def _read_notes(self, hosts, found):
        """Each grouped schema-3 host's own note (grouping.notes): its
        group's profile is shared, its note is not.
        """
        grouped = {h.uuid: h for h in hosts
                   if h.uuid in found.host_key and h.error is None}
        if not grouped:
            return

        def get(url, version):
            return self.placement.get_json(
                url, 'read the hosts\' notes (GET %s)' % url[:120], version)
        for uuid, note in grouping.notes(get, self._ours,
                                         self._records).items():
            if uuid in grouped:
                grouped[uuid].note = note

    def _untraited(self):
        """{uuid: name} of the providers with COMPUTE_NODE and no schema
        trait of ours: the compute nodes no group lists, in one listing
        of just them (not of every compute node).
        """
        schemas = sorted(t for t in self._ours or ()
                         if isinstance(t, str) and
                         t.startswith(grouping.SCHEMA_PREFIX))
        required = ','.join([COMPUTE_NODE_TRAIT] +
                            ['!' + t for t in schemas])
        return {rp['uuid']: rp['name'] for rp in
                self.placement.list_providers(required=required)}

    def _judge(self, hosts, found, listed, stamps):
        """Give each host its group's profile; read the loose ones."""
        loose = []
        for host in hosts:
            digest = found.host_key.get(host.uuid)
            if digest is not None:
                host.adopt(found.profiles[digest])
                if stamps is not None:
                    host.group_updated = _iso(stamps.get(
                        grouping.members_url([digest])[0]))
            elif host.uuid in found.loose:
                loose.append(host)
            elif (listed is not None and host.uuid not in listed and
                  host.uuid not in found.traited):
                host.fail(NO_PROVIDER % host.uuid)
            # else: a compute node without traits of ours (untraited; with
            # nova, one whose provider is missing too: no scheduler picks
            # it either).
        self._read_all(loose)

    def _read_all(self, hosts):
        total = len(hosts)
        done = [0]
        lock = threading.Lock()

        def read(host):
            self._read(host, timestamps=False)
            if host.name == host.uuid and not host.error:
                self._name(host)
            with lock:
                done[0] += 1
                if self.progress:
                    self.progress(done[0], total, 'hosts one by one')

        if total:
            with concurrent.futures.ThreadPoolExecutor(
                    min(self.workers, total)) as pool:
                list(pool.map(read, hosts))

    def _name(self, host):
        # A loose host without COMPUTE_NODE is in no listing with names.
        try:
            host.name = self.placement.find_provider(host.uuid)['name']
        except placement.PlacementError:
            pass

    # -- one host ---------------------------------------------------------

    def _read(self, host, timestamps, updated=None):
        """Read host's own traits (and, with timestamps, when they
        changed); a failure marks the host unjudged.
        """
        try:
            names, host.generation = self.placement.get_traits(
                host.uuid, label=host.name)
            host.traits = set(names)
            if timestamps:
                host.traits_created = _iso(self.placement.traits_created(
                    _dating_names(host.ours), label=host.name))
                host.updated = _iso(updated or self.placement.provider_updated(
                    host.uuid, label=host.name))
            records = self._records
            if not store.schema3.referenced(host.traits).issubset(records):
                records = self._records = store.read(
                    store.client_get(self.placement)).records
        except placement.ProviderNotFound:
            host.fail('no resource provider %s in Placement' % host.uuid)
        except (placement.PlacementError, store.BadStore) as e:
            host.fail(str(e))
        else:
            host.classify(records)
        return host

    def read_own(self, host):
        """Re-read one host from its own traits: its per-host factors (the
        running guests), which a profile group leaves blank.
        """
        return self._read(host, timestamps=False)

    def host(self, name, timestamps=True):
        """One compute node read on its own (never the fleet): nova's
        hypervisor list or Placement's provider of that name or UUID, its
        traits and, with timestamps, when they changed.
        """
        hypervisors = self._hypervisors()
        if hypervisors is not None:
            host = self._pick([Host(h['hypervisor_hostname'], h['id'],
                                    hypervisor=h) for h in hypervisors], name)
            return self._read(host, timestamps)
        try:
            rp, stamp = self.placement.find_provider(name, dated=True)
        except placement.ProviderNotFound:
            raise fleet.NotFound('no compute node named %r%s' % (
                name, ' (nova: %s)' % self.nova_error
                if self.nova_failed else '')) from None
        return self._read(Host(rp['name'], rp['uuid']), timestamps,
                          updated=stamp)

    def _pick(self, hosts, name):
        found = [h for h in hosts if name in h.names()]
        if not found:
            raise fleet.NotFound('no compute node named %r' % name)
        if len(found) > 1:
            raise fleet.NotFound('%r names %d compute nodes (%s); give the '
                                 'node name or UUID'
                                 % (name, len(found),
                                    ', '.join(h.name for h in found)))
        return found[0]

    def server_host(self, server_name):
        """(server dict, name of the compute node it runs on); needs nova's
        API.
        """
        if self.nova is None:
            raise InputError('finding server %r needs nova\'s API (%s)'
                             % (server_name, self.nova_error))
        server = self.nova.server(server_name)
        node = server.get('OS-EXT-SRV-ATTR:hypervisor_hostname')
        if not node:
            raise fleet.NotFound(
                'server %s (%s) is on no compute node (status %s; admin '
                'credentials are needed to see hosts)'
                % (server.get('name'), server['id'], server.get('status')))
        return server, node
