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

"""libvirt's own answer: could this host accept that guest CPU?

libvirt's authoritative check for a migration destination is
``virConnectCompareHypervisorCPU`` (python ``compareHypervisorCPU``) with
the guest's machine type and ``VIR_CONNECT_COMPARE_CPU_FAIL_INCOMPATIBLE``,
which names the features the host does not provide. :class:`GuestCPUCase`
is one distinct guest CPU as plain data (model, vendor, required and
disabled features, machine type); :class:`LibvirtJudge` asks libvirt about
it on this host and reads the answer as ``yes``, ``no`` (with the missing
features or the vendor) or ``unchecked`` (with the reason): a machine
type the local QEMU lacks, or a CPU model or feature the local libvirt's
CPU map does not know, is not checkable here, never a "no".

migcompat's own verdict on the same pair is made one layer up
(:mod:`migcompat_filter.fleet.verify`), where the rules are.
"""

import copy
import re
import time
import xml.etree.ElementTree as ET  # only for building XML

from migcompat_filter.host.libvirt_io import import_libvirt
from migcompat_filter.host.libvirt_io import parse_xml

YES = 'yes'
NO = 'no'
UNCHECKED = 'unchecked'

#: libvirt's text before the missing features (libvirt 9.0
#: src/cpu/cpu_x86.c, x86Compute).
_MISSING_RE = re.compile(r'does not provide required features: (.*)$')
_VENDOR_RE = re.compile(r'host CPU vendor does not match required CPU '
                        r'vendor (\S+)')
#: libvirt errors meaning "this libvirt cannot judge it", not "no".
_UNKNOWN_NAME_RE = re.compile(r'Unknown CPU (model|feature|vendor) (\S+)')
#: The smallest x86 model of libvirt's CPU map and its features (libvirt
#: 9.0 cpu_map/x86_486.xml): the base of a guest CPU known as a complete
#: feature list (its own features are disabled unless listed, so the CPU
#: is exactly the list). libvirt compares features, so the model's name
#: does not change the answer.
BASE_MODEL = '486'
BASE_FEATURES = frozenset(('fpu', 'pse', 'vme'))


class GuestCPUCase(object):
    """One distinct guest CPU to check, as plain data.

    ``model`` and ``vendor`` may be None; ``require`` and ``disable`` are
    feature names on top of the model (an expanded CPU lists every feature
    as required). ``machine`` is the guest's machine type (None: unknown,
    libvirt's default is used). ``sources`` are the places it came from
    (the same CPU found in two places is one case). ``guest`` is optional
    plain data for the rules' side (e.g. a domain record).
    """

    def __init__(self, label, source, mode, arch='x86_64', model=None,
                 vendor=None, require=(), disable=(), machine=None,
                 guest=None, expanded=False, problem=None):
        self.label = label
        self.sources = [source]
        self.mode = mode
        self.arch = arch or 'x86_64'
        self.model = model
        self.vendor = vendor
        self.require = frozenset(require or ())
        self.disable = frozenset(disable or ()) - self.require
        self.machine = machine
        self.guest = guest
        #: True: ``require`` is the complete feature list.
        self.expanded = bool(expanded)
        #: Why the case cannot be checked at all (e.g. no model), or None.
        self.problem = problem

    @property
    def source(self):
        return ', '.join(self.sources)

    def key(self):
        """Cases with equal keys are the same guest CPU."""
        return (self.mode, self.arch, self.model, self.vendor,
                tuple(sorted(self.require)), tuple(sorted(self.disable)),
                self.machine)

    def cpu_xml(self, as_features=False):
        """The guest CPU as libvirt reads it (``<cpu mode='custom'>``).

        as_features: an expanded CPU as its feature list on
        :data:`BASE_MODEL` (for a libvirt that does not know the model).
        """
        model, disable = self.model, self.disable
        if as_features:
            model, disable = BASE_MODEL, BASE_FEATURES - self.require
        cpu = ET.Element('cpu', mode='custom', match='exact')
        if model:
            ET.SubElement(cpu, 'model', fallback='forbid').text = model
        if self.vendor:
            ET.SubElement(cpu, 'vendor').text = self.vendor
        for name in sorted(self.require):
            ET.SubElement(cpu, 'feature', policy='require', name=name)
        for name in sorted(disable):
            ET.SubElement(cpu, 'feature', policy='disable', name=name)
        return ET.tostring(cpu, encoding='unicode')

    def __repr__(self):
        return 'GuestCPUCase(%s, %s)' % (self.label, self.source)


