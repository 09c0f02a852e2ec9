"""MigrationCompatibilityFilter: live-migrate only to compatible hosts.

Enable it in nova-scheduler's nova.conf::

    [filter_scheduler]
    available_filters = nova.scheduler.filters.all_filters
    available_filters = migcompat_filter.scheduler.all_filters
    enabled_filters = ...,MigrationCompatibilityFilter

The rule: for a live migration, a destination passes when the rules engine
(the one ``migcompat compare`` uses) finds nothing that blocks between the
source host's profile and the destination's, both read from the
``CUSTOM_MIGCOMPAT_*`` traits of their resource providers, in the guest CPU
mode the source reports and under the ``[migcompat]`` policy options.
Every other request passes untouched and without a Placement call (boot,
rebuild and unshelve without a database call either; resize, cold
migration and evacuate cost one instance read to be told apart).
"""

from nova import context as nova_context
from nova import objects
from nova.compute import task_states
from nova.scheduler import filters
from oslo_log import log as logging

from migcompat_filter.scheduler import profiles

LOG = logging.getLogger(__name__)


def _conf():
    import nova.conf
    from migcompat_filter import conf as mc_conf
    mc_conf.register_opts(nova.conf.CONF)
    return nova.conf.CONF


# nova.conf holds our options too ([migcompat]); register them when nova
# loads the filter, as nova registers its own.
_conf()


def _report_client():
    from nova.scheduler.client import report
    return report.report_client_singleton()


class _Shared(object):
    """State shared by the filter, the weigher and every request."""

    def __init__(self):
        self.profiles = profiles.ProfileCache(_report_client)
        self.verdicts = profiles.VerdictCache()
        self.similarities = profiles.VerdictCache()
        self.compute_nodes = {}  # (host, node) -> compute node uuid


_SHARED = None


def shared():
    global _SHARED
    if _SHARED is None:
        _SHARED = _Shared()
    return _SHARED


def reset_shared(client_factory=None, clock=None):
    """Forget every cached profile and verdict (tests, the benchmark)."""
    global _SHARED
    _SHARED = _Shared()
    if client_factory is not None:
        _SHARED.profiles = profiles.ProfileCache(client_factory)
    if clock is not None:
        _SHARED.profiles.clock = clock
    return _SHARED


class LiveMigration(object):
    """What the filter needs to know about one live-migration request."""

    def __init__(self, instance_uuid, source_host, source_node,
                 source_uuid, request_id=None):
        self.instance_uuid = instance_uuid
        self.source_host = source_host
        self.source_node = source_node
        self.source_uuid = source_uuid
        self.request_id = request_id


def live_migration(spec_obj):
    """LiveMigration for a live-migration request, else None.

    Cheap for everything that is not a move: without ignore_hosts (which
    conductor sets for live migrations, and for resizes to other hosts and
    evacuations) no database is touched. Then the instance's task_state
    tells a live migration ('migrating') from the rest.
    """
    if not (spec_obj.obj_attr_is_set('ignore_hosts') and
            spec_obj.ignore_hosts):
        return None
    ctx = getattr(spec_obj, '_context', None)
    if ctx is None:
        ctx = nova_context.get_admin_context()
    cell = None
    if (spec_obj.obj_attr_is_set('requested_destination') and
            spec_obj.requested_destination is not None and
            spec_obj.requested_destination.obj_attr_is_set('cell')):
        cell = spec_obj.requested_destination.cell
    if cell is None:
        cell = objects.InstanceMapping.get_by_instance_uuid(
            ctx, spec_obj.instance_uuid).cell_mapping
    with nova_context.target_cell(ctx, cell) as cctx:
        instance = objects.Instance.get_by_uuid(
            cctx, spec_obj.instance_uuid, expected_attrs=[])
        if instance.task_state != task_states.MIGRATING:
            return None
        key = (instance.host, instance.node)
        nodes = shared().compute_nodes
        uuid = nodes.get(key)
        if uuid is None:
            uuid = objects.ComputeNode.get_by_host_and_nodename(
                cctx, instance.host, instance.node).uuid
            nodes[key] = uuid
    return LiveMigration(spec_obj.instance_uuid, instance.host,
                         instance.node, uuid,
                         getattr(ctx, 'global_id', None))


