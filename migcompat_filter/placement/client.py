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
tried and what went wrong (never a token or password: the userinfo of any
URL in it is stripped, :func:`redact`); a provider that does not exist is
:class:`ProviderNotFound` (an input error, exit status 2). A 200 answer
whose body is not the JSON the caller reads (not JSON, ``{}``, a list, a
truncated body) is a PlacementError too, naming the request.

A client may be given an overall ``deadline`` (:class:`PlacementClient`):
every request's timeout is then capped at the time left, and a request
after it fails with :class:`DeadlineExceeded` without being sent.
"""

import re
import time

from keystoneauth1 import exceptions as ks_exc

from migcompat_filter.exception import InputError
from migcompat_filter.placement import grouping

# The Adapter builders and constants, here too (placement_auth.py).
from migcompat_filter.placement.auth import adapter_from_cloud  # noqa
from migcompat_filter.placement.auth import adapter_from_conf  # noqa
from migcompat_filter.placement.auth import adapter_noauth  # noqa
from migcompat_filter.placement.auth import DEFAULT_TIMEOUT  # noqa
from migcompat_filter.placement.auth import GROUP  # noqa
from migcompat_filter.placement.auth import MICROVERSION  # noqa
from migcompat_filter.placement.auth import redact
from migcompat_filter.placement.auth import register_placement_opts  # noqa
from migcompat_filter.placement.auth import SERVICE_TYPE  # noqa

_UUID_RE = re.compile(r'^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?'
                      r'[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$')


class PlacementError(Exception):
    """Placement could not be reached or refused a request."""


class Conflict(PlacementError):
    """A write raced another writer (HTTP 409); re-read and retry."""


class NoSuchTrait(PlacementError):
    """A provider write named a trait Placement does not know (HTTP 400
    "No such trait"): deleted since it was created (``trait prune``).
    """


class ProviderNotFound(PlacementError, InputError):
    """No resource provider has that name or UUID."""


class DeadlineExceeded(PlacementError):
    """The client's overall deadline ran out; the request was not sent."""


def is_uuid(value):
    return bool(_UUID_RE.match(value or ''))


def _transport_error(what, e):
    """The message for a request that got no HTTP answer."""
    if isinstance(e, ks_exc.ConnectTimeout):
        return '%s: placement did not answer in time: %s' % (what, e)
    if isinstance(e, ks_exc.ConnectionError):
        # keystoneauth connects to keystone first: name the one that is
        # down (its token URL ends in /auth/tokens or /tokens).
        service = ('keystone (the identity service of auth_url)'
                   if re.search(r'/(auth/)?tokens\b', str(e)) else
                   'placement')
        return '%s: cannot connect to %s: %s' % (what, service, e)
    if isinstance(e, (ks_exc.Unauthorized, ks_exc.AuthorizationFailure)):
        return ('%s: authentication failed (check the credentials of '
                '[placement] or the cloud): %s' % (what, e))
    if isinstance(e, ks_exc.EndpointNotFound):
        return ('%s: no placement endpoint in the service catalog: %s'
                % (what, e))
    return '%s: %s: %s' % (what, type(e).__name__, e)


#: The message of a 200 answer that is not the JSON expected.
BAD_BODY = 'placement answered HTTP %d with a body that is not the ' \
    'expected JSON'


def _body(resp, what, key=None, kind=dict):
    """resp's JSON body (or its body[key]), checked to be a kind.

    Anything else (not JSON, a truncated body, another shape) is a
    PlacementError naming the request, never a parser's bare message.
    """
    try:
        body = resp.json()
    except Exception:  # ValueError, RecursionError, ...
        body = None
    if key is not None:
        body = body.get(key) if isinstance(body, dict) else None
    if not isinstance(body, kind):
        raise PlacementError('%s: %s%s' % (
            what, BAD_BODY % resp.status_code,
            ' (no %r %s)' % (key, kind.__name__) if key else ''))
    return body


