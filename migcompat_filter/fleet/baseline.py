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

"""The EVC-style answer to "which guest CPU can run on every one of these
hosts".

The features common to the hosts' host-model CPUs, the richest named
model usable on all of them, and the nova ``[libvirt]`` lines, checked
against libvirt's own baseline API (:class:`LibvirtCPUMap`).
"""

from migcompat_filter.exception import InputError
from migcompat_filter.placement import hoststate
from migcompat_filter.profile import is_unknown


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
        They are found on one probe CPU per (model, vendor) listing every
        feature of the CPUs of that model, so that each CPU's own XML is
        built once, whatever the retries.
        """
        unknown, models = set(), set()
        probes = {}
        for model, vendor, feats in cpus:
            probes.setdefault((model, vendor), set()).update(feats)
        self._call(lambda: [
            _cpu_xml(arch, m if m not in models else '486', v, f - unknown)
            for (m, v), f in sorted(probes.items(), key=str)],
            unknown, models)
        xmls = [_cpu_xml(arch, m if m not in models else '486', v,
                         set(f) - unknown) for m, v, f in cpus]
        model, feats = _features_of(self._call(lambda: xmls, set(), set()))
        return model, feats, unknown

    def _call(self, build, unknown, models):
        """baselineCPU(build()), learning the features and models this
        libvirt does not know into unknown and models and retrying (a
        model it does not know is replaced by the minimal "486": every
        feature is listed explicitly anyway).
        """
        import re
        for _attempt in range(64):
            try:
                return self._conn.baselineCPU(
                    build(),
                    self._libvirt.VIR_CONNECT_BASELINE_CPU_EXPAND_FEATURES)
            except self._libvirt.libvirtError as e:
                m = re.search(r'Unknown CPU (feature|model) (\S+)', str(e))
                if not m or m.group(2) in unknown | models:
                    raise
                (unknown if m.group(1) == 'feature' else models).add(
                    m.group(2))
        raise RuntimeError('too many CPU features unknown to %s' % self.uri)


def _cpu_xml(arch, model, vendor, features):
    from xml.sax.saxutils import escape
    from xml.sax.saxutils import quoteattr
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


def compute(hosts, cpu_map=None):
    """The :class:`Baseline` of the hosts (BaselineError when there is
    none).
    """
    if not hosts:
        raise BaselineError('no hosts to compute a baseline for')
    cpu_map = cpu_map or LibvirtCPUMap()
    vendor, offers = _offers(hosts, cpu_map)
    common = set.intersection(*_distinct(offers))
    notes = []
    candidates = _candidates(hosts, cpu_map, vendor, common, notes)
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


def _offers(hosts, cpu_map):
    """(the one vendor, {host name: features a host-model guest gets}).

    Worked out once per distinct profile (hosts of one profile group
    share the set), not per host.
    """
    vendors = {}
    offers = {}
    by_key = {}
    for host in hosts:
        if host.state != hoststate.TRAITED:
            raise BaselineError('%s: %s' % (host.name, host.status))
        if host.key not in by_key:
            by_key[host.key] = _offered(host, cpu_map.expand)
        vendor, offered = by_key[host.key]
        vendors.setdefault(vendor, []).append(host.name)
        offers[host.name] = offered
    if len(vendors) > 1:
        raise BaselineError(
            'no common CPU: the hosts have different CPU vendors (%s); a '
            'guest never live-migrates between them' % '; '.join(
                '%s: %s' % (v, ', '.join(n)) for v, n in sorted(
                    vendors.items(), key=lambda i: str(i[0]))))
    return next(iter(vendors)), offers


def _distinct(offers):
    """The distinct offered sets (hosts of a profile share one object)."""
    return list({id(f): f for f in offers.values()}.values())


def _candidates(hosts, cpu_map, vendor, common, notes):
    """[(model, features)] usable on every host whose features are all
    common, richest first.
    """
    usable = None
    unknown_usable = []
    seen = set()
    for host in hosts:
        models = host.profile['usable_models']
        if is_unknown(models) or not isinstance(models, list):
            unknown_usable.append(host.name)
            continue
        if host.key in seen:
            continue  # the same profile: the same models
        seen.add(host.key)
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
    return candidates


def _libvirt_check(cpu_map, hosts, offers, vendor, common):
    """What libvirt's own baselineCPU says, compared with ours."""
    if not cpu_map.available:
        return {'checked': False, 'reason': cpu_map.error}
    # Every feature listed on the minimal "486", so that libvirt judges
    # the features a host offers, not its model's definition (a host-model
    # CPU may disable features of its named model).
    # Each distinct offered set once: libvirt's baseline of a CPU does
    # not change when the CPU is listed twice.
    distinct = {frozenset(f) for f in _distinct(offers)}
    cpus = [('486', vendor, f) for f in sorted(distinct, key=sorted)]
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