class Judgement(object):
    """The filter's result for one request (also read by the weigher)."""

    def __init__(self, migration, source, mode):
        self.migration = migration
        self.source = source          # profiles.HostProfile
        self.mode = mode
        self.hosts = {}               # rp uuid -> HostProfile


def _action(conf, state):
    group = conf.migcompat
    return {
        profiles.UNTRAITED: group.untraited_host_action,
        profiles.NEWER_SCHEMA: group.newer_schema_action,
        profiles.UNREADABLE: group.newer_schema_action,
        profiles.UNJUDGED: group.placement_error_action,
    }[state]


def _host_name(host_state):
    if host_state.nodename and host_state.nodename != host_state.host:
        return '%s/%s' % (host_state.host, host_state.nodename)
    return host_state.host


class MigrationCompatibilityFilter(filters.BaseHostFilter):
    """Live-migrate only to hosts the rules engine finds compatible.

    A destination passes when no finding blocks between the source's and
    its profile (Placement traits), in the source's guest CPU mode, under
    the [migcompat] policy. Hosts that cannot be judged (no traits, newer
    trait schema, Placement failing) follow the [migcompat] *_action
    options. Requests other than live migrations pass untouched.
    """

    # A rebuild keeps the host; there is nothing to judge.
    RUN_ON_REBUILD = False

    def host_passes(self, host_state, spec_obj):
        # The work is done once per request in filter_all; a caller that
        # asks about one host gets the same answer through it.
        return bool(list(self.filter_all([host_state], spec_obj)))

    def filter_all(self, filter_obj_list, spec_obj):
        try:
            migration = live_migration(spec_obj)
        except Exception as e:
            LOG.warning('migcompat: could not tell whether instance %s is '
                        'live-migrating (%s); not filtering',
                        getattr(spec_obj, 'instance_uuid', None), e)
            return filter_obj_list
        if migration is None:
            _stash(spec_obj, None)  # tells the weigher: nothing to do
            return filter_obj_list
        hosts = list(filter_obj_list)
        try:
            return judge(hosts, spec_obj, migration)
        except Exception:
            # Never break scheduling: an error here passes every host, as
            # if the filter were not enabled; nova's own checks still run.
            LOG.exception('migcompat: filtering the live migration of %s '
                          'failed; passing all %d hosts',
                          migration.instance_uuid, len(hosts))
            return hosts


