"""The cloud as migcompat sees it: compute nodes, their profiles, and who
can receive live migrations from whom.

Compute nodes are Placement's root resource providers (a compute node's
provider UUID is nova's compute node UUID). When nova's API is reachable
its hypervisor list names the compute nodes exactly, gives the service
host of each and its state, finds servers and resolves aggregates by name;
without nova, the compute nodes are the root providers that carry nova's
``COMPUTE_NODE`` trait or any trait of ours, and aggregates are Placement
aggregate UUIDs.

Each provider's traits are read with bounded parallelism and decoded into
a :class:`~migcompat_filter.profile.Profile` with the one codec
(:mod:`migcompat_filter.traits`). Hosts with identical traits have
identical profiles: they form one :class:`Group`, and the compatibility
matrix evaluates the one rules engine once per *group* pair, not per host
pair.

:func:`baseline` is the EVC-style answer to "which guest CPU can run on
every one of these hosts": the features common to the hosts' host-model
CPUs, the richest named model usable on all of them, and the nova
``[libvirt]`` lines, checked against libvirt's own baseline API.
"""

import concurrent.futures
import email.utils
import json
import threading

from keystoneauth1 import adapter as ks_adapter
from keystoneauth1 import exceptions as ks_exc
from keystoneauth1 import session as ks_session
from keystoneauth1 import token_endpoint

from migcompat_filter.exception import InputError
from migcompat_filter import placement
from migcompat_filter.profile import is_unknown
from migcompat_filter.profile import Profile
from migcompat_filter import traits as traits_mod

#: nova API microversion: 2.53 makes a hypervisor's id the compute node
#: UUID (= its resource provider UUID).
COMPUTE_MICROVERSION = '2.53'
#: The trait nova-compute puts on every compute node provider.
COMPUTE_NODE_TRAIT = 'COMPUTE_NODE'
DEFAULT_WORKERS = 8

# Host states, as the scheduler filter names them.
TRAITED = 'traited'
UNTRAITED = 'untraited'
UNREADABLE = 'unreadable'
#: Placement failed while reading the host.
ERROR = 'error'


class NovaError(placement.PlacementError):
    """nova's API could not be reached or refused a request."""


class NotFound(InputError):
    """No compute node, server or aggregate by that name."""


# -- nova ---------------------------------------------------------------

class NovaClient(object):
    """The few nova API calls the fleet needs (admin credentials)."""

    def __init__(self, adapter):
        self.adapter = adapter
        self.requests = 0

    def _get(self, url, what, ok=(200,)):
        self.requests += 1
        try:
            resp = self.adapter.get(url, raise_exc=False)
        except ks_exc.EndpointNotFound as e:
            raise NovaError('%s: no compute endpoint in the service '
                            'catalog: %s' % (what, e))
        except ks_exc.ClientException as e:
            raise NovaError('%s: cannot reach nova: %s: %s'
                            % (what, type(e).__name__, e))
        if resp.status_code not in ok:
            raise NovaError('%s: nova answered HTTP %d: %s'
                            % (what, resp.status_code,
                               ' '.join(resp.text.split())[:300]))
        return resp

    def _paged(self, url, key, what):
        out = []
        while url:
            body = self._get(url, what).json()
            out.extend(body.get(key) or [])
            url = None
            for link in body.get(key + '_links') or ():
                if link.get('rel') == 'next':
                    url = link['href']
        return out

    def hypervisors(self):
        """[{id (compute node UUID), hypervisor_hostname, state, status,
        service: {host, disabled_reason}}]."""
        return self._paged('/os-hypervisors/detail', 'hypervisors',
                           'list hypervisors')

    def aggregates(self):
        return self._get('/os-aggregates', 'list aggregates').json()[
            'aggregates']

    def server(self, name_or_id):
        """One server (admin view), by UUID or exact name."""
        if placement.is_uuid(name_or_id):
            resp = self._get('/servers/%s' % name_or_id,
                             'look up server %s' % name_or_id,
                             ok=(200, 404))
            if resp.status_code == 200:
                return resp.json()['server']
        from urllib.parse import quote
        import re
        servers = self._get(
            '/servers/detail?all_tenants=1&name=%s'
            % quote('^%s$' % re.escape(name_or_id), safe=''),
            'look up server %s' % name_or_id).json()['servers']
        servers = [s for s in servers if s.get('name') == name_or_id]
        if not servers:
            raise NotFound('no server named or with ID %r (nova searched '
                           'all projects)' % name_or_id)
        if len(servers) > 1:
            raise NotFound('%d servers are named %r; give its ID: %s'
                           % (len(servers), name_or_id,
                              ', '.join(s['id'] for s in servers)))
        return servers[0]


