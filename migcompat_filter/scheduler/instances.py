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

"""Which request is a live migration, and from which compute node.

nova's RequestSpec does not say "live migration"; the instance's
task_state does. The source's resource provider is its compute node's
UUID, read once per (host, node) and process, and read again when
Placement no longer knows it (a compute node re-created with a new UUID:
a reinstalled host, a lost ``compute_id`` file).
"""

import threading

from oslo_log import log as logging

from nova.compute import task_states
from nova import context as nova_context
from nova import objects

from migcompat_filter.placement import hoststate
from migcompat_filter.scheduler import reads

# The filter's logger (scheduler/migration_filter.py): one name to set.
LOG = logging.getLogger('migcompat_filter.scheduler.filter')


class LiveMigration(object):
    """What the filter needs to know about one live-migration request."""

    def __init__(self, instance_uuid, source_host, source_node,
                 source_uuid, request_id=None, vcpu_model=None,
                 resolve_source=None):
        self.instance_uuid = instance_uuid
        self.source_host = source_host
        self.source_node = source_node
        self.source_uuid = source_uuid
        self.request_id = request_id
        #: nova's VirtCPUModel of the instance (None: nova recorded none).
        self.vcpu_model = vcpu_model
        #: () -> the source compute node's UUID read again from the
        #: database (None: cannot be re-read).
        self.resolve_source = resolve_source


class ComputeNodes(object):
    """(host, node) -> compute node UUID, shared by concurrent requests
    behind its lock (the database read itself happens outside it).
    """

    def __init__(self):
        self._uuids = {}
        self._lock = threading.Lock()

    def uuid(self, host, node, read):
        with self._lock:
            known = self._uuids.get((host, node))
        if known is not None:
            return known
        found = read()
        with self._lock:
            self._uuids[(host, node)] = found
        return found

    def forget(self, host, node):
        with self._lock:
            self._uuids.pop((host, node), None)

    def __len__(self):
        return len(self._uuids)


def live_migration(spec_obj, nodes):
    """LiveMigration for a live-migration request, else None.

    Cheap for everything that is not a move: without ignore_hosts (which
    conductor sets for live migrations, and for resizes to other hosts and
    evacuations) no database is touched. Then the instance's task_state
    tells a live migration ('migrating') from the rest. The same read
    brings the instance's vcpu_model (instance_extra, joined into that one
    query), the CPU the guest was started with.
    """
    if not (spec_obj.obj_attr_is_set('ignore_hosts') and
            spec_obj.ignore_hosts):
        return None
    ctx = getattr(spec_obj, '_context', None)
    if ctx is None:
        ctx = nova_context.get_admin_context()
    cell = _cell_of(ctx, spec_obj)
    with nova_context.target_cell(ctx, cell) as cctx:
        instance = objects.Instance.get_by_uuid(
            cctx, spec_obj.instance_uuid, expected_attrs=['vcpu_model'])
        if instance.task_state != task_states.MIGRATING:
            return None
    host, node = instance.host, instance.node

    def read():
        with nova_context.target_cell(ctx, cell) as cctx:
            return objects.ComputeNode.get_by_host_and_nodename(
                cctx, host, node).uuid

    def resolve():
        nodes.forget(host, node)
        return nodes.uuid(host, node, read)

    return LiveMigration(spec_obj.instance_uuid, host, node,
                         nodes.uuid(host, node, read),
                         getattr(ctx, 'global_id', None),
                         instance.vcpu_model, resolve_source=resolve)


def _cell_of(ctx, spec_obj):
    """The instance's cell: the request's when conductor set it there,
    else from the instance mapping (one API database read).
    """
    dest = (spec_obj.requested_destination
            if spec_obj.obj_attr_is_set('requested_destination') else None)
    if (dest is not None and dest.obj_attr_is_set('cell') and
            dest.cell is not None):
        return dest.cell
    return objects.InstanceMapping.get_by_instance_uuid(
        ctx, spec_obj.instance_uuid).cell_mapping


def read_source_again(cache, migration, deadline, not_found):
    """(HostProfile, key) of the source after Placement answered 404 for
    its provider: the compute node may have been re-created with a new
    UUID, so it is read from the database again (and migration's
    source_uuid updated) instead of being stuck until a restart.
    """
    unjudged = hoststate.HostProfile(hoststate.UNJUDGED,
                                     reason=str(not_found)), None
    if migration.resolve_source is None:
        return unjudged
    try:
        uuid = migration.resolve_source()
    except Exception as e:
        LOG.warning('migcompat: source %s: Placement has no provider %s '
                    'and the compute node could not be read again (%s)',
                    migration.source_host, migration.source_uuid, e)
        return unjudged
    if uuid == migration.source_uuid:
        return unjudged
    LOG.info('migcompat: source %s: compute node UUID changed from %s to '
             '%s', migration.source_host, migration.source_uuid, uuid)
    migration.source_uuid = uuid
    try:
        return cache.read_source(uuid, deadline, migration.request_id)
    except reads.NotFound as e:
        return hoststate.HostProfile(hoststate.UNJUDGED,
                                     reason=str(e)), None
