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

"""MigrationCompatibilityFilter: live-migrate only to compatible hosts.

Enable it in nova-scheduler's nova.conf::

    [filter_scheduler]
    available_filters = nova.scheduler.filters.all_filters
    available_filters = migcompat_filter.scheduler.all_filters
    enabled_filters = ...,MigrationCompatibilityFilter

The rule: for a live migration, a destination passes when the rules engine
(the one ``migcompat profile compare`` uses) finds nothing that blocks for the
migrating guest between the source host's profile and the destination's,
both read from the ``CUSTOM_MIGCOMPAT_*`` traits of their resource
providers, under the ``[migcompat]`` policy options and nova's
``[workarounds]``. The guest is the instance's own ``vcpu_model`` (its CPU
mode, a custom guest's one model, the extra flags nova gave it), completed
by the engine from the source's record of its running guests; only when
the instance records no mode does the source host's ``cpu_mode`` stand in.
Other requests pass untouched, with no Placement call (resize, cold
migration, evacuate: one instance read to be told apart).
"""


import nova.conf
from nova.scheduler import filters
from oslo_log import log as logging

from migcompat_filter import conf as conf_mod
from migcompat_filter.placement import acceptance
from migcompat_filter.placement import hoststate
from migcompat_filter.rules import engine
from migcompat_filter.rules import guest_cpu
from migcompat_filter.scheduler import instances
from migcompat_filter.scheduler import log_lines
from migcompat_filter.scheduler import per_host
from migcompat_filter.scheduler import reads
from migcompat_filter.scheduler import state as state_mod

# The logger keeps the former path's name (logging configs may name it).
LOG = logging.getLogger('migcompat_filter.scheduler.filter')

CONF = nova.conf.CONF
# nova.conf holds our options too ([migcompat]); register them once, when
# nova loads the filter, as nova.conf registers its own at import.
conf_mod.register_opts(CONF)

#: The most refused destination profiles whose reasons are logged at INFO.
_REASONS_SHOWN = 10
#: The request attribute that hands the filter's Judgement to the weigher.
_STASH = '_migcompat_judgement'
#: The share of request_time_budget that waiting for the process's first
#: read may not spend: it is kept for reading the source, which every
#: judgement needs (without it, placement_error_action decides for all).
SOURCE_READ_SHARE = 0.5


# The process-wide state nova's filter and weigher share, reached from the
# module nova loads: tools and test harnesses outside the project (nova's
# functional suite with the filter enabled, the benchmarks) reset it per
# test and trigger a read with shared().profiles.refresh_now().
shared = state_mod.shared
reset_shared = state_mod.reset_shared
LiveMigration = instances.LiveMigration


def conf():
    """nova's CONF, with the [migcompat] options (the weigher reads it)."""
    return CONF


def live_migration(spec_obj):
    """LiveMigration for a live-migration request, else None
    (scheduler/instances.py).
    """
    return instances.live_migration(spec_obj,
                                    state_mod.shared().compute_nodes)


class Judgement(object):
    """The filter's result for one request (also read by the weigher)."""

    def __init__(self, migration, source, mode, guest=None,
                 mode_origin=''):
        self.migration = migration
        self.source = source          # hoststate.HostProfile
        self.mode = mode
        self.guest = guest            # guest_cpu.GuestCPU or None
        self.mode_origin = mode_origin
        self.hosts = {}               # rp uuid -> hoststate.HostProfile


