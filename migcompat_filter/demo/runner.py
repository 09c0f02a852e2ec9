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

"""The demo run: publish every host's traits, then let nova's scheduler
choose a live-migration target for a guest on each host, in each mode.
"""

import os

from migcompat_filter import cpu_modes
from migcompat_filter.demo import embedded
from migcompat_filter.demo import hosts as demo_hosts
from migcompat_filter.demo import offline
from migcompat_filter.exception import InputError


class DemoUnavailable(Exception):
    """What the demo needs beyond migcompat itself is not installed."""


#: What the demo imports beyond migcompat's own requirements (tox -e demo
#: installs them): nova's scheduler, and placement with wsgi-intercept for
#: PlacementDirect.
DEMO_REQUIREMENTS = ('nova', 'placement', 'wsgi_intercept')


def check_requirements():
    """Raise DemoUnavailable naming what to install."""
    import importlib
    missing = []
    for module in DEMO_REQUIREMENTS:
        try:
            importlib.import_module(module)
        except ImportError as e:
            missing.append('%s (%s)' % (module, e))
    if missing:
        raise DemoUnavailable(
            'the demo runs nova\'s scheduler and an in-process placement, '
            'which are not installed here: %s. Install them with: pip '
            'install "nova>=34.0.0,<35" "openstack-placement>=16.0.0" '
            '"SQLAlchemy>=2.0,<2.1" wsgi-intercept; or run "tox -e demo"'
            % '; '.join(missing))


class Refusal(object):
    """A host the filter refused, and the rules engine's reasons."""

    def __init__(self, host, factors, findings, state=None):
        self.host = host
        self.factors = factors
        self.findings = findings  # blocking Finding objects
        self.state = state        # why the host could not be judged

    def to_dict(self):
        return {'host': self.host, 'factors': self.factors,
                'state': self.state,
                'reasons': [{'factor': f.factor, 'message': f.message,
                             'hint': f.hint} for f in self.findings]}


class Decision(object):
    """Where nova-scheduler would live-migrate a guest off one host."""

    def __init__(self, mode, source, chosen, accepted, refused,
                 cpu_models=()):
        self.mode = mode
        self.cpu_models = list(cpu_models)
        self.source = source
        self.chosen = chosen
        #: [(host, similarity, nova's total weight)], best first.
        self.accepted = accepted
        self.refused = refused

    def to_dict(self):
        return {
            'mode': self.mode, 'cpu_models': self.cpu_models,
            'source': self.source, 'chosen': self.chosen,
            'accepted': [{'host': h, 'similarity': round(s, 3),
                          'weight': round(w, 3)}
                         for h, s, w in self.accepted],
            'refused': [r.to_dict() for r in self.refused],
        }


