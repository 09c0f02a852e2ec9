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

"""How the CLI reaches Placement: keystoneauth Adapters for nova-style
``[placement]`` options, a ``clouds.yaml`` cloud, or no auth (noauth2).

Split from migcompat_filter.placement.client (the client itself), which
re-exports these names. keystoneauth logs every request's URL at DEBUG;
the loggers that do get a filter that strips credentials first.
"""

import logging

from keystoneauth1 import adapter as ks_adapter
from keystoneauth1 import exceptions as ks_exc
from keystoneauth1 import loading as ks_loading
from keystoneauth1 import session as ks_session
from keystoneauth1 import token_endpoint

from migcompat_filter.exception import InputError
from migcompat_filter import redaction

#: Highest microversion we need: 1.6 for traits, 1.39 is placement's max
#: that nova-integration.md relies on for queries.
MICROVERSION = '1.39'
SERVICE_TYPE = 'placement'
GROUP = 'placement'
DEFAULT_TIMEOUT = 30.0


def redact(text):
    """str(text) with the userinfo (``user:password@``) of every URL removed
    (and any secret the CLI registered masked): migcompat_filter.redaction,
    the one scrubber the CLI's output and logs go through too.
    """
    return redaction.redact(str(text))


class RedactingFilter(logging.Filter):
    """Strips URL userinfo from the records of a logger (keystoneauth logs
    every request's URL at DEBUG).
    """

    def filter(self, record):
        if record.args:
            try:
                record.msg = record.getMessage()
            except Exception:  # a broken record: leave it to logging
                return True
            record.args = None
        record.msg = redact(record.msg)
        return True


#: The loggers that print request URLs: keystoneauth's own.
_URL_LOGGERS = ('keystoneauth.session', 'keystoneauth.session.request',
                'keystoneauth.session.response', 'keystoneauth.session.body')
_FILTER = RedactingFilter()


def _redact_url_logs():
    for name in _URL_LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)


def register_placement_opts(conf):
    """Register nova's ``[placement]`` keystoneauth options on ``conf``."""
    ks_loading.register_session_conf_options(conf, GROUP)
    ks_loading.register_auth_conf_options(conf, GROUP)
    ks_loading.register_adapter_conf_options(conf, GROUP)


def adapter_from_conf(conf, timeout=DEFAULT_TIMEOUT):
    """A Placement Adapter from ``[placement]`` options (as nova does)."""
    _redact_url_logs()
    group = conf[GROUP]
    try:
        auth = ks_loading.load_auth_from_conf_options(conf, GROUP)
    except ks_exc.ClientException as e:
        raise InputError('[placement] auth options are incomplete: %s'
                         % redact(e)) from None
    if auth is None and not getattr(conf, 'config_file', None):
        raise InputError('no cloud configured: no nova.conf was read '
                         '(/etc/nova/nova.conf does not exist); give one '
                         'with --config-file, or use --os-cloud or '
                         '--placement-url')
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
    _redact_url_logs()
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
                         % (cloud, redact(e))) from None
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
    _redact_url_logs()
    auth = token_endpoint.Token(url, token)
    sess = ks_session.Session(auth=auth, timeout=timeout)
    return ks_adapter.Adapter(sess, service_type=SERVICE_TYPE,
                              endpoint_override=url,
                              default_microversion=MICROVERSION)