def _providers_of(body, what):
    """body['resource_providers'], each a dict with a string uuid and name
    (what fleet/inventory.py reads).
    """
    rps = body.get('resource_providers')
    if not isinstance(rps, list):
        raise PlacementError("%s: %s (no 'resource_providers' list)"
                             % (what, BAD_BODY % 200))
    for rp in rps:
        if not (isinstance(rp, dict) and isinstance(rp.get('uuid'), str) and
                isinstance(rp.get('name'), str)):
            raise PlacementError('%s: %s (a resource provider without a '
                                 'uuid or name)' % (what, BAD_BODY % 200))
    return rps


def _generation(resp, what, key='resource_provider_generation'):
    """body[key], checked to be an integer generation."""
    gen = _body(resp, what).get(key)
    if not isinstance(gen, int) or isinstance(gen, bool):
        raise PlacementError('%s: %s (no integer %s)'
                             % (what, BAD_BODY % resp.status_code, key))
    return gen


def _error_text(resp):
    """A short line from an error answer (its JSON details, else text)."""
    try:
        body = resp.json()
        errors = body.get('errors') if isinstance(body, dict) else None
        text = '; '.join(str(e.get('detail') or e.get('title') or '')
                         for e in errors if isinstance(e, dict)) \
            if isinstance(errors, list) else resp.text
    except Exception:  # not JSON (ValueError), too deep, ...
        text = resp.text
    # Placement details repeat the status line; keep one short line.
    text = ' '.join((text or '').split())
    return text[:300] or resp.reason or ''


