"""The whole flow on one machine, with no cloud: ``migcompat demo``.

1. An in-process Placement on a private sqlite database
   (``placement.direct.PlacementDirect``, from openstack-placement).
2. A fleet: real host profiles bundled in ``migcompat_filter/data`` (see
   ``tools/make_demo_fleet.py``) plus this machine's own live profile
   (whatever cannot be read, e.g. with libvirt down, is shown unknown).
3. The reporter (``reporter.sync``, what ``migcompat report`` runs)
   publishing every host's traits on its resource provider.
4. nova's own scheduler code (``HostManager.get_filtered_hosts`` and
   ``get_weighed_hosts``) with nova's default filters and weighers plus
   MigrationCompatibilityFilter and MigrationSimilarityWeigher, choosing a
   live-migration target for a guest on each host, in each guest CPU mode.

What is not real: nova's database. The filter asks it one question per
request (is this instance live-migrating, and from which compute node);
the demo answers it from its own fleet instead. Everything the filter and
weigher decide comes from the traits they read back from Placement.
"""

import contextlib
import json
import logging
import os
import shutil
import socket
import tempfile
import uuid

from migcompat_filter.exception import InputError
from migcompat_filter import profile as profile_mod
from migcompat_filter.rules import values

LOG = logging.getLogger(__name__)

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'data')
FLEET_FILE = os.path.join(DATA, 'fleet.json')

MODES = ('host-model', 'host-passthrough', 'custom')
#: The named CPU model of custom-mode guests ([libvirt] cpu_models) by CPU
#: vendor, as operators set one per group of hosts: the oldest EPYC model,
#: and a TSX-less Skylake, which the Cascade Lake hosts can all run.
DEFAULT_CPU_MODELS = {'AMD': 'EPYC', 'Intel': 'Skylake-Server-noTSX-IBRS'}
FALLBACK_CPU_MODEL = 'qemu64'
#: Factors the demo sets itself (nova.conf's [libvirt] options).
DEMO_SET_FACTORS = ('cpu_mode', 'cpu_models')
LIVE_NAME_SUFFIX = ' (live)'
#: Traits nova-compute sets on every compute node provider; the reporter
#: must leave them alone.
NOVA_TRAITS = ('COMPUTE_NODE',)


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


class DemoHost(object):
    """One compute host of the demo fleet."""

    def __init__(self, name, description, profile, live=False, filled=()):
        self.name = name
        self.description = description
        self.profile = profile
        self.live = live
        #: Factors tools/make_demo_fleet.py filled in (not in the snapshot).
        self.filled = list(filled)
        self.rp_uuid = None
        self.host_state = None

    def unknown_factors(self):
        """[(factor, reason)] of the factors that could not be read."""
        out = []
        for factor in sorted(self.profile.factors):
            if factor in DEMO_SET_FACTORS:
                continue
            value = self.profile.factors[factor]
            if profile_mod.is_unknown(value):
                out.append((factor, value.reason))
        return out

    def cpu_models(self, override=None):
        """The guest CPU models of this host in custom mode."""
        if override:
            return [override]
        cpu = self.profile['cpu_model']
        vendor = cpu.get('vendor') if isinstance(cpu, dict) else None
        return [DEFAULT_CPU_MODELS.get(vendor, FALLBACK_CPU_MODEL)]

    def in_mode(self, mode, cpu_model=None):
        """This host's profile with nova's [libvirt] cpu_mode (and, for
        custom, cpu_models) set."""
        factors = dict(self.profile.factors)
        factors['cpu_mode'] = mode
        factors['cpu_models'] = (self.cpu_models(cpu_model)
                                 if mode == 'custom' else [])
        return profile_mod.Profile(factors)


# -- the fleet ---------------------------------------------------------------