class MigrationCompatibilityFilter(filters.BaseHostFilter):
    """Live-migrate only to hosts the rules engine finds compatible.

    A destination passes when no finding blocks for the migrating guest
    (the instance's vcpu_model, and the source's running-guests record)
    between the source's and its profile (Placement traits), in the
    guest's CPU mode (the source's cpu_mode when the instance records
    none), under the [migcompat] policy and nova's [workarounds]. Hosts
    that cannot be judged (no traits, newer trait schema, Placement
    failing) follow the [migcompat] *_action options. Requests other
    than live migrations pass untouched.
    """

    def __init__(self):
        super().__init__()
        # nova builds its filters when nova-scheduler starts: read the
        # host profiles from now on, so that the first live migration
        # finds them read instead of waiting for (or missing) them (a
        # cache without a background reader starts nothing: tools).
        try:
            cache = state_mod.shared().profiles
            state_mod.configure(cache, CONF.migcompat)
            cache.start()
        except Exception:  # never break nova-scheduler's start-up
            LOG.exception('migcompat: could not start reading the host '
                          'profiles; the first live migration will')

    def host_passes(self, host_state, spec_obj):
        # The work is done once per request in filter_all; a caller that
        # asks about one host gets the same answer through it.
        return bool(list(self.filter_all([host_state], spec_obj)))

    def filter_all(self, filter_obj_list, spec_obj):
        try:
            # Any request: this process serves (a forked worker starts
            # reading now, scheduler/refresher.py).
            state_mod.shared().profiles.serving()
            migration = live_migration(spec_obj)
        except Exception as e:
            LOG.warning('migcompat: could not tell whether instance %s is '
                        'live-migrating (%s); not filtering',
                        getattr(spec_obj, 'instance_uuid', None), e)
            _stash(spec_obj, None)  # the weigher need not fail again
            return filter_obj_list
        if migration is None:
            _stash(spec_obj, None)  # tells the weigher: nothing to do
            return filter_obj_list
        hosts = list(filter_obj_list)
        try:
            return judge(hosts, spec_obj, migration)
        except engine.NoRulesInstalled as e:
            # Fail closed: without rules every host would look compatible,
            # which is what the exception exists to prevent.
            _stash(spec_obj, None)
            LOG.error('migcompat: %s; refusing all %d hosts for the live '
                      'migration of %s', e, len(hosts),
                      migration.instance_uuid)
            return []
        except Exception:
            # Never break scheduling: an error here passes every host, as
            # if the filter were not enabled; nova's own checks still run.
            _stash(spec_obj, None)
            LOG.exception('migcompat: filtering the live migration of %s '
                          'failed; passing all %d hosts',
                          migration.instance_uuid, len(hosts))
            return hosts


def judge(hosts, spec_obj, migration, conf=None):
    """Filter host_states for a live migration; log; return the passing."""
    request = _RequestFilter(migration, conf or CONF)
    source = request.source_profile()
    if source.state != hoststate.TRAITED:
        _stash(spec_obj, None)
        return request.source_unjudged(hosts, source)
    judgement = request.begin(source)
    request.read_own(hosts)
    passed, refused = request.split(hosts)
    _stash(spec_obj, judgement)
    request.log_summary(hosts, passed, refused)
    return passed


