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

"""Expanding a named CPU (a model plus features) into all its features.

libvirt's own CPU map first, through the daemon-less test driver (so the
live host and a snapshot read on the same machine expand alike); for a
model version the map does not know, the map's base model plus what the
local QEMU's definitions say the version changes; for a model the map does
not know at all, the local QEMU's definition. See
:meth:`migcompat_filter.host.source.HostSource.expand_cpu`.
"""

import atexit
import collections
import re
import xml.etree.ElementTree as ET  # only for building XML; parsing is defused

from migcompat_filter.cpu import map_models
from migcompat_filter.exception import SourceError
from migcompat_filter.host import expansion_cache
from migcompat_filter.host.libvirt_io import import_libvirt
from migcompat_filter.host.libvirt_io import parse_xml
from migcompat_filter.host.libvirt_io import version_int_to_str
from migcompat_filter.host import qemu_cpu_models


def expand(cpu_xml, qemu_binary):
    """The :class:`Expansion` of a host-CPU XML, or SourceError.

    qemu_binary(arch): the QEMU emulator to ask for model definitions.
    """
    cpu = _CpuSpec.parse(cpu_xml)
    # libvirt's answer, remembered across processes (expansion_cache).
    features = expansion_cache.get(cpu_xml)
    if features is not None:
        return Expansion(features, 'libvirt', '')
    try:
        features = _expand_with_cpu_map(cpu)
    except SourceError as e:
        libvirt_error = e
    else:
        expansion_cache.put(cpu_xml, features)
        return Expansion(features, 'libvirt', '')
    if not cpu.model:
        raise libvirt_error
    bundled = _expand_with_bundled_map(cpu)
    if bundled is not None:
        return bundled
    try:
        return _expand_with_qemu(cpu, qemu_binary(cpu.arch))
    except (SourceError, qemu_cpu_models.QemuCpuModelError) as e:
        raise SourceError('%s; %s' % (libvirt_error, e))


def _expand_with_bundled_map(cpu):
    """The Expansion of a model the local libvirt does not know, from the
    newer libvirt CPU map data migcompat carries
    (migcompat_filter.cpu.map_models); None when it does not know it
    either.
    """
    if cpu.arch not in ('x86_64', 'i686', 'i386'):
        return None
    found = map_models.features(cpu.model)
    if found is None:
        return None
    vendor, features = found
    try:
        local = version_int_to_str(import_libvirt().getVersion())
    except SourceError:
        local = 'not installed'
    return Expansion(
        sorted(features | set(cpu.extra)), 'libvirt-data',
        "the CPU map of a newer libvirt (libvirt/libvirt commit %s) that "
        "migcompat carries; this machine's libvirt (%s) does not know %s"
        % (map_models.SOURCES.get(cpu.model.replace('-v1', ''), '?')[:12],
           local, cpu.model))


def _expand_with_qemu(cpu, binary):
    version = re.match(r'^(.+)-v([0-9]+)$', cpu.model)
    base_features = None
    if version and version.group(2) != '1':
        base = version.group(1)
        try:
            base_features = set(_expand_with_cpu_map(
                _CpuSpec(cpu.arch, base, cpu.vendor, [])))
        except SourceError:
            pass  # libvirt does not know the base model either
    if base_features is not None:
        first = '%s-v1' % version.group(1)
        found = qemu_cpu_models.expand_models([cpu.model, first], binary)
        if not any(isinstance(v, qemu_cpu_models.QemuCpuModelError)
                   for v in found.values()):
            qemu, new = found[cpu.model]
            old = found[first][1]
            added, removed = new - old, old - new
            features = (base_features - removed) | added | set(cpu.extra)
            changes = ['-%s' % f for f in sorted(removed)] + \
                ['+%s' % f for f in sorted(added)]
            return Expansion(sorted(features), 'libvirt+qemu', (
                "libvirt's %s plus what QEMU %s defines %s to change: "
                '%s' % (version.group(1), qemu, cpu.model,
                        ' '.join(changes) or 'nothing')))
    qemu, features = qemu_cpu_models.expand_model(cpu.model, binary)
    return Expansion(sorted(set(features) | set(cpu.extra)), 'qemu',
                     "QEMU %s's definition of %s (%s)"
                     % (qemu, cpu.model, binary))