class PlacementClient(object):
    """Placement calls the reporter and the fleet make; counts its HTTP
    requests. Nothing outside this class sends a request itself.

    deadline, when given, is a :func:`time.monotonic` time by which the
    client's work must end (e.g. ``time.monotonic() + 60`` for one
    report): each request's timeout is capped at the time left, and once
    it has passed a request raises :class:`DeadlineExceeded` unsent. It
    may also be set later (:meth:`set_budget`, or the attribute).
    """

    def __init__(self, adapter, deadline=None, clock=time.monotonic):
        self.adapter = adapter
        #: HTTP requests sent (the benchmark and tests read it).
        self.requests = 0
        self.deadline = deadline
        self.clock = clock

    def set_budget(self, seconds):
        """Give the client seconds from now (None: no deadline)."""
        self.deadline = None if seconds is None else self.clock() + seconds

    def remaining(self):
        """Seconds left before the deadline (None: no deadline)."""
        if self.deadline is None:
            return None
        return self.deadline - self.clock()

    def _timeout_kwargs(self, what):
        left = self.remaining()
        if left is None:
            return {}
        if left <= 0:
            raise DeadlineExceeded('%s: not sent, the deadline for talking '
                                   'to placement has passed' % what)
        session_timeout = getattr(getattr(self.adapter, 'session', None),
                                  'timeout', None)
        if session_timeout is not None:
            left = min(left, session_timeout)
        return {'timeout': left}

    def _request(self, method, url, what, json=None, ok=(200,),
                 microversion=None):
        kwargs = self._timeout_kwargs(what)
        if microversion is not None:
            kwargs['microversion'] = microversion
        self.requests += 1
        try:
            resp = self.adapter.request(url, method, json=json,
                                        raise_exc=False, **kwargs)
        except ks_exc.ClientException as e:
            # The text of keystoneauth's exceptions quotes the URL, with
            # its userinfo: redact it, and do not chain the original.
            raise PlacementError(redact(_transport_error(what, e))) from None
        if resp.status_code in ok:
            return resp
        detail = redact(_error_text(resp))
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

    def get_dated_json(self, url, what, microversion=None):
        """(JSON body, Last-Modified as a UTC datetime or None) of a 200
        answer to GET url (a dict; PlacementError otherwise).

        A 400 answer to a ``required=`` query raises
        :class:`grouping.NoSuchTrait`: Placement refuses to filter by a
        trait nobody created, which means no provider carries it.
        """
        resp = self._request('GET', url, what, ok=(200, 400),
                             microversion=microversion)
        if resp.status_code == 400:
            detail = redact(_error_text(resp))
            if 'required=' in url:
                raise grouping.NoSuchTrait('%s: %s' % (what, detail))
            raise PlacementError('%s: placement answered HTTP 400: %s'
                                 % (what, detail))
        return (_body(resp, what),
                parse_http_date(resp.headers.get('Last-Modified')))

    def get_json(self, url, what, microversion=None):
        """The JSON body of GET url (see :meth:`get_dated_json`)."""
        return self.get_dated_json(url, what, microversion)[0]

    def list_providers(self, name=None, member_of=None, required=None,
                       dated=False):
        """Provider dicts, optionally by exact name, aggregate UUID and a
        required trait ([] when no provider has that trait); with dated,
        (providers, the listing's Last-Modified: the newest change of a
        provider listed).
        """
        query = []
        if name is not None:
            query.append('name=' + _quote(name))
        if member_of is not None:
            query.append('member_of=' + _quote(member_of))
        if required is not None:
            query.append('required=' + _quote(required))
        url = '/resource_providers' + ('?' + '&'.join(query) if query
                                       else '')
        what = 'list resource providers'
        try:
            body, stamp = self.get_dated_json(url, what)
        except grouping.NoSuchTrait:
            body, stamp = {'resource_providers': []}, None
        rps = _providers_of(body, what)
        return (rps, stamp) if dated else rps

    def find_provider(self, name_or_uuid, dated=False):
        """The provider dict (uuid, name, generation) for a UUID or name;
        with dated, (provider, its Last-Modified datetime or None).
        """
        if is_uuid(name_or_uuid):
            what = 'look up resource provider %s' % name_or_uuid
            resp = self._request(
                'GET', '/resource_providers/%s' % name_or_uuid, what,
                ok=(200, 404))
            if resp.status_code == 200:
                rp = _body(resp, what)
                _generation(resp, what, 'generation')
                if not isinstance(rp.get('uuid'), str):
                    raise PlacementError('%s: %s (no uuid)'
                                         % (what, BAD_BODY % 200))
                stamp = parse_http_date(resp.headers.get('Last-Modified'))
                return (rp, stamp) if dated else rp
        found, stamp = self.list_providers(name=name_or_uuid, dated=True)
        if not found:
            raise ProviderNotFound(
                'no resource provider named %r in placement (is '
                'nova-compute running on this host, and is the name nova\'s '
                'hypervisor hostname? give it with --provider)'
                % name_or_uuid)
        return (found[0], stamp) if dated else found[0]

    def get_traits(self, rp_uuid, label=None):
        """(set of trait names, provider generation).

        label names the provider in error messages (default: its UUID).
        """
        what = 'read traits of %s' % (label or 'resource provider %s'
                                      % rp_uuid)
        resp = self._request(
            'GET', '/resource_providers/%s/traits' % rp_uuid, what,
            ok=(200, 404))
        if resp.status_code == 404:
            raise ProviderNotFound('resource provider %s does not exist'
                                   % rp_uuid)
        names = _body(resp, what, 'traits', list)
        if not all(isinstance(n, str) for n in names):
            raise PlacementError('%s: %s (a trait that is not a string)'
                                 % (what, BAD_BODY % 200))
        return set(names), _generation(resp, what)

    def put_traits(self, rp_uuid, traits, generation):
        """Replace the provider's traits; the new generation. Conflict on
        a stale generation.
        """
        what = 'write traits of resource provider %s' % rp_uuid
        resp = self._request(
            'PUT', '/resource_providers/%s/traits' % rp_uuid, what,
            json={'traits': sorted(traits),
                  'resource_provider_generation': generation},
            ok=(200, 400, 404))
        if resp.status_code == 400:
            detail = ' '.join(resp.text.split())[:300]
            error = (NoSuchTrait if 'no such trait' in detail.lower()
                     else PlacementError)
            raise error('%s: placement answered HTTP 400: %s'
                        % (what, detail))
        if resp.status_code == 404:
            raise ProviderNotFound('resource provider %s does not exist'
                                   % rp_uuid)
        return _generation(resp, what)

    def create_trait(self, name):
        """Create a custom trait name; True when it was new."""
        resp = self._request('PUT', '/traits/%s' % name,
                             'create trait %s' % name, ok=(201, 204))
        return resp.status_code == 201

    def create_provider(self, rp_uuid, name, parent=None):
        """Create a provider (microversion 1.20); its generation. Conflict
        when its UUID or name exists.
        """
        body = {'uuid': rp_uuid, 'name': name}
        if parent:
            body['parent_provider_uuid'] = parent
        what = 'create resource provider %s' % name[:60]
        resp = self._request('POST', '/resource_providers', what, json=body,
                             microversion='1.20')
        return _generation(resp, what, 'generation')

    def set_aggregates(self, rp_uuid, aggregates, generation):
        """Replace a provider's aggregates (1.19); the new generation."""
        what = 'set aggregates of resource provider %s' % rp_uuid
        resp = self._request(
            'PUT', '/resource_providers/%s/aggregates' % rp_uuid, what,
            json={'aggregates': sorted(aggregates),
                  'resource_provider_generation': generation},
            microversion='1.19')
        return _generation(resp, what)

    def delete_provider(self, rp_uuid):
        """Delete a provider; False when it did not exist."""
        resp = self._request('DELETE', '/resource_providers/%s' % rp_uuid,
                             'delete resource provider %s' % rp_uuid,
                             ok=(204, 404))
        return resp.status_code == 204

    def rename_provider(self, rp_uuid, name, label=None):
        """Give the provider a new name (nothing else changes; no
        generation needed: one request); ProviderNotFound, Conflict when
        another provider has the name.
        """
        what = 'rename %s' % (label or 'resource provider %s' % rp_uuid)
        resp = self._request('PUT', '/resource_providers/%s' % rp_uuid,
                             what, ok=(200, 404), json={'name': name},
                             microversion='1.14')
        if resp.status_code == 404:
            raise ProviderNotFound('resource provider %s does not exist'
                                   % rp_uuid)
        return _generation(resp, what, 'generation')

    def provider_updated(self, rp_uuid, label=None):
        """When Placement last changed the provider (any writer): its
        Last-Modified as a UTC datetime, or None.
        """
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
        for batch in _batches(names, limit=3500):  # request line < 4 KiB
            resp = self._request('GET', '/traits?name=in:%s'
                                 % ','.join(batch), what)
            stamp = parse_http_date(resp.headers.get('Last-Modified'))
            if stamp and (newest is None or stamp > newest):
                newest = stamp
        return newest

    def list_unused_traits(self, prefix):
        """The trait names starting with prefix that no provider has."""
        what = 'list unused traits %s*' % prefix
        resp = self._request('GET', '/traits?associated=false&name='
                             'startswith:%s' % _quote(prefix), what)
        names = _body(resp, what, 'traits', list)
        if not all(isinstance(n, str) for n in names):
            raise PlacementError('%s: %s (a trait that is not a string)'
                                 % (what, BAD_BODY % 200))
        return sorted(names)

    def delete_trait(self, name):
        """Delete a custom trait name; False when it did not exist.
        Conflict when a provider has it (Placement refuses).
        """
        resp = self._request('DELETE', '/traits/%s' % _quote(name),
                             'delete trait %s' % name, ok=(204, 404))
        return resp.status_code == 204

    def existing_traits(self, names):
        """Which of these trait names exist in Placement (a set).

        One ``GET /traits?name=in:...`` per batch of names (a request line
        stays under 4 KiB). When that would take more than two requests
        (a first report of schema 2 publishes about 300 names) and the
        names share a prefix, one ``GET /traits?name=startswith:<prefix>``
        answers instead: one request, however many names.
        """
        names = sorted(set(names))
        batches = list(_batches(names, limit=3500))
        prefix = names[0] if names else ''
        for name in names[1:]:
            while not name.startswith(prefix):
                prefix = prefix[:-1]
        what = 'list trait names'
        if len(batches) > 2 and len(prefix) >= len('CUSTOM_'):
            urls = ['/traits?name=startswith:%s' % _quote(prefix)]
        else:
            urls = ['/traits?name=in:%s' % ','.join(b) for b in batches]
        found = set()
        for url in urls:
            listed = _body(self._request('GET', url, what), what, 'traits',
                           list)
            found.update(n for n in listed if isinstance(n, str))
        return found.intersection(names)


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
    limit the request line to 4 KiB).
    """
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