def load_fleet(path=FLEET_FILE):
    """The bundled hosts (DemoHost list) in fleet.json's order."""
    try:
        with open(path, encoding='utf-8') as f:
            manifest = json.load(f)
    except (OSError, ValueError) as e:
        raise InputError('%s: the bundled demo fleet cannot be read (%s); '
                         'is the package installed with its data files?'
                         % (path, e))
    base = os.path.dirname(path)
    hosts = []
    for entry in manifest.get('hosts', []):
        prof_path = os.path.join(base, entry['profile'])
        try:
            with open(prof_path, encoding='utf-8') as f:
                text = f.read()
        except OSError as e:
            raise InputError('%s: cannot be read: %s'
                             % (prof_path, e.strerror or e))
        hosts.append(DemoHost(entry['name'], entry['description'],
                              profile_mod.Profile.from_json(
                                  text, origin=prof_path),
                              filled=entry.get('filled', ())))
    if not hosts:
        raise InputError('%s: lists no hosts' % path)
    return hosts


def live_host(uri):
    """This machine as a DemoHost; never raises.

    Without libvirt (not installed, daemon down, no permission) the
    libvirt factors are Unknown with the reason, as the reporter would
    publish them on a real compute node.
    """
    from migcompat_filter import hostsource
    from migcompat_filter import reader
    name = (socket.gethostname() or 'this-host').split('.')[0]
    try:
        source = hostsource.open_source(None, uri)
    except Exception as e:  # libvirt module missing and the like
        reason = 'this host could not be read: %s: %s' % (
            type(e).__name__, e)
        factors = {n: profile_mod.Unknown(reason)
                   for n in profile_mod.FACTOR_SCHEMA}
        prof = profile_mod.Profile(factors)
    else:
        try:
            prof = reader.read_profile(source)
        finally:
            source.close()
    return DemoHost(name + LIVE_NAME_SUFFIX, 'this machine, read live now',
                    prof, live=True)


# -- Placement ---------------------------------------------------------------

class EmbeddedPlacement(object):
    """An in-process Placement on a sqlite file in a private directory."""

    def __init__(self):
        self.tmp = None
        self._direct = None
        self.adapter = None

    def __enter__(self):
        from oslo_config import cfg
        from placement import conf as placement_conf
        from placement import direct
        self.tmp = tempfile.mkdtemp(prefix='migcompat-demo-')
        conf = cfg.ConfigOpts()
        placement_conf.register_opts(conf)
        conf.set_override(
            'connection', 'sqlite:///' + os.path.join(self.tmp,
                                                      'placement.sqlite'),
            group='placement_database')
        conf.set_override('sync_on_startup', True,
                          group='placement_database')
        conf([], project='placement', default_config_files=[])
        self._direct = direct.PlacementDirect(conf,
                                              latest_microversion=True)
        self.adapter = self._direct.__enter__()
        return self

    def __exit__(self, *exc):
        try:
            if self._direct is not None:
                self._direct.__exit__(*exc)
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def create_provider(self, name):
        """A compute node's root resource provider, as nova-compute makes
        it (with nova's own COMPUTE_NODE trait); its UUID."""
        rp_uuid = str(uuid.uuid4())
        resp = self.adapter.post(
            '/resource_providers', json={'name': name, 'uuid': rp_uuid},
            microversion='1.20', raise_exc=False)
        if resp.status_code != 200:
            raise RuntimeError('placement refused provider %s: HTTP %d %s'
                               % (name, resp.status_code, resp.text))
        generation = resp.json()['generation']
        resp = self.adapter.put(
            '/resource_providers/%s/traits' % rp_uuid,
            json={'traits': list(NOVA_TRAITS),
                  'resource_provider_generation': generation},
            microversion='1.6', raise_exc=False)
        if resp.status_code != 200:
            raise RuntimeError('placement refused traits of %s: HTTP %d %s'
                               % (name, resp.status_code, resp.text))
        return rp_uuid

    def traits(self, rp_uuid):
        resp = self.adapter.get('/resource_providers/%s/traits' % rp_uuid,
                                microversion='1.6', raise_exc=False)
        return set(resp.json().get('traits', []))


