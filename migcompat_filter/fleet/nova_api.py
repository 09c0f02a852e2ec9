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

"""The few nova API calls the fleet commands make (admin credentials).

nova names the compute nodes exactly (its hypervisor list), gives the
service host and state of each, finds servers and resolves aggregates by
name. Everything but :meth:`NovaClient.live_migrate` (``migcompat host drain
--execute``) is read-only.
"""

import re
from urllib.parse import quote

from keystoneauth1 import adapter as ks_adapter
from keystoneauth1 import exceptions as ks_exc
from keystoneauth1 import session as ks_session
from keystoneauth1 import token_endpoint

from migcompat_filter import fleet
from migcompat_filter.placement import client as placement

#: nova API microversion: 2.53 makes a hypervisor's id the compute node
#: UUID (= its resource provider UUID).
COMPUTE_MICROVERSION = '2.53'
SERVICE_TYPE = 'compute'

#: Migrations with their UUID and paging; instance action events with
#: their details.
MIGRATION_UUID_MICROVERSION = '2.59'
EVENT_DETAILS_MICROVERSION = '2.84'

#: Migration statuses after which nova does nothing more with it.
MIGRATION_DONE = frozenset(['completed'])
MIGRATION_FAILED = frozenset(['error', 'failed', 'cancelled'])


class NovaError(placement.PlacementError):
    """nova's API could not be reached or refused a request."""