class _RequestFilter(object):
    """One live-migration request being filtered, in nova's host_passes
    shape: the source's profile once, then (passes, why) per destination,
    then one summary line. Hosts share profiles, so a decision is reached
    once per destination profile (placement/acceptance.py decides).
    """

    def __init__(self, migration, conf):
        self.migration = migration
        self.conf = conf
        self.options = conf.migcompat
        state = state_mod.shared()
        self.cache = state.profiles
        state_mod.configure(self.cache, self.options)
        self.verdicts = state.verdicts
        self.verdicts.size = self.options.verdict_cache_size
        self.host_reads = state.host_reads
        self.actions = acceptance.Actions.from_options(self.options)
        budget = self.options.request_time_budget
        start = self.cache.clock()
        self.deadline = start + budget
        # One snapshot for the whole request: never a lock, never a read.
        # Before the process's first read has ended it may wait for it, but
        # never into the share of the budget kept for reading the source.
        self.snapshot = self.cache.snapshot(
            start + budget * (1 - SOURCE_READ_SHARE))
        self.failure = self.snapshot.failure
        self._host_key = self.snapshot.grouping.host_key
        self._group_profiles = self.snapshot.grouping.profiles
        self.judgement = None
        self.policy = self.policy_key = None
        self.source_key = self.guest_key = None
        self.exact_tsc = False
        self.own = {}         # rp uuid -> HostProfile read from its traits
        self._not_read = None  # the HostProfile of hosts not read yet
        self.counts = {}      # unjudged host state -> destinations in it
        self._decided = {}    # (state, profile key) -> (passes, why)
        self._members = {}    # destination profile key -> host names (DEBUG)
        self._reasons = {}    # refused profile key -> blocking messages
        self._debug = LOG.isEnabledFor(logging.DEBUG)

    def source_profile(self):
        """The source's HostProfile, read from Placement on every request.

        Its running-guests traits are per host (in no digest): a cached
        profile of its digest group would carry another host's guests, or
        this host's of an hour ago. One call, within the request budget
        (two when Placement no longer knows the compute node's UUID and
        the database has a new one).
        """
        migration = self.migration
        try:
            source, self.source_key = self.cache.read_source(
                migration.source_uuid, self.deadline, migration.request_id)
        except reads.NotFound as e:
            source, self.source_key = instances.read_source_again(
                self.cache, migration, self.deadline, e)
        if source.state == hoststate.UNJUDGED:
            return self._cached_source(source)
        return source

    def _cached_source(self, failed):
        # Placement failed on the source: judge by its digest group's
        # profile (without running guests) rather than not at all.
        cached = self.snapshot.host(self.migration.source_uuid)
        if cached is None or cached.state != hoststate.TRAITED:
            return failed
        LOG.warning('migcompat: reading the source %s failed (%s); judging '
                    'by its cached host profile, without its running '
                    'guests', self.migration.source_host, failed.reason)
        self.source_key = ('cached', cached.key)
        return cached

    def source_unjudged(self, hosts, source):
        """Every host or none, as the options say for a source that cannot
        be judged (placement/acceptance.py).
        """
        decision = acceptance.for_source(source.state, self.actions)
        LOG.info('migcompat: live migration of instance %(inst)s from '
                 '%(src)s: the source cannot be judged (%(why)s); '
                 '%(act)s all %(n)d candidate hosts (%(option)s)',
                 {'inst': self.migration.instance_uuid,
                  'src': self.migration.source_host, 'why': source.reason,
                  'act': 'passing' if decision.accepted else 'refusing',
                  'n': len(hosts), 'option': decision.option})
        return hosts if decision.accepted else []

    def begin(self, source):
        """Judge the destinations against this source; their Judgement."""
        # nova's CONF: policy_from_conf reads [workarounds] from it too.
        self.policy = conf_mod.policy_from_conf(self.conf)
        self.policy_key = repr(self.policy)
        guest = guest_cpu.from_vcpu_model(self.migration.vcpu_model)
        mode, origin = guest_mode(guest, source.profile)
        # The engine completes the guest from the source's running_guests,
        # which source_key covers; guest.key() covers the instance's own.
        self.guest_key = (self.source_key, mode,
                          None if guest is None else guest.key())
        self.judgement = Judgement(self.migration, source, mode, guest,
                                   origin)
        self.exact_tsc = per_host.needs_exact_tsc(guest, mode,
                                                  source.profile)
        return self.judgement

    def read_own(self, hosts):
        """For a guest with a pinned invariant TSC: read the candidates
        whose group does not judge TSC alike by their own traits
        (scheduler/per_host.py), concurrently, by the deadline.
        """
        if not self.exact_tsc:
            return
        wanted = []
        for host_state in hosts:
            hp = self.snapshot.host(host_state.uuid)
            if (hp is not None and hp.state == hoststate.TRAITED and
                    not per_host.group_is_exact(hp)):
                wanted.append(host_state.uuid)
        if wanted:
            self.own = self.host_reads.read(
                self.cache, wanted, self.snapshot.serial, self.deadline,
                self.migration.request_id)

    def split(self, hosts):
        """(passed, [(refused, why)]): classify() for each host. The one
        path every destination takes, whatever the log level: DEBUG only
        adds log lines.
        """
        passed, refused = [], []
        for host_state in hosts:
            passes, why = self.classify(host_state)
            if passes:
                passed.append(host_state)
            else:
                refused.append((host_state, why))
        return passed, refused

    def classify(self, host_state):
        """(passes, why) for one destination; why says what refuses it.
        Decided once per destination profile (or unjudged state).
        """
        uuid = host_state.uuid
        hp = self._destination(uuid)
        self.judgement.hosts[uuid] = hp
        state = hp.state
        if state != hoststate.TRAITED:
            self.counts[state] = self.counts.get(state, 0) + 1
        memo = (state, hp.key)
        decision = self._decided.get(memo)
        if decision is None:
            decision = self._decided[memo] = self._decide(hp)
        if self._debug:
            self._log_host(host_state, hp)
        return decision

    def _destination(self, uuid):
        # The common case first: a host of a digest group (10,000 of
        # them per request: two dict lookups).
        digest = self._host_key.get(uuid)
        hp = self._group_profiles.get(digest) if digest else None
        if hp is None:
            hp = self.snapshot.host(uuid)
        if hp is None:
            # Not in the snapshot: not read yet (just started), or the
            # last read failed before it. One profile for all of them.
            if self._not_read is None:
                self._not_read = hoststate.HostProfile(
                    hoststate.UNJUDGED,
                    reason=str(self.failure or 'not read yet'))
            return self._not_read
        if not self.exact_tsc:
            return hp
        if uuid in self.own:
            return per_host.exact(hp, self.own[uuid])
        if hp.state == hoststate.TRAITED and not per_host.group_is_exact(hp):
            return hoststate.HostProfile(
                hoststate.UNJUDGED, reason='its own TSC frequency was not '
                'read within the time budget')
        return hp

    def _decide(self, hp):
        """(passes, why) for a destination profile: placement/acceptance's
        decision, with the verdict from the shared verdict cache.
        """
        decision = acceptance.decide(hoststate.TRAITED, hp.state,
                                     self.actions, lambda: self._verdict(hp))
        if decision.verdict is None:
            return decision.accepted, hp.state
        verdict = decision.verdict
        if not verdict.compatible:
            self._reasons[hp.key] = [f.message for f in verdict.blocking]
        return verdict.compatible, ','.join(verdict.factors())

    def _verdict(self, hp):
        judgement = self.judgement
        source, mode = judgement.source, judgement.mode
        verdict = self.verdicts.get_or_compute(
            (self.guest_key, hp.key, self.policy_key),
            lambda: engine.evaluate(source.profile, hp.profile, mode,
                                    self.policy, guest=judgement.guest))
        if self._debug:  # the full findings, once per destination profile
            LOG.debug('migcompat: %s -> profile %s (%s): %s',
                      self.migration.source_host, hp.key, mode,
                      [f.to_dict() for f in verdict.findings])
        return verdict

    def _log_host(self, host_state, hp):
        # DEBUG only: which hosts share a profile; why an unjudged one
        # passes or not.
        name = log_lines.host_name(host_state)
        if hp.state == hoststate.TRAITED:
            self._members.setdefault(hp.key, []).append(name)
            return
        LOG.debug('migcompat: %s: %s (%s): %s', name, hp.state, hp.reason,
                  acceptance.for_state(hp.state, self.actions).action)

    def log_summary(self, hosts, passed, refused):
        """The DEBUG line per destination profile, then the INFO line,
        then why each refused profile was refused (its blocking findings
        name the features, e.g. the ones only the running guests have).
        """
        for key, names in self._members.items():
            LOG.debug('migcompat: hosts with profile %s: %s', key,
                      ', '.join(names))
        LOG.info('migcompat: live migration of instance %(inst)s from '
                 '%(src)s (%(mode)s: %(origin)s): %(n)d candidates, '
                 '%(p)d passed, %(r)d refused%(refused)s%(extra)s',
                 {'inst': self.migration.instance_uuid,
                  'src': self.migration.source_host,
                  'mode': self.judgement.mode,
                  'origin': self.judgement.mode_origin, 'n': len(hosts),
                  'p': len(passed), 'r': len(refused),
                  'refused': log_lines.refused_text(refused),
                  'extra': log_lines.extra(self.counts, self.failure)})
        self._log_reasons(refused)

    def _log_reasons(self, refused):
        names = {}  # refused profile key -> host names, in refusal order
        for host_state, _why in refused:
            key = self.judgement.hosts[host_state.uuid].key
            if key in self._reasons:
                names.setdefault(key, []).append(
                    log_lines.host_name(host_state))
        for key in list(names)[:_REASONS_SHOWN]:
            shown = names[key][:3]
            LOG.info('migcompat: instance %s: refused %s%s: %s',
                     self.migration.instance_uuid, ', '.join(shown),
                     ' and %d more like them' % (len(names[key]) - 3)
                     if len(names[key]) > 3 else '',
                     '; '.join(self._reasons[key]))


