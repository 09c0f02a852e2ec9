"""A small Placement client: what the trait reporter and the fleet
commands need.

It talks to Placement through a keystoneauth1 Adapter, authenticated in
one of three ways:

* nova-style ``[placement]`` options in a config file (nova.conf itself
  works): ``auth_type``, ``auth_url``, ``username``, ... plus the session
  and adapter options (``region_name``, ``valid_interfaces``, ``cafile``,
  ``timeout``, ...), loaded with ``keystoneauth1.loading`` exactly as nova
  loads them;
* a ``clouds.yaml`` cloud (``--os-cloud``), read with openstacksdk's
  ``openstack.config`` when it is installed;
* no auth (``--placement-url URL``): a fixed token ``admin``, for a
  placement running with ``[api] auth_strategy = noauth2`` (tests).

Every failure is a :class:`PlacementError` whose message says what was
tried and what went wrong (never a token or password); a provider that does
not exist is :class:`ProviderNotFound` (an input error, exit status 2).
"""

import re

from keystoneauth1 import adapter as ks_adapter
from keystoneauth1 import exceptions as ks_exc
from keystoneauth1 import loading as ks_loading
from keystoneauth1 import session as ks_session
from keystoneauth1 import token_endpoint

from migcompat_filter.exception import InputError

#: Highest microversion we need: 1.6 for traits, 1.39 is placement's max
#: that nova-integration.md relies on for queries.
MICROVERSION = '1.39'
SERVICE_TYPE = 'placement'
GROUP = 'placement'
DEFAULT_TIMEOUT = 30.0

_UUID_RE = re.compile(r'^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?'
                      r'[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$')


class PlacementError(Exception):
    """Placement could not be reached or refused a request."""


class Conflict(PlacementError):
    """A write raced another writer (HTTP 409); re-read and retry."""


class ProviderNotFound(PlacementError, InputError):
    """No resource provider has that name or UUID."""


def is_uuid(value):
    return bool(_UUID_RE.match(value or ''))


def register_placement_opts(conf):
    """Register nova's ``[placement]`` keystoneauth options on ``conf``."""
    ks_loading.register_session_conf_options(conf, GROUP)
    ks_loading.register_auth_conf_options(conf, GROUP)
    ks_loading.register_adapter_conf_options(conf, GROUP)


def adapter_from_conf(conf, timeout=DEFAULT_TIMEOUT):
    """A Placement Adapter from ``[placement]`` options (as nova does)."""
    group = conf[GROUP]
    try:
        auth = ks_loading.load_auth_from_conf_options(conf, GROUP)
    except ks_exc.ClientException as e:
        raise InputError('[placement] auth options are incomplete: %s' % e)
    if auth is None:
        raise InputError('[placement] auth_type is not set in the config '
                         'file(s); give nova.conf (or a file with nova\'s '
                         '[placement] section) with --config-file, or use '
                         '--os-cloud or --placement-url')
    sess = ks_loading.load_session_from_conf_options(conf, GROUP, auth=auth)
    if group.timeout is None:
        sess.timeout = timeout
    kwargs = {'session': sess, 'auth': auth,
              'service_type': group.service_type or SERVICE_TYPE,
              'default_microversion': MICROVERSION}
    if not group.valid_interfaces:
        kwargs['interface'] = ['internal', 'public']
    return ks_loading.load_adapter_from_conf_options(conf, GROUP, **kwargs)


def adapter_from_cloud(cloud, timeout=DEFAULT_TIMEOUT):
    """A Placement Adapter for a ``clouds.yaml`` cloud."""
    try:
        from openstack import config as os_config
    except ImportError:
        raise InputError('--os-cloud needs openstacksdk\'s clouds.yaml '
                         'loader (pip install openstacksdk), or use '
                         '--config-file with [placement] options')
    try:
        region = os_config.OpenStackConfig().get_one(cloud=cloud)
        sess = region.get_session()
    except Exception as e:  # openstack.exceptions.ConfigException & co.
        raise InputError('clouds.yaml cloud %r cannot be used: %s'
                         % (cloud, e))
    if sess.timeout is None:
        sess.timeout = timeout
    return ks_adapter.Adapter(
        sess, service_type=SERVICE_TYPE,
        interface=region.get_interface(SERVICE_TYPE),
        region_name=region.get_region_name(SERVICE_TYPE),
        endpoint_override=region.get_endpoint(SERVICE_TYPE),
        default_microversion=MICROVERSION)


def adapter_noauth(url, token='admin', timeout=DEFAULT_TIMEOUT):
    """An Adapter for a placement with ``auth_strategy = noauth2``."""
    auth = token_endpoint.Token(url, token)
    sess = ks_session.Session(auth=auth, timeout=timeout)
    return ks_adapter.Adapter(sess, service_type=SERVICE_TYPE,
                              endpoint_override=url,
                              default_microversion=MICROVERSION)


def _error_text(resp):
    try:
        errors = resp.json().get('errors') or []
        text = '; '.join(e.get('detail') or e.get('title') or ''
                         for e in errors)
    except ValueError:
        text = resp.text
    # Placement details repeat the status line; keep one short line.
    text = ' '.join((text or '').split())
    return text[:300] or resp.reason or ''