def nova_adapter_from(placement_adapter):
    """A compute Adapter on the same session, interface and region."""
    return ks_adapter.Adapter(
        placement_adapter.session, service_type='compute',
        auth=placement_adapter.auth,
        interface=placement_adapter.interface,
        region_name=placement_adapter.region_name,
        default_microversion=COMPUTE_MICROVERSION)


def nova_adapter_noauth(url, token='admin', timeout=30.0):
    """A compute Adapter for a fixed endpoint and token (tests)."""
    sess = ks_session.Session(auth=token_endpoint.Token(url, token),
                              timeout=timeout)
    return ks_adapter.Adapter(sess, service_type='compute',
                              endpoint_override=url,
                              default_microversion=COMPUTE_MICROVERSION)


# -- hosts ----------------------------------------------------------------

def _http_date(value):
    """ISO 8601 UTC from an HTTP date header, or None."""
    if not value:
        return None
    try:
        stamp = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return stamp.strftime('%Y-%m-%dT%H:%M:%SZ')


class Host(object):
    """One compute node: provider, traits, decoded profile, nova view."""

    def __init__(self, name, uuid, hypervisor=None):
        self.name = name
        self.uuid = uuid
        #: nova's hypervisor record when nova answered, else None.
        self.hypervisor = hypervisor
        self.traits = set()
        self.generation = None
        self.profile = Profile({})
        self.problems = []
        self.state = UNTRAITED
        #: When Placement last changed the provider (any writer); the
        #: reporter's last change of our traits is at or before it.
        self.updated = None
        #: When the newest of this host's trait names of ours was first
        #: created in Placement; the reporter's last change is at or
        #: after it.
        self.traits_created = None
        self.error = None

    @property
    def service_host(self):
        if self.hypervisor:
            return (self.hypervisor.get('service') or {}).get('host')
        return None

    @property
    def ours(self):
        return sorted(t for t in self.traits if traits_mod.is_ours(t))

    @property
    def key(self):
        """Hosts with the same key have the same profile."""
        return tuple(self.ours)

    def nova_refusal(self):
        """Why nova itself would not schedule to this host, or None."""
        hyp = self.hypervisor
        if not hyp:
            return None
        if hyp.get('state') not in (None, 'up'):
            return 'nova-compute service is %s' % hyp.get('state')
        if hyp.get('status') not in (None, 'enabled'):
            why = (hyp.get('service') or {}).get('disabled_reason')
            return 'nova-compute service is %s%s' % (
                hyp.get('status'), ' (%s)' % why if why else '')
        return None

    def names(self):
        return {n for n in (self.name, self.uuid, self.service_host) if n}

    def __repr__(self):
        return 'Host(%s, %s, %s)' % (self.name, self.uuid, self.state)