def guest_mode(guest, source_profile):
    """(mode, where it came from): the instance's own vcpu_model mode, else
    the source host's nova.conf cpu_mode (which may have changed since the
    guest started), else nova's default.
    """
    if guest is not None and guest.mode:
        return guest.mode, 'instance vcpu_model'
    mode = engine.choose_mode(source_profile)
    declared = source_profile['cpu_mode']
    why = ('no vcpu_model' if guest is None
           else 'vcpu_model without a mode')
    if declared == mode:
        return mode, "source's cpu_mode, the instance has %s" % why
    return mode, 'default, the instance has %s and the source no ' \
        'cpu_mode' % why


def _stash(spec_obj, judgement):
    # The weigher runs right after the filters on the same RequestSpec;
    # a private attribute (not an object field, never serialised) hands it
    # the source and the host profiles without a second lookup. A request
    # object that takes no attribute only costs the weigher that lookup.
    try:
        object.__setattr__(spec_obj, _STASH, judgement)
    except Exception:
        pass


def stashed(spec_obj):
    """The Judgement the filter left on the request, or None."""
    return getattr(spec_obj, _STASH, None)


def judgement_for(spec_obj):
    """The Judgement the weigher works from, or None (nothing to weigh).

    What the filter left on the request; when the filter did not run on
    it (not enabled, or it ran for another request object), the source's
    profile is found here, with the same cheap test first.
    """
    if hasattr(spec_obj, _STASH):
        return stashed(spec_obj)
    migration = live_migration(spec_obj)
    if migration is None:
        return None
    cache = state_mod.shared().profiles
    options = CONF.migcompat
    deadline = cache.clock() + options.request_time_budget
    try:
        source, _key = cache.read_source(migration.source_uuid, deadline,
                                         migration.request_id)
    except reads.NotFound:
        return None
    if source.state != hoststate.TRAITED:
        return None
    guest = guest_cpu.from_vcpu_model(migration.vcpu_model)
    mode, origin = guest_mode(guest, source.profile)
    return Judgement(migration, source, mode, guest, origin)