def judge(hosts, spec_obj, migration, conf=None):
    """Filter host_states for a live migration; log; return the passing."""
    conf = conf or _conf()
    group = conf.migcompat
    state = shared()
    cache = state.profiles
    cache.ttl = group.profile_cache_ttl
    state.verdicts.size = group.verdict_cache_size
    deadline = cache.clock() + group.request_time_budget
    rid = migration.request_id
    failure = cache.ensure_fresh(deadline, rid)

    source = cache.cached(migration.source_uuid)
    if source is None or source.state != profiles.TRAITED:
        source = cache.read_host(migration.source_uuid, deadline, rid)
    if source.state != profiles.TRAITED:
        action = (group.placement_error_action
                  if source.state == profiles.UNJUDGED
                  else group.untraited_source_action)
        LOG.info('migcompat: live migration of instance %(inst)s from '
                 '%(src)s: the source cannot be judged (%(why)s); '
                 '%(act)s all %(n)d candidate hosts '
                 '(untraited_source_action / placement_error_action)',
                 {'inst': migration.instance_uuid,
                  'src': migration.source_host, 'why': source.reason,
                  'act': 'passing' if action == 'pass' else 'refusing',
                  'n': len(hosts)})
        _stash(spec_obj, None)
        return hosts if action == 'pass' else []

    from migcompat_filter.conf import policy_from_conf
    from migcompat_filter.rules import engine
    policy = policy_from_conf(conf)
    policy_key = repr(policy)
    mode = engine.choose_mode(source.profile)
    judgement = Judgement(migration, source, mode)
    # A host the mapping does not cover (traits without a digest) is read
    # on its own; after a failed refresh, such hosts are unjudged instead
    # of costing one (failing) call each.
    read_missing = failure is None

    passed, refused, unjudged = [], [], []
    counts = {}
    # Hosts share profiles: decide once per destination profile key.
    decided = {}        # key -> (passes, why)
    debug = LOG.isEnabledFor(logging.DEBUG)
    members = {}        # key -> host names, for the DEBUG lines
    for host_state in hosts:
        uuid = host_state.uuid
        hp = cache.cached(uuid)
        if hp is None:
            if read_missing:
                hp = cache.read_host(uuid, deadline, rid)
            else:
                hp = profiles.HostProfile(
                    profiles.UNJUDGED,
                    reason=str(failure or 'not in the profile cache'))
        judgement.hosts[uuid] = hp
        state_name = hp.state
        counts[state_name] = counts.get(state_name, 0) + 1
        if state_name != profiles.TRAITED:
            action = _action(conf, state_name)
            if debug:
                LOG.debug('migcompat: %s: %s (%s): %s',
                          _host_name(host_state), state_name, hp.reason,
                          action)
            if action == 'pass':
                passed.append(host_state)
            else:
                refused.append((host_state, state_name))
            if state_name == profiles.UNJUDGED:
                unjudged.append(host_state)
            continue
        decision = decided.get(hp.key)
        if decision is None:
            verdict = state.verdicts.get_or_compute(
                (source.key, hp.key, mode, policy_key),
                lambda: engine.evaluate(source.profile, hp.profile, mode,
                                        policy))
            decision = (verdict.compatible, ','.join(verdict.factors()))
            decided[hp.key] = decision
            if debug:  # the full findings, once per destination profile
                LOG.debug('migcompat: %s -> profile %s (%s): %s',
                          migration.source_host, hp.key, mode,
                          [f.to_dict() for f in verdict.findings])
        if debug:
            members.setdefault(hp.key, []).append(_host_name(host_state))
        if decision[0]:
            passed.append(host_state)
        else:
            refused.append((host_state, decision[1]))
    for key, names in members.items():
        LOG.debug('migcompat: hosts with profile %s: %s', key,
                  ', '.join(names))

    _stash(spec_obj, judgement)
    LOG.info('migcompat: live migration of instance %(inst)s from %(src)s '
             '(%(mode)s): %(n)d candidates, %(p)d passed, %(r)d refused'
             '%(refused)s%(extra)s',
             {'inst': migration.instance_uuid,
              'src': migration.source_host, 'mode': mode, 'n': len(hosts),
              'p': len(passed), 'r': len(refused),
              'refused': (': ' + ', '.join(
                  '%s (%s)' % (_host_name(h), why)
                  for h, why in refused[:50]) +
                  (' ...' if len(refused) > 50 else '')) if refused else '',
              'extra': _extra(counts, unjudged, failure)})
    return passed


def _extra(counts, unjudged, failure):
    parts = []
    for state in (profiles.UNTRAITED, profiles.NEWER_SCHEMA,
                  profiles.UNREADABLE, profiles.UNJUDGED):
        if counts.get(state):
            parts.append('%d %s' % (counts[state], state))
    if failure is not None:
        parts.append('Placement: %s' % failure)
    return ' [%s]' % '; '.join(parts) if parts else ''


def _stash(spec_obj, judgement):
    # The weigher runs right after the filters on the same RequestSpec;
    # a private attribute (not an object field, never serialised) hands it
    # the source and the host profiles without a second lookup.
    try:
        object.__setattr__(spec_obj, '_migcompat_judgement', judgement)
    except Exception:
        pass


def stashed(spec_obj):
    return getattr(spec_obj, '_migcompat_judgement', None)