class Fleet(object):
    """Compute nodes from Placement (and nova, when reachable)."""

    def __init__(self, placement_client, nova=None, workers=DEFAULT_WORKERS,
                 progress=None):
        self.placement = placement_client
        self.nova = nova
        #: Why nova is not used (shown to the user), or None.
        self.nova_error = None if nova else 'no compute endpoint configured'
        self.nova_failed = False
        self.workers = max(1, int(workers))
        self.progress = progress

    # -- listing --------------------------------------------------------

    def _hypervisors(self):
        if self.nova is None:
            return None
        try:
            return self.nova.hypervisors()
        except NovaError as e:
            self.nova_error = str(e)
            #: nova was configured but could not be used (worth saying).
            self.nova_failed = True
            self.nova = None
            return None

    def _root_providers(self, member_of=None):
        url = '/resource_providers'
        if member_of:
            url += '?member_of=%s' % member_of
        resp = self.placement._request('GET', url,
                                       'list resource providers')
        return [rp for rp in resp.json()['resource_providers']
                if rp.get('root_provider_uuid', rp['uuid']) == rp['uuid']]

    def compute_nodes(self, aggregate=None):
        """[Host] without traits read yet, sorted by name."""
        hypervisors = self._hypervisors()
        member_uuids = service_hosts = None
        if aggregate:
            member_uuids, service_hosts = self._aggregate(aggregate)
        if hypervisors is not None:
            hosts = [Host(h['hypervisor_hostname'], h['id'], hypervisor=h)
                     for h in hypervisors]
            if aggregate and service_hosts is not None:
                hosts = [h for h in hosts if h.service_host in service_hosts]
            elif aggregate:
                hosts = [h for h in hosts if h.uuid in member_uuids]
            self._only_compute = False
        else:
            roots = self._root_providers()
            hosts = [Host(rp['name'], rp['uuid']) for rp in roots]
            if aggregate:
                hosts = [h for h in hosts if h.uuid in member_uuids]
            # Which roots are compute nodes is known once traits are read.
            self._only_compute = True
        return sorted(hosts, key=lambda h: (h.name, h.uuid))

    def _aggregate(self, name):
        """(provider UUIDs, nova service hosts or None) of an aggregate."""
        if self.nova is not None:
            try:
                aggs = self.nova.aggregates()
            except NovaError as e:
                self.nova_error = str(e)
                aggs = None
            if aggs is not None:
                for agg in aggs:
                    if name in (agg.get('name'), str(agg.get('id')),
                                agg.get('uuid')):
                        return set(), set(agg.get('hosts') or ())
                if not placement.is_uuid(name):
                    raise NotFound(
                        'no nova host aggregate named %r (known: %s)'
                        % (name, ', '.join(sorted(
                            a.get('name') or str(a.get('id'))
                            for a in aggs)) or 'none'))
        if not placement.is_uuid(name):
            raise NotFound(
                'aggregate %r: without nova\'s API only a Placement '
                'aggregate UUID can be given (%s)'
                % (name, self.nova_error or 'nova not configured'))
        uuids = {rp['uuid'] for rp in self._root_providers(member_of=name)}
        return uuids, None

    # -- reading ----------------------------------------------------------

    def _read(self, host, timestamps):
        try:
            resp = self.placement._request(
                'GET', '/resource_providers/%s/traits' % host.uuid,
                'read traits of %s' % host.name, ok=(200, 404))
            if resp.status_code == 404:
                host.error = 'no resource provider %s in Placement' % (
                    host.uuid)
                return host
            body = resp.json()
            host.traits = set(body['traits'])
            host.generation = body['resource_provider_generation']
            if timestamps:
                host.traits_created = self._ours_created(host)
                rp = self.placement._request(
                    'GET', '/resource_providers/%s' % host.uuid,
                    'read resource provider %s' % host.name, ok=(200, 404))
                host.updated = _http_date(rp.headers.get('Last-Modified'))
        except placement.PlacementError as e:
            host.error = str(e)
            return host
        if host.ours:
            host.profile, host.problems = traits_mod.parse(host.ours)
            host.state = UNREADABLE if any(
                p.trait == traits_mod.PREFIX + traits_mod.SCHEMA_CODE
                for p in host.problems) else TRAITED
        return host

    def _ours_created(self, host):
        # Placement's Last-Modified on a trait list is the newest creation
        # time of the names listed; a name of ours is created the first
        # time any host reports that value.
        newest = None
        batch = []
        # Batches keep the request line short (servers limit it to 4 KiB).
        for name in host.ours + [None]:
            if name and sum(len(n) + 1 for n in batch) + len(name) < 1500:
                batch.append(name)
                continue
            if batch:
                resp = self.placement._request(
                    'GET', '/traits?name=in:%s' % ','.join(batch),
                    'read trait names of %s' % host.name)
                stamp = email.utils.parsedate_to_datetime(
                    resp.headers['Last-Modified']) if resp.headers.get(
                        'Last-Modified') else None
                if stamp and (newest is None or stamp > newest):
                    newest = stamp
            batch = [name]
        return newest.strftime('%Y-%m-%dT%H:%M:%SZ') if newest else None

    def load(self, aggregate=None, names=None, timestamps=False):
        """The compute nodes with traits and profiles, sorted by name.

        names: only these hosts (name, service host or UUID); NotFound
        for a name that is none of them.
        """
        hosts = self.compute_nodes(aggregate=aggregate)
        if names:
            hosts = [self._pick(hosts, n) for n in names]
        total = len(hosts)
        done = [0]
        lock = threading.Lock()

        def read(host):
            self._read(host, timestamps)
            with lock:
                done[0] += 1
                if self.progress:
                    self.progress(done[0], total)
            return host

        if total:
            with concurrent.futures.ThreadPoolExecutor(
                    min(self.workers, total)) as pool:
                list(pool.map(read, hosts))
        if self._only_compute and not names:
            hosts = [h for h in hosts
                     if COMPUTE_NODE_TRAIT in h.traits or h.ours]
        return hosts

    def _pick(self, hosts, name):
        found = [h for h in hosts if name in h.names()]
        if not found:
            raise NotFound(
                'no compute node named %r%s' % (
                    name, ' (nova: %s)' % self.nova_error
                    if self.nova_error and self.nova is None else ''))
        if len(found) > 1:
            raise NotFound('%r names %d compute nodes (%s); give the node '
                           'name or UUID'
                           % (name, len(found),
                              ', '.join(h.name for h in found)))
        return found[0]

    def host(self, name, timestamps=True):
        return self.load(names=[name], timestamps=timestamps)[0]

    def server_host(self, server_name):
        """(server dict, Host it runs on); needs nova's API."""
        if self.nova is None:
            raise InputError('finding server %r needs nova\'s API (%s)'
                             % (server_name, self.nova_error))
        server = self.nova.server(server_name)
        node = server.get('OS-EXT-SRV-ATTR:hypervisor_hostname')
        if not node:
            raise NotFound('server %s (%s) is on no compute node (status %s;'
                           ' admin credentials are needed to see hosts)'
                           % (server.get('name'), server['id'],
                              server.get('status')))
        return server, node