_CPU_MAP_CONN = []


def _close_cpu_map_connection():
    # Closed before interpreter shutdown: a virConnect collected during
    # shutdown prints "Exception ignored in virConnect.__del__".
    while _CPU_MAP_CONN:
        try:
            _CPU_MAP_CONN.pop().close()
        except Exception:
            pass


def _cpu_map_connection():
    libvirt = import_libvirt()
    if not _CPU_MAP_CONN:
        try:
            _CPU_MAP_CONN.append(libvirt.open('test:///default'))
            atexit.register(_close_cpu_map_connection)
        except libvirt.libvirtError as e:
            raise SourceError('cannot open libvirt test driver for CPU map '
                              'look-ups: %s' % e.get_error_message())
    return libvirt, _CPU_MAP_CONN[0]


class Expansion(collections.namedtuple('Expansion',
                                       'features how detail')):
    """A named CPU expanded: sorted feature names, which definitions
    expanded it (``'libvirt'``, ``'libvirt-data'``, ``'libvirt+qemu'`` or
    ``'qemu'``, see
    :meth:`migcompat_filter.host.source.HostSource.expand_cpu`) and a
    sentence saying how.
    """


class _CpuSpec(collections.namedtuple('_CpuSpec',
                                      'arch model vendor extra')):
    """The parts of a <cpu> that name a CPU: a model plus features."""

    @classmethod
    def parse(cls, cpu_xml):
        root = parse_xml(cpu_xml, 'CPU to expand')

        def text(tag):
            return (root.findtext(tag) or '').strip() or None

        extra = [f.get('name') for f in root.findall('feature')
                 if f.get('policy', 'require') in ('require', 'force')
                 and f.get('name')]
        return cls(text('arch') or 'x86_64', text('model'), text('vendor'),
                   extra)

    def xml(self, model=None, extra=None):
        cpu = ET.Element('cpu')
        ET.SubElement(cpu, 'arch').text = self.arch
        if model or self.model:
            ET.SubElement(cpu, 'model').text = model or self.model
        if self.vendor:
            ET.SubElement(cpu, 'vendor').text = self.vendor
        for name in (self.extra if extra is None else extra):
            ET.SubElement(cpu, 'feature', name=name, policy='require')
        return ET.tostring(cpu, encoding='unicode')


def _expand_with_cpu_map(cpu):
    """Expand a _CpuSpec with libvirt's CPU map; sorted list or raises.

    When the map does not know an extra feature (the dump came from a
    newer libvirt), the model is expanded alone and the extra features
    added. A model "X-v1" is the same CPU as "X" in libvirt's CPU map, so
    an older map that knows only "X" still expands it.
    """
    libvirt, conn = _cpu_map_connection()
    attempts = [(cpu.xml(), [])]
    if cpu.extra:
        attempts.append((cpu.xml(extra=[]), cpu.extra))
    if cpu.model and cpu.model.endswith('-v1'):
        attempts.append((cpu.xml(model=cpu.model[:-len('-v1')], extra=[]),
                         cpu.extra))
    first = None
    for xml, added in attempts:
        try:
            out = conn.baselineCPU(
                [xml], libvirt.VIR_CONNECT_BASELINE_CPU_EXPAND_FEATURES)
        except libvirt.libvirtError as e:
            first = first or SourceError(
                'this libvirt (%s) cannot expand the CPU: %s'
                % (version_int_to_str(libvirt.getVersion()),
                   e.get_error_message()))
            continue
        root = parse_xml(out, 'expanded CPU')
        features = {f.get('name') for f in root.findall('feature')
                    if f.get('policy', 'require') == 'require'}
        return sorted(features | set(added))
    raise first