class Answer(object):
    """libvirt's answer on one case: ``verdict`` (yes, no, unchecked),
    ``detail`` (libvirt's words or why it was not asked), ``missing``
    (features libvirt named), ``vendor`` (the vendor it refused).
    """

    def __init__(self, verdict, detail='', missing=(), vendor=None):
        self.verdict = verdict
        self.detail = detail
        self.missing = frozenset(missing)
        self.vendor = vendor

    def __repr__(self):
        return 'Answer(%s, %s)' % (self.verdict, self.detail)


def unchecked(reason):
    return Answer(UNCHECKED, reason)


def read_error(message):
    """An Answer from libvirt's error text of compareHypervisorCPU."""
    found = _MISSING_RE.search(message)
    if found:
        missing = [f.strip() for f in found.group(1).split(',') if f.strip()]
        return Answer(NO, message, missing=missing)
    found = _VENDOR_RE.search(message)
    if found:
        return Answer(NO, message, vendor=found.group(1))
    found = _UNKNOWN_NAME_RE.search(message)
    if found:
        return unchecked('not checkable here: this libvirt does not know '
                         'CPU %s %s (%s)' % (found.group(1), found.group(2),
                                             message))
    if 'machine' in message and 'not supported' in message:
        return unchecked('not checkable here: %s' % message)
    return None