# -- summaries --------------------------------------------------------------

def _text(value):
    if value is None:
        return None
    if is_unknown(value):
        return 'unknown'
    return value


def _cpu_text(profile):
    cpu = profile['cpu_model']
    if is_unknown(cpu) or not isinstance(cpu, dict):
        hm = profile['host_model']
        if isinstance(hm, dict) and not is_unknown(hm.get('model')):
            return '%s (host-model)' % hm.get('model')
        return 'unknown'
    name = cpu.get('model_name')
    if is_unknown(name) or not name:
        name = cpu.get('libvirt_model')
    sig = []
    for part in ('family', 'model', 'stepping'):
        v = cpu.get(part)
        sig.append('?' if is_unknown(v) or v is None else str(v))
    return '%s [%s]' % (_text(name) or 'unknown', '/'.join(sig))


def _nested_text(profile):
    nested = profile['nested_virt']
    if is_unknown(nested) or not isinstance(nested, dict):
        return 'unknown'
    flag = nested.get('nested')
    if is_unknown(flag):
        return 'unknown'
    if not flag:
        return 'no'
    hv = nested.get('hypervisor')
    return 'yes' + (' (%s)' % hv if hv and not is_unknown(hv) else '')


def summary(host):
    """A host's one-line profile summary (dict of plain strings)."""
    p = host.profile
    if host.error:
        status = 'error: %s' % host.error
    elif host.state == UNTRAITED:
        status = 'no migcompat traits'
    elif host.state == UNREADABLE:
        status = 'unreadable: %s' % host.problems[0]
    elif host.problems:
        status = '%d bad trait(s)' % len(host.problems)
    else:
        status = 'reported'
    traited = host.state == TRAITED

    def field(name):
        return _text(p[name]) if traited else None

    return {
        'name': host.name,
        'uuid': host.uuid,
        'service_host': host.service_host,
        'profile': status,
        'cpu': _cpu_text(p) if traited else None,
        'microcode': field('microcode_version'),
        'kernel': field('kernel_version'),
        'qemu': field('qemu_version'),
        'libvirt': field('libvirt_version'),
        'mode': field('cpu_mode'),
        'nested': _nested_text(p) if traited else None,
        'changed': _changed_text(host),
        'nova': host.nova_refusal() or ('up, enabled' if host.hypervisor
                                        else None),
    }