class Demo(object):
    """Set up the embedded cloud, publish, schedule; report as it goes."""

    def __init__(self, modes=cpu_modes.MODES, cpu_model=None,
                 live=True, uri=None, config_files=(), fleet=None,
                 progress=None, sources=None):
        for mode in modes:
            if mode not in cpu_modes.MODES:
                raise InputError('--mode %s: not one of %s'
                                 % (mode, ', '.join(cpu_modes.MODES)))
        self.modes = list(modes)
        self.cpu_model = cpu_model
        self.live = live
        self.uri = uri
        self.config_files = list(config_files)
        self.fleet_file = fleet or demo_hosts.FLEET_FILE
        self.progress = progress or (lambda text: None)
        #: Schedule guests on these hosts only (None: every host).
        self.sources = list(sources) if sources else None
        self.hosts = []
        self.placement_calls = 0

    def run(self):
        """[Decision] for every mode and every host of the fleet."""
        check_requirements()
        self._load_hosts()
        names = [h.name for h in self.hosts]
        unknown = [s for s in self.sources or () if s not in names]
        if unknown:
            raise InputError('--source %s: not in the demo fleet (%s)'
                             % (', '.join(unknown), ', '.join(names)))
        conf = offline.nova_conf(self.config_files)
        with embedded.EmbeddedPlacement() as placement:
            self.progress('placement: in process, sqlite in %s'
                          % placement.tmp)
            return self._run(conf, placement)

    def _load_hosts(self):
        from migcompat_filter.host import source as hostsource

        self.hosts = demo_hosts.load_fleet(self.fleet_file)
        if os.path.abspath(self.fleet_file) == demo_hosts.FLEET_FILE:
            where = 'bundled with migcompat (migcompat_filter/demo/data)'
        else:
            where = 'from %s' % os.path.dirname(self.fleet_file)
        self.progress('fleet: %d real host profiles %s:'
                      % (len(self.hosts), where))
        for host in self.hosts:
            self.progress('  %-16s %s' % (host.name, host.description))
            if host.filled:
                self.progress('  %-16s   filled in: %s'
                              % ('', _filled_summary(host.filled)))
            if _approximated(host.profile):
                self.progress('  %-16s   host-model CPU: approximated from '
                              'the host CPU (no domain capabilities in the '
                              'snapshot)' % '')
            self._say_custom_model(host)
        if self.live:
            host = demo_hosts.live_host(self.uri or hostsource.DEFAULT_URI)
            unknown = host.unknown_factors()
            self.progress('  %-16s %s: %d factors read, %d unknown' % (
                host.name, host.description,
                len(host.profile.factors) - len(unknown), len(unknown)))
            for factor, reason in unknown:
                self.progress('    unknown %s: %s' % (factor, reason))
            self._say_custom_model(host)
            self.hosts.append(host)

    def _say_custom_model(self, host):
        """Where the custom-mode guest model is not the vendor's (the
        host cannot run it), say which and why.
        """
        if cpu_modes.CUSTOM not in self.modes or self.cpu_model:
            return
        why = host.custom_model()[1]
        if why:
            self.progress('  %-16s   custom mode: %s' % ('', why))

    def _run(self, conf, placement):
        from migcompat_filter.placement import client as placement_mod
        from migcompat_filter.scheduler import state

        client = placement_mod.PlacementClient(placement.adapter)
        self._create_compute_nodes(placement)
        hm = offline.make_host_manager(conf)
        self.progress('scheduler: nova %s HostManager; filters: %s; '
                      'weighers: %s' % (
                          _nova_version(),
                          ', '.join(f.__class__.__name__
                                    for f in hm.enabled_filters),
                          ', '.join(w.__class__.__name__
                                    for w in hm.weighers)))
        decisions = []
        for mode in self.modes:
            self._publish(client, mode)
            # A fresh scheduler per mode: what nova-scheduler sees once
            # its profile cache TTL has passed after the reporters ran.
            sched_client = embedded.SchedulerPlacement(placement.adapter)
            # Read in the foreground: no refresher thread beside the
            # demo's in-process placement, and no first-request wait.
            state.reset_shared(
                lambda: sched_client, background=False).profiles.refresh_now()
            for host in self.hosts:
                if self.sources is None or host.name in self.sources:
                    decisions.append(self._schedule(conf, hm, mode, host))
            self.placement_calls += sched_client.calls
        kept = sum(1 for h in self.hosts
                   if set(embedded.NOVA_TRAITS) <= placement.traits(h.rp_uuid))
        self.progress('reporter: nova\'s own %s kept on %d of %d providers'
                      % (', '.join(embedded.NOVA_TRAITS), kept,
                         len(self.hosts)))
        return decisions

    def _create_compute_nodes(self, placement):
        from oslo_utils import uuidutils

        cell = uuidutils.generate_uuid()
        for host in self.hosts:
            host.rp_uuid = placement.create_provider(host.name)
            # The same size and load for every host, so that only our
            # filter and weigher tell them apart.
            host.host_state = offline.make_host_state(
                host.name, host.name, cell, host.rp_uuid,
                offline.hypervisor_version(host.profile['qemu_version']))

    def _publish(self, client, mode):
        """Every host's traits in this guest CPU mode, as the reporter
        publishes them.
        """
        from migcompat_filter.placement import reporter
        from migcompat_filter.traits import codec as traits

        results = []
        for host in self.hosts:
            wanted = traits.encode(host.in_mode(mode, self.cpu_model), 3)
            results.append(reporter.sync(client, host.rp_uuid, wanted))
        self.progress(
            'reporter: cpu_mode = %s: %d hosts, %d traits added, %d '
            'removed, %d Placement requests' % (
                mode, len(results),
                sum(len(r.added) for r in results),
                sum(len(r.removed) for r in results), client.requests))
        client.requests = 0

    def _schedule(self, conf, hm, mode, source):
        from migcompat_filter import conf as conf_mod
        from migcompat_filter.scheduler import migration_filter

        spec = offline.request_spec(source)
        # Every compute service reports in before each request, as nova's
        # do every report_interval: publishing and scheduling on a loaded
        # machine may take longer than service_down_time.
        for host in self.hosts:
            offline.heartbeat(host.host_state)
        with offline.migrations_known({spec.instance_uuid: source}):
            passed = hm.get_filtered_hosts(
                [h.host_state for h in self.hosts], spec)
            weighed = hm.get_weighed_hosts(passed, spec)
        judgement = migration_filter.stashed(spec)
        policy = conf_mod.policy_from_conf(conf)
        accepted = _accepted(judgement, weighed)
        passed_names = {hs.host for hs in passed}
        refused = [_refusal(judgement, policy, h.host_state)
                   for h in self.hosts if h is not source and
                   h.host_state.host not in passed_names]
        return Decision(mode, source.name,
                        accepted[0][0] if accepted else None,
                        accepted, refused,
                        cpu_models=(source.cpu_models(self.cpu_model)
                                    if mode == cpu_modes.CUSTOM else ()))