class SchedulerPlacement(object):
    """The one method of nova's report client the filter's profile cache
    uses (``get(url, version=...)``), on the embedded Placement."""

    def __init__(self, adapter):
        self.adapter = adapter
        self.calls = 0

    def get(self, url, version=None, global_request_id=None):
        self.calls += 1
        return self.adapter.get(url, microversion=version, raise_exc=False,
                                global_request_id=global_request_id)


# -- nova's scheduler --------------------------------------------------------

def _nova_conf(config_files):
    """nova's global CONF, parsed once, with our [migcompat] options and the
    nova.conf lines the documentation gives."""
    import nova.conf
    from nova import objects

    from migcompat_filter import conf as mc_conf

    objects.register_all()
    conf = nova.conf.CONF
    mc_conf.register_opts(conf)
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


def _hypervisor_version(qemu_version):
    """nova's integer form of the QEMU version (7.2.22 -> 7002022); 0 when
    unknown."""
    parts = values.parse_version(qemu_version, 'qemu_version')
    if profile_mod.is_unknown(parts):
        return 0
    return parts[0] * 1000000 + parts[1] * 1000 + parts[2]


def _request_spec(source):
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
def _migrations_known(sources):
    """Answer the filter's database question from the demo fleet.

    In nova-scheduler the filter loads the Instance (task_state
    'migrating' tells a live migration) and its source ComputeNode from
    nova's database. The demo has no nova database; its requests are all
    live migrations and it knows their sources (instance uuid -> host).
    """
    from migcompat_filter.scheduler import migration_filter

    def live_migration(spec_obj):
        host = sources.get(spec_obj.instance_uuid)
        if host is None:
            return None
        return migration_filter.LiveMigration(
            spec_obj.instance_uuid, host.name, host.name, host.rp_uuid)

    original = migration_filter.live_migration
    migration_filter.live_migration = live_migration
    try:
        yield
    finally:
        migration_filter.live_migration = original