def _changed_text(host):
    if host.updated and host.traits_created:
        if host.traits_created == host.updated:
            return host.updated
        return 'between %s and %s' % (host.traits_created, host.updated)
    return host.updated


# -- groups and the matrix -----------------------------------------------

class Group(object):
    """Hosts with identical migcompat traits, hence identical profiles."""

    def __init__(self, label, hosts):
        self.label = label
        self.hosts = hosts
        self.profile = hosts[0].profile

    @property
    def names(self):
        return [h.name for h in self.hosts]

    def __repr__(self):
        return 'Group(%s, %s)' % (self.label, self.names)


def group_hosts(hosts):
    """[Group] of the hosts with readable traits: biggest group first."""
    by_key = {}
    for host in hosts:
        if host.state == TRAITED and not host.error:
            by_key.setdefault(host.key, []).append(host)
    ordered = sorted(by_key.values(),
                     key=lambda hs: (-len(hs), hs[0].name))
    return [Group('G%d' % (i + 1), sorted(hs, key=lambda h: h.name))
            for i, hs in enumerate(ordered)]


class Cell(object):
    """The verdict for guests of one group moving to another group."""

    __slots__ = ('source', 'destination', 'verdict')

    def __init__(self, source, destination, verdict):
        self.source = source
        self.destination = destination
        self.verdict = verdict

    @property
    def status(self):
        if not self.verdict.compatible:
            return 'refused'
        return 'warn' if self.verdict.warnings else 'ok'

    @property
    def blocking(self):
        return self.verdict.factors('block')

    def text(self):
        if self.status == 'refused':
            return 'NO: ' + ', '.join(self.blocking)
        if self.status == 'warn':
            return 'yes (%d warning%s)' % (
                len(self.verdict.warnings),
                '' if len(self.verdict.warnings) == 1 else 's')
        return 'yes'

    def reason(self):
        first = self.verdict.blocking[:1] or self.verdict.warnings[:1]
        return first[0].message if first else ''


class Matrix(object):
    """group x group verdicts, plus the hosts left out and why."""

    def __init__(self, groups, cells, left_out, mode):
        self.groups = groups
        self.cells = cells  # (source label, destination label) -> Cell
        self.left_out = left_out  # [(host, why)]
        self.mode = mode
        self.evaluations = len(cells)

    def cell(self, source, destination):
        return self.cells[(source.label, destination.label)]


