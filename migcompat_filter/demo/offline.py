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

"""nova's scheduler path without nova's database, for offline drivers.

The demo and the scheduler benchmark run nova's real HostManager filtering
and weighing on HostState objects they build themselves; this is the one
place that knows how to set up a HostManager and HostStates for that, and
the demo's nova.conf, RequestSpecs and answer to the filter's one database
question.
"""

import collections
import contextlib
import os
import uuid

from migcompat_filter.exception import InputError
from migcompat_filter import profile as profile_mod
from migcompat_filter.rules import values


def make_host_manager(conf):
    """nova's HostManager with its filter and weigher handlers.

    HostManager.__init__ also loads cells, aggregates and instances from
    nova's database, which the demo does not have; this sets up the same
    handlers and lists the way __init__ does, without that.
    """
    from migcompat_filter.scheduler import state

    # The caller says which Placement to read (reset_shared): the filter
    # nova builds starts no refresher meanwhile (the first request does).
    cache = state.shared().profiles
    background, cache.background = cache.background, False
    try:
        return _host_manager(conf)
    finally:
        cache.background = background


def _host_manager(conf):
    from nova.scheduler import filters
    from nova.scheduler import host_manager
    from nova.scheduler import weights

    hm = host_manager.HostManager.__new__(host_manager.HostManager)
    hm.cells = {}
    hm.enabled_cells = []
    hm.filter_handler = filters.HostFilterHandler()
    classes = hm.filter_handler.get_matching_classes(
        conf.filter_scheduler.available_filters)
    hm.filter_cls_map = {cls.__name__: cls for cls in classes}
    hm.filter_obj_map = {}
    hm.enabled_filters = hm._choose_host_filters(hm._load_filters())
    hm.weight_handler = weights.HostWeightHandler()
    hm.weighers = [cls() for cls in hm.weight_handler.get_matching_classes(
        conf.filter_scheduler.weight_classes)]
    hm.aggs_by_id = {}
    hm.host_aggregates_map = collections.defaultdict(set)
    hm.track_instance_changes = False
    hm._instance_info = {}
    return hm


def heartbeat(host_state, now=None):
    """The host's nova-compute has just reported in (what its periodic
    service update does every report_interval): ComputeFilter sees it up
    however long the demo took to get here, on any machine.
    """
    from oslo_utils import timeutils
    now = now or timeutils.utcnow()
    host_state.service['updated_at'] = now
    host_state.service['last_seen_up'] = now
    host_state.updated = now


def make_host_state(host, node, cell_uuid, rp_uuid, hypervisor_version,
                    vcpus_used=8, free_ram_mb=65536, num_instances=4,
                    num_io_ops=0, now=None):
    """A HostState as nova-scheduler builds it from an up, enabled QEMU
    compute node of 64 vCPUs, 64 GiB and 1 TiB; the load is the caller's.
    """
    from nova.scheduler import host_manager
    from oslo_utils import timeutils

    now = now or timeutils.utcnow()
    hs = host_manager.HostState(host, node, cell_uuid)
    hs.uuid = rp_uuid
    hs.free_ram_mb = free_ram_mb
    hs.total_usable_ram_mb = 65536
    hs.free_disk_mb = 1024 * 1024
    hs.total_usable_disk_gb = 1024
    hs.disk_mb_used = 0
    hs.vcpus_total = 64
    hs.vcpus_used = vcpus_used
    hs.num_instances = num_instances
    hs.num_io_ops = num_io_ops
    hs.hypervisor_type = 'QEMU'
    hs.hypervisor_version = hypervisor_version
    hs.supported_instances = [('x86_64', 'kvm', 'hvm')]
    hs.service = {'disabled': False, 'forced_down': False,
                  'updated_at': now, 'created_at': now, 'last_seen_up': now,
                  'host': host, 'binary': 'nova-compute'}
    hs.updated = now
    hs.cpu_allocation_ratio = 4.0
    hs.ram_allocation_ratio = 1.0
    hs.disk_allocation_ratio = 1.0
    hs.failed_builds = 0
    hs.instances = {}
    hs.aggregates = []
    hs.metrics = None
    hs.stats = {}
    return hs


def nova_conf(config_files):
    """nova's global CONF, parsed once, with our [migcompat] options and the
    nova.conf lines the documentation gives.
    """
    import nova.conf
    from nova import objects

    from migcompat_filter import conf as conf_mod

    objects.register_all()
    conf = nova.conf.CONF
    conf_mod.register_opts(conf)
    for f in config_files:
        if not os.path.isfile(f):
            raise InputError('--config-file %s: no such file' % f)
    conf.reset()
    conf([], project='nova', default_config_files=list(config_files))
    conf.set_override('available_filters',
                      ['nova.scheduler.filters.all_filters',
                       'migcompat_filter.scheduler.all_filters'],
                      'filter_scheduler')
    enabled = list(conf.filter_scheduler.enabled_filters)
    if 'MigrationCompatibilityFilter' not in enabled:
        enabled.append('MigrationCompatibilityFilter')
    conf.set_override('enabled_filters', enabled, 'filter_scheduler')
    conf.set_override('weight_classes',
                      ['nova.scheduler.weights.all_weighers',
                       'migcompat_filter.scheduler.all_weighers'],
                      'filter_scheduler')
    return conf


def hypervisor_version(qemu_version):
    """nova's integer form of the QEMU version (7.2.22 -> 7002022); 0 when
    unknown.
    """
    parts = values.parse_version(qemu_version, 'qemu_version')
    if profile_mod.is_unknown(parts):
        return 0
    return parts[0] * 1000000 + parts[1] * 1000 + parts[2]


def request_spec(source):
    """The RequestSpec conductor sends for a live migration off source."""
    from nova import objects
    flavor = objects.Flavor(memory_mb=2048, vcpus=2, root_gb=20,
                            ephemeral_gb=0, swap=0, extra_specs={},
                            name='m1.small', flavorid='2')
    return objects.RequestSpec(
        instance_uuid=str(uuid.uuid4()), flavor=flavor,
        image=objects.ImageMeta.from_dict({'properties': {}}),
        num_instances=1, force_hosts=[], force_nodes=[],
        instance_group=None, scheduler_hints={}, is_bfv=False,
        project_id='demo', user_id='demo', availability_zone=None,
        ignore_hosts=[source.name], requested_destination=None,
        retry=None, limits=None, numa_topology=None, pci_requests=None,
        request_level_params=objects.RequestLevelParams())


@contextlib.contextmanager
def migrations_known(sources):
    """Answer the filter's database question from the demo fleet.

    In nova-scheduler the filter loads the Instance (task_state
    'migrating' tells a live migration) and its source ComputeNode from
    nova's database. The demo has no nova database; its requests are all
    live migrations and it knows their sources (instance uuid -> host).
    """
    from migcompat_filter.scheduler import instances
    from migcompat_filter.scheduler import migration_filter

    def live_migration(spec_obj):
        host = sources.get(spec_obj.instance_uuid)
        if host is None:
            return None
        return instances.LiveMigration(
            spec_obj.instance_uuid, host.name, host.name, host.rp_uuid)

    original = migration_filter.live_migration
    migration_filter.live_migration = live_migration
    try:
        yield
    finally:
        migration_filter.live_migration = original