def _accepted(judgement, weighed):
    """[(host, similarity, nova's weight)] of the weighed hosts."""
    from migcompat_filter.rules import engine

    accepted = []
    for w in weighed:
        sim = 0.0
        if judgement is not None:
            hp = judgement.hosts.get(w.obj.uuid)
            if hp is not None and hp.profile is not None:
                sim = engine.similarity(judgement.source.profile,
                                        hp.profile)
        accepted.append((w.obj.host, sim, w.weight))
    return accepted


def _refusal(judgement, policy, hs):
    """Why a candidate was refused: the blocking findings, or its state."""
    from migcompat_filter.rules import engine

    hp = judgement.hosts.get(hs.uuid) if judgement else None
    if hp is None or hp.profile is None:
        return Refusal(hs.host, [], [],
                       state='%s: %s' % (hp.state, hp.reason) if hp else
                       'refused before MigrationCompatibilityFilter')
    verdict = engine.evaluate(judgement.source.profile, hp.profile,
                              judgement.mode, policy)
    return Refusal(hs.host, verdict.factors(), verdict.blocking)


def _approximated(profile):
    """True when the profile's host-model CPU is the reader's
    approximation, not libvirt's domain capabilities.
    """
    hm = profile['host_model']
    return isinstance(hm, dict) and bool(hm.get('approximated'))


def _filled_summary(filled):
    """'a, b from X; c from a distribution stack' from ['a (X)', ...]."""
    groups = {}
    for item in filled:
        factor, _sep, origin = item.partition(' (')
        origin = origin.rstrip(')') or '?'
        groups.setdefault(origin, []).append(factor)
    return '; '.join('%s from %s' % (
        ', '.join(factors),
        'a distribution stack' if origin == 'stack' else origin)
        for origin, factors in groups.items())


def _nova_version():
    try:
        from nova import version
        return version.version_string()
    except Exception:
        return '(unknown version)'
