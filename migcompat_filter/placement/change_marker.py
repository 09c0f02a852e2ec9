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

"""The change marker: one resource provider whose name says "some host's
migcompat traits changed".

The reporter bumps it (:func:`bump`) after it wrote a host's traits; the
scheduler's refresher reads it with one small GET every
``profile_change_poll_interval`` seconds and reads the whole fleet only
when its name or generation moved. The provider has no inventory and no
traits of ours: its UUID is :data:`UUID` (uuid5 of :data:`NAMESPACE` and
:data:`NAME`, the same in every cloud), its name :data:`NAME` followed by
a token that each bump draws anew.

A bump is one request: a rename (``PUT /resource_providers/{uuid}`` with
a new name needs no generation, so two reporters never conflict and
nothing is read first). A name that another provider holds (1 in 2**64)
draws another token once; a provider that does not exist yet is created
(its creation is the first change). A bump never fails a report: a
failure is logged and the scheduler still reads the whole fleet every
``profile_refresh_interval`` seconds.
"""

import logging
import random
import uuid

LOG = logging.getLogger(__name__)

#: The namespace of migcompat's well-known UUIDs.
NAMESPACE = uuid.UUID('6b1c2b5e-4f0c-5a8e-9d3f-6d6967636f6d')
#: The change marker's resource provider name, before its token.
NAME = 'migcompat-changes'
#: Its UUID: uuid5(NAMESPACE, NAME) = b8329855-d9d6-5bc7-bb09-9225a1d1b6f3.
UUID = str(uuid.uuid5(NAMESPACE, NAME))

_random = random.SystemRandom()


def new_name():
    """NAME and a fresh token: what a bump names the marker."""
    return '%s-%016x' % (NAME, _random.getrandbits(64))


def bump(client):
    """Rename the change marker (client: a PlacementClient).

    True when it moved; False, with a WARNING, when it could not be
    written. Never raises.
    """
    # The reporter's side only: the scheduler reads UUID and must not
    # import the keystone client (not in a scheduler-only install).
    from migcompat_filter.placement import client as placement
    try:
        for attempt in (1, 2):
            try:
                client.rename_provider(UUID, new_name(), label=NAME)
                return True
            except placement.ProviderNotFound:
                return _create(client)
            except placement.Conflict:
                if attempt == 2:
                    raise
                LOG.debug('change marker %s: name taken; another token',
                          NAME)
    except Exception as e:  # never fail the report
        LOG.warning('could not bump the change marker (resource provider '
                    '%s, %s): %s; the schedulers see this change at their '
                    'next full read ([migcompat] profile_refresh_interval)',
                    NAME, UUID, e)
        return False


def _create(client):
    from migcompat_filter.placement import client as placement
    try:
        client.create_provider(UUID, new_name())
        LOG.info('created the change marker (resource provider %s, %s)',
                 NAME, UUID)
        return True
    except placement.Conflict:
        # Created by another reporter just now: that was a change too;
        # rename it so that this one is seen as well.
        client.rename_provider(UUID, new_name(), label=NAME)
        return True