# -- the run -----------------------------------------------------------------

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

    def __init__(self, modes=MODES, cpu_model=None,
                 live=True, uri=None, config_files=(), fleet=None,
                 progress=None, sources=None):
        for mode in modes:
            if mode not in MODES:
                raise InputError('--mode %s: not one of %s'
                                 % (mode, ', '.join(MODES)))
        self.modes = list(modes)
        self.cpu_model = cpu_model
        self.live = live
        self.uri = uri
        self.config_files = list(config_files)
        self.fleet_file = fleet or FLEET_FILE
        self.progress = progress or (lambda text: None)
        #: Schedule guests on these hosts only (None: every host).
        self.sources = list(sources) if sources else None
        self.hosts = []
        self.placement_calls = 0

    def run(self):
        """[Decision] for every mode and every host of the fleet."""
        from migcompat_filter import hostsource

        check_requirements()
        self.hosts = load_fleet(self.fleet_file)
        self.progress('fleet: %d real host profiles bundled in %s:'
                      % (len(self.hosts), os.path.dirname(self.fleet_file)))
        for host in self.hosts:
            self.progress('  %-16s %s' % (host.name, host.description))
            if host.filled:
                self.progress('  %-16s   filled in: %s'
                              % ('', _filled_summary(host.filled)))
        if self.live:
            host = live_host(self.uri or hostsource.DEFAULT_URI)
            unknown = host.unknown_factors()
            self.progress('  %-16s %s: %d factors read, %d unknown' % (
                host.name, host.description,
                len(host.profile.factors) - len(unknown), len(unknown)))
            for factor, reason in unknown:
                self.progress('    unknown %s: %s' % (factor, reason))
            self.hosts.append(host)
        names = [h.name for h in self.hosts]
        unknown = [s for s in self.sources or () if s not in names]
        if unknown:
            raise InputError('--source %s: not in the demo fleet (%s)'
                             % (', '.join(unknown), ', '.join(names)))
        conf = _nova_conf(self.config_files)
        with EmbeddedPlacement() as placement:
            self.progress('placement: in process, sqlite in %s'
                          % placement.tmp)
            return self._run(conf, placement)

    def _run(self, conf, embedded):
        from oslo_utils import uuidutils

        from migcompat_filter import placement as placement_mod
        from migcompat_filter import reporter
        from migcompat_filter import traits
        from migcompat_filter.scheduler import migration_filter
        from migcompat_filter.scheduler import offline

        client = placement_mod.PlacementClient(embedded.adapter)
        cell = uuidutils.generate_uuid()
        for host in self.hosts:
            host.rp_uuid = embedded.create_provider(host.name)
            # The same size and load for every host, so that only our
            # filter and weigher tell them apart.
            host.host_state = offline.make_host_state(
                host.name, host.name, cell, host.rp_uuid,
                _hypervisor_version(host.profile['qemu_version']))
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
            results = []
            for host in self.hosts:
                wanted = traits.encode(host.in_mode(mode, self.cpu_model))
                results.append(reporter.sync(client, host.rp_uuid, wanted))
            self.progress(
                'reporter: cpu_mode = %s: %d hosts, %d traits added, %d '
                'removed, %d Placement requests' % (
                    mode, len(results),
                    sum(len(r.added) for r in results),
                    sum(len(r.removed) for r in results), client.requests))
            client.requests = 0
            # A fresh scheduler per mode: what nova-scheduler sees once
            # its profile cache TTL has passed after the reporters ran.
            sched_client = SchedulerPlacement(embedded.adapter)
            migration_filter.reset_shared(lambda: sched_client)
            for host in self.hosts:
                if self.sources is None or host.name in self.sources:
                    decisions.append(self._schedule(conf, hm, mode, host))
            self.placement_calls += sched_client.calls
        kept = sum(1 for h in self.hosts
                   if set(NOVA_TRAITS) <= embedded.traits(h.rp_uuid))
        self.progress('reporter: nova\'s own %s kept on %d of %d providers'
                      % (', '.join(NOVA_TRAITS), kept, len(self.hosts)))
        return decisions

    def _schedule(self, conf, hm, mode, source):
        from migcompat_filter.conf import policy_from_conf
        from migcompat_filter.rules import engine
        from migcompat_filter.scheduler import migration_filter

        spec = _request_spec(source)
        candidates = [h.host_state for h in self.hosts if h is not source]
        with _migrations_known({spec.instance_uuid: source}):
            passed = hm.get_filtered_hosts(
                [h.host_state for h in self.hosts], spec)
            weighed = hm.get_weighed_hosts(passed, spec)
        judgement = migration_filter.stashed(spec)
        policy = policy_from_conf(conf)
        passed_names = {hs.host for hs in passed}
        accepted = []
        for w in weighed:
            sim = 0.0
            if judgement is not None:
                hp = judgement.hosts.get(w.obj.uuid)
                if hp is not None and hp.profile is not None:
                    sim = engine.similarity(judgement.source.profile,
                                            hp.profile)
            accepted.append((w.obj.host, sim, w.weight))
        refused = []
        for hs in candidates:
            if hs.host in passed_names:
                continue
            hp = judgement.hosts.get(hs.uuid) if judgement else None
            if hp is None or hp.profile is None:
                refused.append(Refusal(
                    hs.host, [], [],
                    state='%s: %s' % (hp.state, hp.reason) if hp else
                    'refused before MigrationCompatibilityFilter'))
                continue
            verdict = engine.evaluate(judgement.source.profile, hp.profile,
                                      judgement.mode, policy)
            refused.append(Refusal(hs.host, verdict.factors(),
                                   verdict.blocking))
        return Decision(mode, source.name,
                        accepted[0][0] if accepted else None,
                        accepted, refused,
                        cpu_models=(source.cpu_models(self.cpu_model)
                                    if mode == 'custom' else ()))


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
