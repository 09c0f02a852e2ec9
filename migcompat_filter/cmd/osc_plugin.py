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

"""OpenStackClient plugin: ``openstack migcompat host list`` and friends.

The commands are the ``migcompat`` CLI's own classes
(``migcompat_filter.cmd.host``, ``.matrix``, ``.check``, ``.baseline``,
``.trait`` for ``trait prune``);
inside ``openstack`` they use its authenticated session (``--os-cloud``,
``OS_*`` variables, ...) through :func:`make_client` instead of their own
connection options.
"""

import logging

from osc_lib import utils

LOG = logging.getLogger(__name__)

DEFAULT_API_VERSION = '1'
API_VERSION_OPTION = 'os_migcompat_api_version'
API_NAME = 'migcompat'
API_VERSIONS = {'1': 'migcompat_filter.cmd.osc_plugin.Client'}


class Client(object):
    """Placement and compute Adapters on OpenStackClient's session."""

    def __init__(self, session, interface=None, region_name=None):
        from keystoneauth1 import adapter

        from migcompat_filter.fleet import nova_api
        from migcompat_filter.placement import client as placement
        self.placement = adapter.Adapter(
            session, service_type=placement.SERVICE_TYPE,
            interface=interface, region_name=region_name,
            default_microversion=placement.MICROVERSION)
        self.compute = adapter.Adapter(
            session, service_type=nova_api.SERVICE_TYPE,
            interface=interface, region_name=region_name,
            default_microversion=nova_api.COMPUTE_MICROVERSION)


def make_client(instance):
    """The migcompat client of an OpenStackClient ClientManager."""
    cls = utils.get_client_class(API_NAME, instance._api_version[API_NAME],
                                 API_VERSIONS)
    LOG.debug('Instantiating migcompat client: %s', cls)
    return cls(instance.session, interface=instance.interface,
               region_name=instance.region_name)


def build_option_parser(parser):
    """The plugin's global option (its API version): OpenStackClient needs
    one per plugin, but migcompat has a single version, so it is not shown
    in ``openstack --help``.
    """
    import argparse
    parser.add_argument(
        '--os-migcompat-api-version', metavar='<migcompat-api-version>',
        default=utils.env('OS_MIGCOMPAT_API_VERSION',
                          default=DEFAULT_API_VERSION),
        help=argparse.SUPPRESS)
    return parser


def client_manager(app):
    """OpenStackClient's ClientManager with our plugin (None outside
    ``openstack``). OSC registers plugins as lazy attributes of its class:
    look at the class, so that --help needs no credentials.
    """
    cm = getattr(app, 'client_manager', None)
    if cm is not None and any('migcompat' in vars(k)
                              for k in type(cm).__mro__):
        return cm
    return None


def fleet(cm, workers=None, progress=None):
    """The Fleet over OpenStackClient's session (its placement and compute
    clients).
    """
    from migcompat_filter.fleet import inventory
    from migcompat_filter.fleet import nova_api
    from migcompat_filter.placement import client as placement
    client = cm.migcompat
    return inventory.Fleet(placement.PlacementClient(client.placement),
                           nova_api.NovaClient(client.compute),
                           workers=(inventory.DEFAULT_WORKERS
                                    if workers is None else workers),
                           progress=progress)
