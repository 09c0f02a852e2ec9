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

"""Shadow checks: migcompat's CPU verdicts against libvirt's, on this host.

For every distinct guest CPU the fleet runs or could start (the running
guests' CPU classes and each profile's host-model CPU, from Placement, from
snapshots or from domain XMLs) two judges answer "could this host accept
that guest CPU as a migration destination?":

- libvirt, with ``compareHypervisorCPU`` (:mod:`migcompat_filter.host.
  verify`);
- migcompat's rules, the CPU part only (vendor, host-model features,
  custom model and extra flags): the other factors are ours alone.

Each answer is ``yes``, ``no`` or ``unchecked`` (with the reason). A pair
where both judged is checked: they agree or disagree. Nothing that only
one side can judge is ever counted as a disagreement.
"""

import hashlib
import logging
import os

from migcompat_filter.cpu import map_migratable
from migcompat_filter import cpu_modes
from migcompat_filter import exception
from migcompat_filter.host import domains
from migcompat_filter.host import verify as lv
from migcompat_filter.placement import hoststate
from migcompat_filter.profile import is_unknown
from migcompat_filter.profile import Profile
from migcompat_filter.rules import engine
from migcompat_filter.rules import guest_cpu
from migcompat_filter.rules import identical
from migcompat_filter.rules import migratable
from migcompat_filter.rules.policy import Policy
from migcompat_filter.rules.policy import WARN
from migcompat_filter.rules.verdict import BLOCK
from migcompat_filter.rules.verdict import Context

LOG = logging.getLogger(__name__)

COLUMNS = ('guest_cpu', 'source', 'ours', 'libvirt', 'agree', 'detail')
#: The factors of the CPU part of a verdict (what libvirt also judges).
CPU_FACTORS = ('cpu_model', 'host_model', 'usable_models', 'cpu_features')
#: Unknowns warn (so they read as "unchecked", not as "no").
_POLICY = Policy(unknown_action=dict.fromkeys(cpu_modes.MODES, WARN))


def _digest(key):
    return hashlib.sha256(repr(key).encode()).hexdigest()[:8]


def label(case):
    """A short readable name of a case, unique by its content."""
    parts = [case.mode, case.model or '(features)']
    if case.vendor:
        parts.append(case.vendor)
    return '%s +%d -%d [%s]' % (' '.join(parts), len(case.require),
                                len(case.disable), _digest(case.key()))


def _finish(case):
    case.label = label(case)
    return case


# -- where guest CPUs come from ----------------------------------------------

def cases_from_domain(text, origin):
    """The case of one domain XML (InputError for a bad document)."""
    record = domains.parse_domain(text, origin)
    arch = record.arch or 'x86_64'
    if record.nova_mode == cpu_modes.HOST_PASSTHROUGH:
        case = lv.GuestCPUCase('', origin, record.nova_mode, arch=arch,
                               machine=record.machine, guest=record,
                               problem='a host-passthrough guest has its '
                                       "source host's CPU, which the XML "
                                       'does not list')
        return [_finish(case)]
    case = lv.GuestCPUCase(
        '', origin, record.nova_mode, arch=arch, model=record.model,
        vendor=record.vendor, require=record.required_features(),
        disable=record.disabled_features(), machine=record.machine,
        guest=record)
    return [_finish(case)]


def _vendor(profile):
    for factor in ('cpu_model', 'host_model'):
        value = profile[factor]
        if isinstance(value, dict) and isinstance(value.get('vendor'), str):
            return value['vendor']
    return None


def cases_from_profile(profile, name):
    """The host-model CPU a guest started on this profile's host gets, and
    its running guests' host-model CPU class (the published union).
    """
    out = []
    arch = profile['arch'] if isinstance(profile['arch'], str) else 'x86_64'
    gone = map_migratable.non_migratable(arch)
    hm = profile['host_model']
    if isinstance(hm, dict) and isinstance(hm.get('features'), list) and \
            not is_unknown(hm.get('model')):
        # What a host-model guest carries: libvirt drops the features it
        # cannot migrate (invtsc) when it starts one.
        case = lv.GuestCPUCase(
            '', '%s (host-model CPU)' % name, cpu_modes.HOST_MODEL,
            arch=arch, model=hm.get('model'),
            vendor=hm.get('vendor') if isinstance(hm.get('vendor'), str)
            else _vendor(profile),
            require=set(hm['features']) - gone,
            disable=set(hm.get('disabled') or ()) if isinstance(
                hm.get('disabled'), list) else (),
            expanded=hm.get('expanded') is True)
        out.append(_finish(case))
    models = profile['cpu_models']
    if profile['cpu_mode'] == cpu_modes.CUSTOM and isinstance(models, list):
        out.extend(cases_from_models(
            [m for m in models if isinstance(m, str)],
            '%s (cpu_models)' % name, arch))
    running = profile['running_guests']
    if isinstance(running, dict) and \
            (running.get('modes') or {}).get(cpu_modes.HOST_MODEL) and \
            isinstance(running.get('host_model_features'), list):
        case = lv.GuestCPUCase(
            '', '%s (running guests)' % name, cpu_modes.HOST_MODEL,
            arch=arch, model=lv.BASE_MODEL, vendor=_vendor(profile),
            require=running['host_model_features'],
            disable=lv.BASE_FEATURES - set(running['host_model_features']),
            expanded=not running.get('unexpanded'))
        case.union = True
        out.append(_finish(case))
    return out


