"""nova's scheduler path without nova's database, for offline drivers.

The demo and the scheduler benchmark run nova's real HostManager filtering
and weighing on HostState objects they build themselves; this is the one
place that knows how to set a HostManager up for that.
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
