"""The compute nodes and what their Placement traits say.

Compute nodes are Placement's root resource providers (a compute node's
provider UUID is nova's compute node UUID). When nova's API is reachable
its hypervisor list names the compute nodes exactly, gives the service
host of each and its state, and resolves aggregates by name; without
nova, the compute nodes are the root providers that carry nova's
``COMPUTE_NODE`` trait or any trait of ours, and aggregates are Placement
aggregate UUIDs.

Each provider's traits are read with bounded parallelism through the
public :class:`~migcompat_filter.placement.PlacementClient` calls and
classified with :func:`migcompat_filter.hoststate.classify`, the one way
the scheduler filter reads a host too.
"""

import concurrent.futures
import threading

from migcompat_filter.exception import InputError
from migcompat_filter import fleet
from migcompat_filter.fleet import nova_api
from migcompat_filter import hoststate
from migcompat_filter import placement
from migcompat_filter.profile import Profile
from migcompat_filter import traits as traits_codec

#: The trait nova-compute puts on every compute node provider.
COMPUTE_NODE_TRAIT = 'COMPUTE_NODE'
DEFAULT_WORKERS = 8


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
        #: Why Placement could not be read for this host, or None.
        self.error = None

    def classify(self):
        """Read self.traits: state, profile key, problems and profile."""
        read = hoststate.classify(self.traits)
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
        self.progress = progress
        self._only_compute = False

    # -- listing --------------------------------------------------------

    def _hypervisors(self):
        if self.nova is None:
            return None
        try:
            return self.nova.hypervisors()
        except nova_api.NovaError as e:
            self.nova_error = str(e)
            self.nova_failed = True
            self.nova = None
            return None

    def compute_nodes(self, aggregate=None):
        """[Host] without traits read yet, sorted by name."""
        hypervisors = self._hypervisors()
        member_uuids = service_hosts = None
        if aggregate:
            member_uuids, service_hosts = self._aggregate(aggregate)
        if hypervisors is not None:
            hosts = [Host(h['hypervisor_hostname'], h['id'], hypervisor=h)
                     for h in hypervisors]
            if aggregate and service_hosts is not None:
                hosts = [h for h in hosts if h.service_host in service_hosts]
            elif aggregate:
                hosts = [h for h in hosts if h.uuid in member_uuids]
            self._only_compute = False
        else:
            hosts = [Host(rp['name'], rp['uuid'])
                     for rp in self.placement.list_root_providers()]
            if aggregate:
                hosts = [h for h in hosts if h.uuid in member_uuids]
            # Which roots are compute nodes is known once traits are read.
            self._only_compute = True
        return sorted(hosts, key=lambda h: (h.name, h.uuid))

    def _nova_aggregates(self):
        if self.nova is None:
            return None
        try:
            return self.nova.aggregates()
        except nova_api.NovaError as e:
            self.nova_error = str(e)
            return None

    def _aggregate(self, name):
        """(provider UUIDs, nova service hosts or None) of an aggregate."""
        aggs = self._nova_aggregates()
        if aggs is not None:
            for agg in aggs:
                if name in (agg.get('name'), str(agg.get('id')),
                            agg.get('uuid')):
                    return set(), set(agg.get('hosts') or ())
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
        roots = self.placement.list_root_providers(member_of=name)
        return {rp['uuid'] for rp in roots}, None

    # -- reading ----------------------------------------------------------

    def _read(self, host, timestamps):
        try:
            names, host.generation = self.placement.get_traits(
                host.uuid, label=host.name)
            host.traits = set(names)
            if timestamps:
                host.traits_created = _iso(self.placement.traits_created(
                    host.ours, label=host.name))
                host.updated = _iso(self.placement.provider_updated(
                    host.uuid, label=host.name))
        except placement.ProviderNotFound:
            host.fail('no resource provider %s in Placement' % host.uuid)
        except placement.PlacementError as e:
            host.fail(str(e))
        else:
            host.classify()
        return host

    def _read_all(self, hosts, timestamps):
        total = len(hosts)
        done = [0]
        lock = threading.Lock()

        def read(host):
            self._read(host, timestamps)
            with lock:
                done[0] += 1
                if self.progress:
                    self.progress(done[0], total)

        if total:
            with concurrent.futures.ThreadPoolExecutor(
                    min(self.workers, total)) as pool:
                list(pool.map(read, hosts))

    def load(self, aggregate=None, names=None, timestamps=False):
        """The compute nodes with traits and profiles, sorted by name.

        names: only these hosts (name, service host or UUID); NotFound
        for a name that is none of them.
        """
        hosts = self.compute_nodes(aggregate=aggregate)
        if names:
            hosts = [self._pick(hosts, n) for n in names]
        self._read_all(hosts, timestamps)
        if self._only_compute and not names:
            hosts = [h for h in hosts
                     if COMPUTE_NODE_TRAIT in h.traits or h.ours]
        return hosts

    def _pick(self, hosts, name):
        found = [h for h in hosts if name in h.names()]
        if not found:
            raise fleet.NotFound(
                'no compute node named %r%s' % (
                    name, ' (nova: %s)' % self.nova_error
                    if self.nova_error and self.nova is None else ''))
        if len(found) > 1:
            raise fleet.NotFound('%r names %d compute nodes (%s); give the '
                                 'node name or UUID'
                                 % (name, len(found),
                                    ', '.join(h.name for h in found)))
        return found[0]

    def host(self, name, timestamps=True):
        return self.load(names=[name], timestamps=timestamps)[0]

    def server_host(self, server_name):
        """(server dict, name of the compute node it runs on); needs nova's
        API."""
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