def cases_from_models(models, source, arch='x86_64'):
    """A custom-mode guest CPU of each named model (no extra flags, no
    vendor: what nova writes for ``cpu_mode = custom``).
    """
    return [_finish(lv.GuestCPUCase('', source, cpu_modes.CUSTOM, arch=arch,
                                    model=m)) for m in sorted(set(models))]


def cases_from_hosts(hosts):
    """Cases of the fleet's hosts read from Placement (Fleet.load()):
    each distinct profile's host-model CPU and running guests' class.
    Hosts whose traits were not read into a profile add nothing.
    """
    out, seen = [], set()
    for host in hosts:
        profile = getattr(host, 'profile', None)
        if getattr(host, 'state', None) != hoststate.TRAITED or \
                profile is None or id(profile) in seen:
            if profile is not None and id(profile) in seen:
                # Same profile group: the same CPUs, one more source.
                for case in out:
                    if case.profile_id == id(profile):
                        case.sources.append(host.name)
            continue
        seen.add(id(profile))
        for case in cases_from_profile(profile, host.name):
            case.profile_id = id(profile)
            out.append(case)
    return out


def cases_from_path(path, read_snapshot):
    """Cases of a snapshot directory, a profile JSON or a domain XML.

    ``read_snapshot(path)`` returns a snapshot's Profile (the CLI passes
    its reader). InputError naming path when it is none of them.
    """
    if os.path.isdir(path):
        out = cases_from_profile(read_snapshot(path), path)
        ddir = os.path.join(path, 'libvirt', 'domains')
        if os.path.isdir(ddir):
            for name in sorted(os.listdir(ddir)):
                if name.endswith('.xml'):
                    full = os.path.join(ddir, name)
                    out.extend(cases_from_domain(_read(full), full))
        return out
    text = _read(path)
    if text.lstrip().startswith('{'):
        return cases_from_profile(Profile.from_json(text, origin=path), path)
    if text.lstrip().startswith('<'):
        return cases_from_domain(text, path)
    raise exception.InputError(
        '%s: neither a snapshot directory, a profile JSON file nor a '
        'libvirt domain XML' % path)


def _read(path):
    try:
        with open(path, 'rb') as f:
            data = f.read(domains.MAX_DOMAIN_XML_BYTES + 1)
    except OSError as e:
        raise exception.InputError('%s: cannot be read: %s'
                                   % (path, e.strerror or e))
    try:
        return data.decode('utf-8')
    except UnicodeDecodeError:
        raise exception.InputError('%s: not UTF-8 text' % path)


def distinct(cases):
    """The cases with duplicates merged (their sources joined)."""
    seen = {}
    for case in cases:
        key = case.key()
        if key in seen:
            for s in case.sources:
                if s not in seen[key].sources:
                    seen[key].sources.append(s)
        else:
            seen[key] = case
    return list(seen.values())


# -- migcompat's side ---------------------------------------------------------

def _rules(mode, with_vendor):
    out = []
    for rule in engine.rules_for(mode):
        if getattr(rule, 'factor', None) not in CPU_FACTORS:
            continue
        if type(rule).__module__ == identical.__name__:
            continue  # host-passthrough identity: a policy, not a CPU fit
        if not with_vendor and type(rule).__name__ == 'VendorRule':
            continue
        out.append(rule)
    return out


def guest_of(case, expand):
    """The rules' GuestCPU of a case."""
    if case.guest is not None:
        return guest_cpu.from_domain(case.guest, expand)
    gone = map_migratable.non_migratable(case.arch)
    required, expanded = set(case.require), case.expanded
    if not getattr(case, 'union', False) and not expanded and case.model:
        try:
            base = expand(case.model)
        except exception.FactorUnknown:
            base = None
        if base is not None:
            required |= set(base) - set(case.disable)
            expanded = True
    return guest_cpu.GuestCPU(
        mode=case.mode, model=case.model if case.mode == cpu_modes.CUSTOM
        else None, required=required - gone, expanded=expanded, exact=True,
        origin=case.source)


def judge_ours(case, destination, expand):
    """(verdict, detail): migcompat's CPU verdict on case -> destination."""
    if case.problem:
        return lv.UNCHECKED, case.problem
    guest = guest_of(case, expand)
    source = Profile({'arch': case.arch,
                      'cpu_model': {'vendor': case.vendor},
                      'running_guests': None})
    ctx = Context(source, destination, case.mode, _POLICY, guest=guest)
    findings = []
    for rule in _rules(case.mode, bool(case.vendor)):
        findings.extend(rule.check(ctx) or ())
    known = [f for f in findings if f.severity == BLOCK and not f.unknown]
    if known:
        return lv.NO, '; '.join(f.message for f in known)
    doubt = [f for f in findings if f.severity in (BLOCK, WARN)]
    if doubt:
        return lv.UNCHECKED, '; '.join(f.message for f in doubt)
    return lv.YES, ''