def matrix(hosts, mode=None, policy=None, cpu_models=None):
    """The live-migration matrix of the hosts, one evaluation per pair of
    groups (the diagonal too: identical hosts can still refuse, e.g. when
    a factor is unknown and the policy blocks unknowns)."""
    from migcompat_filter import rules

    groups = group_hosts(hosts)
    grouped = {h.name for g in groups for h in g.hosts}
    left_out = []
    for h in hosts:
        if h.name not in grouped:
            left_out.append((h, summary(h)['profile']))
    cells = {}
    for src in groups:
        for dst in groups:
            verdict = rules.evaluate(src.profile, dst.profile, mode=mode,
                                     policy=policy, cpu_models=cpu_models)
            cells[(src.label, dst.label)] = Cell(src, dst, verdict)
    return Matrix(groups, cells, left_out, mode)


def accepts(hosts, source, policy=None, mode=None, conf_actions=None):
    """For a guest on source: [(host, accepted, reason, verdict or None)]
    for every other host, as the scheduler filter would judge it.

    conf_actions: {UNTRAITED: 'pass'|'refuse', UNREADABLE: ..., ERROR:
    ...} - the filter's actions for hosts it cannot judge (its
    [migcompat] untraited_host_action, newer_schema_action and
    placement_error_action; their defaults are "pass").
    """
    from migcompat_filter import rules

    actions = {UNTRAITED: 'pass', UNREADABLE: 'pass', ERROR: 'pass'}
    actions.update(conf_actions or {})
    out = []
    for host in hosts:
        if host.uuid == source.uuid:
            continue
        refusal = host.nova_refusal()
        if refusal:
            out.append((host, False, 'nova: %s' % refusal, None))
            continue
        if host.error:
            act = actions[ERROR]
            out.append((host, act == 'pass', 'cannot be judged (%s): the '
                        'filter %ss it' % (host.error, act), None))
            continue
        if host.state != TRAITED:
            act = actions[host.state]
            out.append((host, act == 'pass',
                        '%s (%s): the filter %ss it' % (
                            summary(host)['profile'], host.state, act),
                        None))
            continue
        verdict = rules.evaluate(source.profile, host.profile, mode=mode,
                                 policy=policy)
        if verdict.compatible:
            reason = ('compatible' if not verdict.warnings else
                      'compatible; warns: %s' % ', '.join(
                          verdict.factors('warn')))
        else:
            first = verdict.blocking[0]
            reason = '%s: %s' % (', '.join(verdict.factors()),
                                 first.message)
        out.append((host, verdict.compatible, reason, verdict))
    return out


# -- baseline (EVC-style) ---------------------------------------------------

class BaselineError(InputError):
    """The hosts have no baseline (different vendors, nothing known)."""


def _offered(host, expand_model):
    """(vendor, set of features a host-model guest can get) or raise."""
    hm = host.profile['host_model']
    if is_unknown(hm) or not isinstance(hm, dict):
        raise BaselineError('%s: its host-model CPU is unknown (%s)' % (
            host.name, getattr(hm, 'reason', hm)))
    feats = hm.get('features')
    if is_unknown(feats) or not isinstance(feats, list):
        raise BaselineError('%s: its host-model CPU features are unknown'
                            % host.name)
    offered = set(feats)
    if not hm.get('expanded'):
        model = hm.get('model')
        base = expand_model(model, hm.get('vendor')) if model else None
        if base is None:
            raise BaselineError(
                '%s: its host-model CPU lists only the features on top of '
                'model %s, and this machine\'s libvirt cannot expand that '
                'model' % (host.name, model))
        offered |= base
    disabled = hm.get('disabled')
    if isinstance(disabled, list):
        offered -= set(disabled)
    return hm.get('vendor'), offered