class NovaClient(object):
    """The few nova API calls the fleet needs; counts its HTTP requests."""

    def __init__(self, adapter):
        self.adapter = adapter
        self.requests = 0

    def _get(self, url, what, ok=(200,), microversion=None):
        return self._send('GET', url, what, ok, microversion=microversion)

    def _send(self, method, url, what, ok, body=None, microversion=None):
        """One request; NovaError naming what was tried for anything but
        a status in ok.
        """
        self.requests += 1
        extra = {'microversion': microversion} if microversion else {}
        try:
            resp = self.adapter.request(url, method, json=body,
                                        raise_exc=False, **extra)
        except ks_exc.EndpointNotFound as e:
            raise NovaError('%s: no compute endpoint in the service '
                            'catalog: %s' % (what, e))
        except ks_exc.ClientException as e:
            raise NovaError('%s: cannot reach nova: %s: %s'
                            % (what, type(e).__name__, e))
        if resp.status_code not in ok:
            raise NovaError('%s: nova answered HTTP %d: %s'
                            % (what, resp.status_code,
                               ' '.join(resp.text.split())[:300]))
        return resp

    def _paged(self, url, key, what, microversion=None):
        out = []
        while url:
            body = self._get(url, what, microversion=microversion).json()
            out.extend(body.get(key) or [])
            url = None
            for link in body.get(key + '_links') or ():
                if link.get('rel') == 'next':
                    url = link['href']
        return out

    def hypervisors(self):
        """[{id (compute node UUID), hypervisor_hostname, state, status,
        service: {host, disabled_reason}}].
        """
        return self._paged('/os-hypervisors/detail', 'hypervisors',
                           'list hypervisors')

    def aggregates(self):
        return self._get('/os-aggregates', 'list aggregates').json()[
            'aggregates']

    def server(self, name_or_id):
        """One server (admin view), by UUID or exact name."""
        if placement.is_uuid(name_or_id):
            resp = self._get('/servers/%s' % _part(name_or_id),
                             'look up server %s' % name_or_id,
                             ok=(200, 404))
            if resp.status_code == 200:
                return resp.json()['server']
        # nova's name filter is a regular expression: anchor and escape it.
        servers = self._get(
            '/servers/detail?all_tenants=1&name=%s'
            % quote('^%s$' % re.escape(name_or_id), safe=''),
            'look up server %s' % name_or_id).json()['servers']
        servers = [s for s in servers if s.get('name') == name_or_id]
        if not servers:
            raise fleet.NotFound('no server named or with ID %r (nova '
                                 'searched all projects)' % name_or_id)
        if len(servers) > 1:
            raise fleet.NotFound('%d servers are named %r; give its ID: %s'
                                 % (len(servers), name_or_id,
                                    ', '.join(s['id'] for s in servers)))
        return servers[0]

    # -- drain: servers of a host, live migrations, their progress -------
    # The live migration never forces a host (no ``force`` is sent): nova's
    # scheduler still runs its filters, ours included, on a requested host.
    def _post(self, url, body, what, ok=(202,)):
        return self._send('POST', url, what, ok, body=body)

    def servers_on(self, service_host, node=None):
        """The servers on a compute service host (all projects), by name;
        with node, only those nova places on that compute node.
        """
        servers = self._paged(
            '/servers/detail?all_tenants=1&host=%s'
            % quote(service_host, safe=''),
            'servers', 'list the servers of host %s' % service_host)
        if node:
            servers = [s for s in servers if s.get(
                'OS-EXT-SRV-ATTR:hypervisor_hostname') in (None, node)]
        return sorted(servers, key=lambda s: (s.get('name') or '', s['id']))

    def server_by_id(self, server_id):
        return self._get('/servers/%s' % _part(server_id),
                         'look up server %s' % server_id).json()['server']

    def live_migrate(self, server_id, host=None):
        """Ask nova to live-migrate a server (to host when given; nova's
        scheduler still checks that host).
        """
        body = {'os-migrateLive': {'host': host, 'block_migration': 'auto'}}
        self._post('/servers/%s/action' % _part(server_id), body,
                   'live-migrate server %s%s'
                   % (server_id, ' to %s' % host if host else ''))

    def live_migrations(self, server_id):
        """The server's live migrations, oldest first."""
        migs = self._get(
            '/os-migrations?instance_uuid=%s&migration_type=live-migration'
            % _part(server_id), 'list the migrations of server %s' % server_id
        ).json().get('migrations') or []
        return sorted((m for m in migs if m.get('migration_type') in
                       (None, 'live-migration') and m.get(
                           'instance_uuid', server_id) == server_id),
                      key=lambda m: m.get('id') or 0)

    # -- migration explain: nova's record of a failed migration ----------
    def all_live_migrations(self):
        """Every live migration nova lists (2.59: with its UUID, paged)."""
        return self._paged('/os-migrations?migration_type=live-migration',
                           'migrations', 'list live migrations',
                           microversion=MIGRATION_UUID_MICROVERSION)

    def server_live_migrations(self, server_id):
        """The server's live migrations with their UUIDs, oldest first."""
        migs = self._paged(
            '/os-migrations?migration_type=live-migration&instance_uuid=%s'
            % _part(server_id),
            'migrations', 'list the migrations of server %s' % server_id,
            microversion=MIGRATION_UUID_MICROVERSION)
        return sorted((m for m in migs
                       if m.get('instance_uuid') == server_id),
                      key=lambda m: m.get('id') or 0)

    def instance_actions(self, server_id):
        return self._paged('/servers/%s/os-instance-actions'
                           % _part(server_id),
                           'instanceActions', 'list the actions of server '
                           '%s' % server_id,
                           microversion=EVENT_DETAILS_MICROVERSION)

    def instance_action(self, server_id, request_id):
        """One instance action with its events (2.84: their details; the
        traceback for admins).
        """
        return self._get('/servers/%s/os-instance-actions/%s'
                         % (_part(server_id), _part(request_id)),
                         'show action %s of server %s' % (request_id,
                                                          server_id),
                         microversion=EVENT_DETAILS_MICROVERSION
                         ).json()['instanceAction']

    # -- the compute service of a host: disabled during a drain ----------
    def compute_service(self, service_host):
        """nova's nova-compute service record of a host ({id, status,
        disabled_reason, ...}); NovaError when there is not exactly one.
        """
        services = self._get(
            '/os-services?binary=nova-compute&host=%s'
            % _part(service_host),
            'look up the compute service of %s' % service_host
        ).json().get('services') or []
        services = [s for s in services if s.get('host') == service_host]
        if len(services) != 1:
            raise NovaError('look up the compute service of %s: nova lists '
                            '%d' % (service_host, len(services)))
        return services[0]

    def set_service_disabled(self, service, disabled, reason=None):
        """Disable (with reason) or enable a compute service."""
        body = {'status': 'disabled' if disabled else 'enabled'}
        if disabled and reason:
            body['disabled_reason'] = reason
        self._send('PUT', '/os-services/%s' % _part(str(service['id'])),
                   '%s the compute service of %s'
                   % ('disable' if disabled else 'enable',
                      service.get('host')), (200,), body=body)


def _part(text):
    """text quoted as one URL path segment or query value."""
    return quote(str(text), safe='')


def adapter_from(placement_adapter):
    """A compute Adapter on the same session, interface and region."""
    return ks_adapter.Adapter(
        placement_adapter.session, service_type=SERVICE_TYPE,
        auth=placement_adapter.auth,
        interface=placement_adapter.interface,
        region_name=placement_adapter.region_name,
        default_microversion=COMPUTE_MICROVERSION)


def adapter_noauth(url, token='admin', timeout=30.0):
    """A compute Adapter for a fixed endpoint and token (tests)."""
    sess = ks_session.Session(auth=token_endpoint.Token(url, token),
                              timeout=timeout)
    return ks_adapter.Adapter(sess, service_type=SERVICE_TYPE,
                              endpoint_override=url,
                              default_microversion=COMPUTE_MICROVERSION)