def missing_features(case, destination, expand):
    """The features of a host-model case the destination's host-model CPU
    lacks, as migcompat counts them (migratable view), or None when not
    comparable (another mode, or a list that is not complete).
    """
    if case.problem or case.mode != cpu_modes.HOST_MODEL:
        return None
    guest = guest_of(case, expand)
    dst = migratable.host_model(destination)
    if guest.expanded is False or not isinstance(dst, dict) or \
            dst.get('expanded') is not True or \
            not isinstance(dst.get('features'), list):
        return None
    return frozenset((guest.required | guest.given()) - set(dst['features']))


# -- both ---------------------------------------------------------------------

class Row(object):
    """One guest CPU's two answers."""

    def __init__(self, case, ours, ours_detail, answer, ours_missing=None):
        self.case = case
        self.ours = ours
        self.ours_detail = ours_detail
        self.answer = answer
        #: The features migcompat finds missing (None: not listed).
        self.ours_missing = ours_missing

    @property
    def checked(self):
        return lv.UNCHECKED not in (self.ours, self.answer.verdict)

    def lists_differ(self):
        """(only ours, only libvirt) missing features when both sides list
        them and the lists differ, else None.
        """
        if self.ours_missing is None or not self.answer.missing:
            return None
        only_ours = self.ours_missing - self.answer.missing
        only_lv = self.answer.missing - self.ours_missing
        return (only_ours, only_lv) if (only_ours or only_lv) else None

    @property
    def agree(self):
        """True, False, or None when not checked. Both "no" with different
        missing features is a disagreement too.
        """
        if not self.checked:
            return None
        return self.ours == self.answer.verdict and not self.lists_differ()

    def detail(self):
        if not self.checked:
            return (self.answer.detail if self.answer.verdict ==
                    lv.UNCHECKED else 'ours: %s' % self.ours_detail)
        parts = []
        if self.ours == lv.NO or not self.agree:
            parts.append('ours: %s' % (self.ours_detail or 'compatible'))
        if self.answer.verdict == lv.NO or not self.agree:
            parts.append('libvirt: %s' % self.answer.detail)
        differ = self.lists_differ()
        if differ:
            parts.insert(0, 'missing features differ (only ours: %s; only '
                         'libvirt: %s)' % (', '.join(sorted(differ[0])) or
                                           '-', ', '.join(sorted(differ[1]))
                                           or '-'))
        return '; '.join(parts)

    def values(self):
        agree = {True: 'yes', False: 'NO', None: '-'}[self.agree]
        return (self.case.label, self.case.source, self.ours,
                self.answer.verdict, agree, self.detail())


def verify(cases, destination, judge, expand):
    """[Row] of each distinct case, judged by both sides."""
    rows = []
    for case in distinct(cases):
        try:
            ours, detail = judge_ours(case, destination, expand)
        except Exception as e:  # a rule plugin's bug is not a verdict
            LOG.exception('migcompat rules failed on %s', case.label)
            ours, detail = lv.UNCHECKED, 'migcompat rules failed: %s' % e
        try:
            missing = missing_features(case, destination, expand)
        except Exception:
            missing = None
        rows.append(Row(case, ours, detail, judge.check(case), missing))
    return rows


def counts(rows):
    """{checked, agree, disagree, unchecked} of rows (the note's
    ``verify`` value).
    """
    checked = [r for r in rows if r.checked]
    agree = sum(1 for r in checked if r.agree)
    return {'checked': len(checked), 'agree': agree,
            'disagree': len(checked) - agree,
            'unchecked': len(rows) - len(checked)}


class LocalHost(object):
    """This host as the destination: its libvirt, profile and CPU map.

    Opened once (the profile is read once), closed with :meth:`close`.
    """

    def __init__(self, uri):
        from migcompat_filter.host import reader
        from migcompat_filter.host import source as hostsource
        self.source = hostsource.LiveSource('/', uri)
        self.profile = reader.read_profile(self.source)
        self.judge = lv.LibvirtJudge(self.source.connection(),
                                     self.source.virt_type())

    def expand(self, model):
        return self.source.expand_cpu(
            '<cpu><arch>x86_64</arch><model>%s</model></cpu>'
            % model).features

    def verify(self, cases):
        return verify(cases, self.profile, self.judge, self.expand)

    def close(self):
        self.source.close()


def run_local(cases, uri, all_models=False):
    """[Row] of cases judged on this host (libvirt at uri); all_models:
    plus a custom guest of every model this libvirt knows.
    """
    host = LocalHost(uri)
    try:
        if all_models:
            cases = list(cases) + cases_from_models(
                host.judge.models('x86_64') or (), 'this libvirt\'s CPU map')
        return host.verify(cases)
    finally:
        host.close()