class PlacementClient(object):
    """Placement calls the reporter and the fleet make; counts its HTTP
    requests. Nothing outside this class sends a request itself."""

    def __init__(self, adapter):
        self.adapter = adapter
        #: HTTP requests sent (the benchmark and tests read it).
        self.requests = 0

    def _request(self, method, url, what, json=None, ok=(200,)):
        self.requests += 1
        try:
            resp = self.adapter.request(url, method, json=json,
                                        raise_exc=False)
        except ks_exc.ConnectTimeout as e:
            raise PlacementError('%s: placement did not answer in time: %s'
                                 % (what, e))
        except ks_exc.ConnectionError as e:
            raise PlacementError('%s: cannot connect to placement: %s'
                                 % (what, e))
        except (ks_exc.Unauthorized, ks_exc.AuthorizationFailure) as e:
            raise PlacementError('%s: authentication failed (check the '
                                 'credentials of [placement] or the cloud): '
                                 '%s' % (what, e))
        except ks_exc.EndpointNotFound as e:
            raise PlacementError('%s: no placement endpoint in the service '
                                 'catalog: %s' % (what, e))
        except ks_exc.ClientException as e:
            raise PlacementError('%s: %s: %s' % (what, type(e).__name__, e))
        if resp.status_code in ok:
            return resp
        detail = _error_text(resp)
        if resp.status_code == 409:
            raise Conflict('%s: conflict: %s' % (what, detail))
        if resp.status_code in (401, 403):
            raise PlacementError('%s: placement refused the credentials '
                                 '(HTTP %d): %s'
                                 % (what, resp.status_code, detail))
        if resp.status_code >= 500:
            raise PlacementError('%s: placement failed (HTTP %d): %s'
                                 % (what, resp.status_code, detail))
        raise PlacementError('%s: placement answered HTTP %d: %s'
                             % (what, resp.status_code, detail))

    def list_providers(self, name=None, member_of=None):
        """Provider dicts, optionally by exact name or aggregate UUID."""
        url = '/resource_providers'
        if name is not None:
            url += '?name=' + _quote(name)
        elif member_of is not None:
            url += '?member_of=' + member_of
        resp = self._request('GET', url, 'list resource providers')
        return resp.json()['resource_providers']

    def list_root_providers(self, member_of=None):
        """The providers that are the root of their tree (compute nodes,
        shared storage, ...)."""
        return [rp for rp in self.list_providers(member_of=member_of)
                if rp.get('root_provider_uuid', rp['uuid']) == rp['uuid']]

    def find_provider(self, name_or_uuid):
        """The provider dict (uuid, name, generation) for a UUID or name."""
        if is_uuid(name_or_uuid):
            resp = self._request(
                'GET', '/resource_providers/%s' % name_or_uuid,
                'look up resource provider %s' % name_or_uuid,
                ok=(200, 404))
            if resp.status_code == 200:
                return resp.json()
        found = self.list_providers(name=name_or_uuid)
        if not found:
            raise ProviderNotFound(
                'no resource provider named %r in placement (is '
                'nova-compute running on this host, and is the name nova\'s '
                'hypervisor hostname? give it with --provider)'
                % name_or_uuid)
        return found[0]

    def get_traits(self, rp_uuid, label=None):
        """(set of trait names, provider generation).

        label names the provider in error messages (default: its UUID).
        """
        resp = self._request(
            'GET', '/resource_providers/%s/traits' % rp_uuid,
            'read traits of %s' % (label or 'resource provider %s'
                                   % rp_uuid), ok=(200, 404))
        if resp.status_code == 404:
            raise ProviderNotFound('resource provider %s does not exist'
                                   % rp_uuid)
        body = resp.json()
        return set(body['traits']), body['resource_provider_generation']

    def put_traits(self, rp_uuid, traits, generation):
        """Replace the provider's traits; the new generation. Conflict on
        a stale generation."""
        resp = self._request(
            'PUT', '/resource_providers/%s/traits' % rp_uuid,
            'write traits of resource provider %s' % rp_uuid,
            json={'traits': sorted(traits),
                  'resource_provider_generation': generation},
            ok=(200, 404))
        if resp.status_code == 404:
            raise ProviderNotFound('resource provider %s does not exist'
                                   % rp_uuid)
        return resp.json()['resource_provider_generation']

    def create_trait(self, name):
        """Create a custom trait name; True when it was new."""
        resp = self._request('PUT', '/traits/%s' % name,
                             'create trait %s' % name, ok=(201, 204))
        return resp.status_code == 201

    def provider_updated(self, rp_uuid, label=None):
        """When Placement last changed the provider (any writer): its
        Last-Modified as a UTC datetime, or None."""
        resp = self._request(
            'GET', '/resource_providers/%s' % rp_uuid,
            'read resource provider %s' % (label or rp_uuid), ok=(200, 404))
        return parse_http_date(resp.headers.get('Last-Modified'))

    def traits_created(self, names, label=None):
        """When the newest of these trait names was created (UTC datetime),
        or None.

        Placement's Last-Modified on a trait list is the newest creation
        time of the names listed.
        """
        what = 'read trait names' + (' of %s' % label if label else '')
        newest = None
        for batch in _batches(names):
            resp = self._request('GET', '/traits?name=in:%s'
                                 % ','.join(batch), what)
            stamp = parse_http_date(resp.headers.get('Last-Modified'))
            if stamp and (newest is None or stamp > newest):
                newest = stamp
        return newest


def parse_http_date(value):
    """A datetime from an HTTP date header value, or None."""
    import email.utils
    if not value:
        return None
    try:
        return email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None


def _batches(names, limit=1500):
    """names in lists whose comma-joined length stays under limit (servers
    limit the request line to 4 KiB)."""
    batch = []
    for name in names:
        if batch and sum(len(n) + 1 for n in batch) + len(name) >= limit:
            yield batch
            batch = []
        batch.append(name)
    if batch:
        yield batch


def _quote(value):
    from urllib.parse import quote
    return quote(value, safe='')