class LibvirtCPUMap(object):
    """Model expansion and baseline through a libvirt connection.

    test:///default needs no daemon and knows libvirt's CPU map; it is
    what "checked with libvirt's own baseline API" means off-host.
    """

    def __init__(self, uri='test:///default'):
        self.uri = uri
        self.error = None
        self._conn = None
        self._cache = {}
        try:
            import libvirt
            self._libvirt = libvirt
            libvirt.registerErrorHandler(lambda *a: None, None)
            self._conn = libvirt.open(uri)
        except Exception as e:  # ImportError, libvirt.libvirtError
            self.error = '%s: %s' % (uri, e)

    @property
    def available(self):
        return self._conn is not None

    def model_names(self, arch='x86_64'):
        if not self.available:
            return []
        try:
            return list(self._conn.getCPUModelNames(arch))
        except self._libvirt.libvirtError:
            return []

    def expand(self, model, vendor=None, arch='x86_64'):
        """The full feature set of a named model, or None."""
        if not self.available or not model:
            return None
        key = (model, vendor, arch)
        if key not in self._cache:
            xml = _cpu_xml(arch, model, vendor, ())
            try:
                out = self._conn.baselineCPU(
                    [xml],
                    self._libvirt.VIR_CONNECT_BASELINE_CPU_EXPAND_FEATURES)
                self._cache[key] = _features_of(out)[1]
            except self._libvirt.libvirtError:
                self._cache[key] = None
        return self._cache[key]

    def baseline(self, cpus, arch='x86_64'):
        """libvirt's (model, features, unknown features) for
        [(model, vendor, features)].

        Features this libvirt's CPU map does not know (a newer libvirt
        named them) are left out and returned, so the check still runs.
        """
        import re
        unknown = set()
        # A model this libvirt does not know is replaced by the minimal
        # "486": every feature is listed explicitly anyway.
        models = set()
        for _attempt in range(64):
            xmls = [_cpu_xml(arch, m if m not in models else '486', v,
                             set(f) - unknown) for m, v, f in cpus]
            try:
                out = self._conn.baselineCPU(
                    xmls,
                    self._libvirt.VIR_CONNECT_BASELINE_CPU_EXPAND_FEATURES)
            except self._libvirt.libvirtError as e:
                m = re.search(r'Unknown CPU (feature|model) (\S+)', str(e))
                if not m or m.group(2) in unknown | models:
                    raise
                (unknown if m.group(1) == 'feature' else models).add(
                    m.group(2))
                continue
            model, feats = _features_of(out)
            return model, feats, unknown
        raise RuntimeError('too many CPU features unknown to %s' % self.uri)


def _cpu_xml(arch, model, vendor, features):
    from xml.sax.saxutils import quoteattr
    from xml.sax.saxutils import escape
    parts = ['<cpu><arch>%s</arch>' % escape(arch)]
    if model:
        parts.append('<model>%s</model>' % escape(model))
    if vendor:
        parts.append('<vendor>%s</vendor>' % escape(vendor))
    parts.extend('<feature name=%s/>' % quoteattr(f) for f in sorted(features))
    parts.append('</cpu>')
    return ''.join(parts)


def _features_of(xml):
    from defusedxml import ElementTree
    root = ElementTree.fromstring(xml)
    model = root.findtext('model')
    feats = {f.get('name') for f in root.findall('feature')
             if f.get('policy') in (None, 'require', 'force')}
    return model, feats


#: Common features that must not be turned on as cpu_model_extra_flags.
_NOT_EXTRA_FLAGS = {
    'invtsc': 'an invariant TSC makes QEMU refuse to live-migrate the '
              'guest unless its TSC frequency is pinned',
    'hypervisor': 'QEMU always sets it for guests',
}


class Baseline(object):
    """The guest CPU every host can offer, and how to configure nova."""

    def __init__(self, hosts, vendor, common, model, model_features,
                 extra_flags, candidates, libvirt_check, notes):
        self.hosts = hosts
        self.vendor = vendor
        self.common = sorted(common)
        self.model = model
        self.model_features = sorted(model_features or ())
        self.extra_flags = sorted(extra_flags)
        self.candidates = candidates
        self.libvirt_check = libvirt_check
        self.notes = notes

    def nova_conf(self):
        lines = ['[libvirt]', 'cpu_mode = custom']
        if self.model:
            lines.append('cpu_models = %s' % self.model)
        if self.extra_flags:
            lines.append('cpu_model_extra_flags = %s'
                         % ', '.join(self.extra_flags))
        return '\n'.join(lines)


