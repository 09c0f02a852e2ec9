"""nova's scheduler path without nova's database, for offline drivers.

The demo and the scheduler benchmark run nova's real HostManager filtering
and weighing on HostState objects they build themselves; this is the one
place that knows how to set up a HostManager and HostStates for that.
"""

import collections


def make_host_manager(conf):
    """nova's HostManager with its filter and weigher handlers.

    HostManager.__init__ also loads cells, aggregates and instances from
    nova's database, which the demo does not have; this sets up the same
    handlers and lists the way __init__ does, without that.
    """
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