class LibvirtJudge(object):
    """Asks one libvirt connection about guest CPUs; counts its calls.

    ``conn`` is an open libvirt connection (read-write: libvirt refuses
    compareHypervisorCPU on a read-only one; only queries are issued).
    ``virt_type`` is the domain type (kvm or qemu).
    """

    def __init__(self, conn, virt_type='kvm', libvirt=None):
        self.conn = conn
        self.virt_type = virt_type
        self.libvirt = libvirt or import_libvirt()
        self.calls = 0
        self.seconds = 0.0
        self._machines = {}
        self._models = {}
        self._qemu_models = {}

    def _call(self, method, *args):
        self.calls += 1
        start = time.monotonic()
        try:
            return getattr(self.conn, method)(*args)
        finally:
            self.seconds += time.monotonic() - start

    def machines(self, arch):
        """The machine types the local QEMU offers for arch (aliases
        included), or None when libvirt cannot say.
        """
        if arch not in self._machines:
            try:
                caps = parse_xml(self._call('getCapabilities'),
                                 'capabilities')
            except Exception:
                return None
            for guest in caps.findall('guest'):
                a = guest.find('arch')
                if a is None:
                    continue
                names = self._machines.setdefault(a.get('name'), set())
                for m in a.findall('machine'):
                    names.add((m.text or '').strip())
                    if m.get('canonical'):
                        names.add(m.get('canonical'))
            self._machines.setdefault(arch, set())
        return self._machines[arch]

    def models(self, arch):
        """The CPU models this libvirt's CPU map knows for arch."""
        if arch not in self._models:
            try:
                self._models[arch] = set(self._call('getCPUModelNames',
                                                    arch, 0))
            except Exception:
                self._models[arch] = None
        return self._models[arch]

    def qemu_models(self, arch):
        """The CPU models the local QEMU offers for arch (the domain
        capabilities' custom mode, usable or not), or None.
        """
        if arch not in self._qemu_models:
            try:
                caps = parse_xml(self._call('getDomainCapabilities', None,
                                            arch, None, self.virt_type, 0),
                                 'domain capabilities')
                self._qemu_models[arch] = {
                    (m.text or '').strip() for m in caps.findall(
                        "./cpu/mode[@name='custom']/model")}
            except Exception:
                self._qemu_models[arch] = None
        return self._qemu_models[arch]

    def check(self, case):
        """libvirt's Answer for one GuestCPUCase."""
        if case.problem:
            return unchecked('not checkable: %s' % case.problem)
        if not case.model:
            return unchecked('not checkable: the guest CPU names no model '
                             '(libvirt compares a model plus features)')
        machines = self.machines(case.arch)
        if case.machine and machines is not None and \
                case.machine not in machines:
            return unchecked('not checkable here: the local QEMU has no '
                             'machine type %s for %s'
                             % (case.machine, case.arch))
        why = self._unknown_model(case)
        if why and not case.expanded:
            return unchecked('not checkable here: %s' % why)
        answer = self._compare(case, bool(why))
        if answer.vendor and case.vendor:
            # Refused on the vendor alone: ask once more without it, so
            # that the missing features can be compared too.
            plain = copy.copy(case)
            plain.vendor = None
            answer.missing = self._compare(plain, bool(why)).missing
        if why and answer.verdict != UNCHECKED:
            answer.detail += (' (%s: its complete feature list was '
                              'compared)' % why)
        return answer

    def _unknown_model(self, case):
        """Why the case's model cannot be asked about here, or None."""
        models = self.models(case.arch)
        if models is not None and case.model not in models:
            return 'this libvirt\'s CPU map does not know CPU model %s' % (
                case.model)
        qemu = self.qemu_models(case.arch)
        if qemu is not None and case.model not in qemu:
            # libvirt's compare reads its CPU map only; a guest of a model
            # QEMU does not define cannot start here at all.
            return ('the local QEMU has no CPU model %s (libvirt\'s CPU map '
                    'has it; the domain capabilities do not list it)'
                    % case.model)
        return None

    def _compare(self, case, as_features):
        flag = self.libvirt.VIR_CONNECT_COMPARE_CPU_FAIL_INCOMPATIBLE
        try:
            result = self._call('compareHypervisorCPU', None, case.arch,
                                case.machine, self.virt_type,
                                case.cpu_xml(as_features), flag)
        except self.libvirt.libvirtError as e:
            message = e.get_error_message() or str(e)
            answer = read_error(message)
            if answer is not None:
                return answer
            if e.get_error_code() == self.libvirt.VIR_ERR_CPU_INCOMPATIBLE:
                return Answer(NO, message)
            return unchecked('not checkable: libvirt failed: %s' % message)
        if result in (self.libvirt.VIR_CPU_COMPARE_IDENTICAL,
                      self.libvirt.VIR_CPU_COMPARE_SUPERSET):
            return Answer(YES, 'compatible (%s)' % (
                'identical' if result == self.libvirt.
                VIR_CPU_COMPARE_IDENTICAL else 'host is a superset'))
        if result == self.libvirt.VIR_CPU_COMPARE_INCOMPATIBLE:
            return Answer(NO, 'incompatible (libvirt named no feature)')
        return unchecked('not checkable: libvirt answered %r' % result)


def case_from_cpu_element(cpu, label, source, mode, arch='x86_64',
                          machine=None, expanded=False):
    """A GuestCPUCase of a libvirt ``<cpu>``-like element (a guest's CPU
    or a domain capabilities host-model ``<mode>``).
    """
    require, disable = set(), set()
    for f in cpu.findall('feature'):
        name = f.get('name')
        if not name:
            continue
        if f.get('policy', 'require') in ('require', 'force'):
            require.add(name)
        elif f.get('policy') in ('disable', 'forbid'):
            disable.add(name)
    return GuestCPUCase(label, source, mode, arch=arch,
                        model=(cpu.findtext('model') or '').strip() or None,
                        vendor=(cpu.findtext('vendor') or '').strip() or None,
                        require=require, disable=disable, machine=machine,
                        expanded=expanded)