def baseline(hosts, cpu_map=None):
    """The EVC-style :class:`Baseline` of the hosts (BaselineError when
    there is none)."""
    if not hosts:
        raise BaselineError('no hosts to compute a baseline for')
    cpu_map = cpu_map or LibvirtCPUMap()
    notes = []
    vendors = {}
    offers = {}
    for host in hosts:
        if host.state != TRAITED:
            raise BaselineError('%s: %s' % (host.name,
                                            summary(host)['profile']))
        vendor, offered = _offered(host, cpu_map.expand)
        vendors.setdefault(vendor, []).append(host.name)
        offers[host.name] = offered
    if len(vendors) > 1:
        raise BaselineError(
            'no common CPU: the hosts have different CPU vendors (%s); a '
            'guest never live-migrates between them' % '; '.join(
                '%s: %s' % (v, ', '.join(n)) for v, n in sorted(
                    vendors.items(), key=lambda i: str(i[0]))))
    vendor = next(iter(vendors))
    common = set.intersection(*offers.values())

    # Named models usable on every host (where the host says).
    usable = None
    unknown_usable = []
    for host in hosts:
        models = host.profile['usable_models']
        if is_unknown(models) or not isinstance(models, list):
            unknown_usable.append(host.name)
            continue
        usable = set(models) if usable is None else usable & set(models)
    if unknown_usable:
        notes.append('usable CPU models unknown on %s: the model is chosen '
                     'by its features only there' % ', '.join(unknown_usable))
    if usable is None:
        usable = set(cpu_map.model_names())
    candidates = []
    for name in sorted(usable):
        feats = cpu_map.expand(name, vendor)
        if feats is None or not feats <= common:
            continue
        candidates.append((name, feats))
    if not cpu_map.available:
        notes.append('libvirt is not reachable (%s): named models cannot be '
                     'expanded, so no model is proposed' % cpu_map.error)
    # The richest model; among equals prefer the plain name to an alias
    # ("-vN") and then the alphabetically first.
    candidates.sort(key=lambda c: (-len(c[1]), '-v' in c[0], c[0]))
    model, model_features = (candidates[0] if candidates else (None, None))
    extra = common - (model_features or set()) - set(_NOT_EXTRA_FLAGS)
    left = sorted((common & set(_NOT_EXTRA_FLAGS))
                  - (model_features or set()))
    if model and left:
        notes.append('not proposed as extra flags: %s' % '; '.join(
            '%s (%s)' % (f, _NOT_EXTRA_FLAGS[f]) for f in left))
    check = _libvirt_check(cpu_map, hosts, offers, vendor, common)
    return Baseline([h.name for h in hosts], vendor, common, model,
                    model_features, extra if model else set(),
                    [c[0] for c in candidates], check, notes)


def _libvirt_check(cpu_map, hosts, offers, vendor, common):
    """What libvirt's own baselineCPU says, compared with ours."""
    if not cpu_map.available:
        return {'checked': False, 'reason': cpu_map.error}
    # Every feature listed on the minimal "486", so that libvirt judges
    # the features a host offers, not its model's definition (a host-model
    # CPU may disable features of its named model).
    cpus = [('486', vendor, offers[host.name]) for host in hosts]
    try:
        model, feats, unknown = cpu_map.baseline(cpus)
    except Exception as e:
        return {'checked': False,
                'reason': 'libvirt baselineCPU failed: %s' % e}
    known = common - unknown
    return {'checked': True, 'uri': cpu_map.uri, 'model': model,
            'agrees': feats == known,
            'only_libvirt': sorted(feats - known),
            'only_ours': sorted(known - feats),
            'unknown_to_libvirt': sorted(unknown & common)}


def to_json(value):
    return json.dumps(value, sort_keys=True)
