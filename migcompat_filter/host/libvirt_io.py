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

"""Talking to libvirt safely: importing it quietly, parsing the XML it
writes with defusedxml (entity expansion refused), its version numbers
and the domain capabilities with the host-model CPU expanded.
Shared by the host sources and CPU-model expansion.
"""

import xml.etree.ElementTree as ET  # ParseError, building XML; parse: defused

import defusedxml
from defusedxml import ElementTree as SafeET

from migcompat_filter.exception import SourceError


def _silence_libvirt(libvirt):
    # libvirt prints every error to stderr by default; ours are reported as
    # unknown factors with their reason instead.
    libvirt.registerErrorHandler(lambda ctx, err: None, None)


def import_libvirt():
    try:
        import libvirt
    except ImportError as e:  # pragma: no cover - a dependency
        raise SourceError('libvirt-python is not installed: %s' % e)
    _silence_libvirt(libvirt)
    return libvirt


def lost_connection_codes(libvirt):
    """libvirt error codes of a connection that failed or was lost (the
    daemon stopped or restarting, a timeout), as opposed to a refusal.
    """
    return {getattr(libvirt, name) for name in (
        'VIR_ERR_SYSTEM_ERROR', 'VIR_ERR_RPC', 'VIR_ERR_NO_CONNECT',
        'VIR_ERR_INVALID_CONN', 'VIR_ERR_OPERATION_TIMEOUT',
        'VIR_ERR_AUTH_UNAVAILABLE') if hasattr(libvirt, name)}


#: (root tag, path from the root, child tag): elements libvirt writes
#: once. A second one would be read or ignored silently depending on its
#: position (ElementTree's find() takes the first), so it is refused.
_SINGLE_ELEMENTS = (
    ('capabilities', '.', 'host'),
    ('capabilities', 'host', 'cpu'),
    ('capabilities', 'host/cpu', 'arch'),
    ('domainCapabilities', '.', 'cpu'),
    ('domainCapabilities', '.', 'arch'),
)


def parse_xml(text, origin):
    """Parse untrusted XML text, refusing entities and any DTD (libvirt
    never writes one), and documents that repeat an element libvirt
    writes once ("... has two <cpu> elements").
    """
    try:
        root = SafeET.fromstring(text, forbid_dtd=True)
    except defusedxml.DefusedXmlException as e:
        raise SourceError('%s: refused unsafe XML (%s); libvirt never writes '
                          'entities or DTDs, so this file was altered'
                          % (origin, type(e).__name__)) from None
    except ET.ParseError as e:
        raise SourceError('%s: not well-formed XML: %s' % (origin, e))
    _refuse_repeated(root, origin)
    return root


def _refuse_repeated(root, origin):
    for tag, parent_path, child in _SINGLE_ELEMENTS:
        if root.tag != tag:
            continue
        for parent in ([root] if parent_path == '.'
                       else root.findall(parent_path)):
            if len(parent.findall(child)) > 1:
                where = ('' if parent_path == '.'
                         else ' in <%s>' % parent_path.replace('/', '><'))
                raise SourceError(
                    '%s: has two <%s> elements%s; libvirt writes one, so '
                    'this file was altered' % (origin, child, where))


def version_int_to_str(value):
    """libvirt packs versions as major * 1,000,000 + minor * 1,000 + micro."""
    return '%d.%d.%d' % (value // 1000000, (value // 1000) % 1000,
                         value % 1000)


def expanded_domcapabilities(libvirt, conn, virt_type, origin):
    """Domain capabilities with the host-model CPU fully expanded.

    libvirt 9.0 has no --expand-cpu-features; we expand with
    baselineHypervisorCPU (the hypervisor's own view) and write the
    result back into the document, as newer libvirt does, so that a
    snapshot of this text reads exactly like the live host.
    """
    text = conn.getDomainCapabilities(None, None, None, virt_type)
    root = parse_xml(text, origin)
    mode = root.find("./cpu/mode[@name='host-model']")
    if mode is None or mode.get('supported') != 'yes':
        return text
    cpu = ET.Element('cpu', mode='host-model')
    for child in mode:
        cpu.append(child)
    try:
        expanded = conn.baselineHypervisorCPU(
            root.findtext('path'), root.findtext('arch'),
            root.findtext('machine'), root.findtext('domain'),
            [ET.tostring(cpu, encoding='unicode')],
            libvirt.VIR_CONNECT_BASELINE_CPU_EXPAND_FEATURES)
    except libvirt.libvirtError:
        # Keep the unexpanded document; readers then expand with the
        # CPU map and say so.
        return text
    exp = parse_xml(expanded, 'baselineHypervisorCPU result')
    model = mode.find('model')
    vendor = mode.find('vendor')
    keep = [c for c in mode if c.tag not in ('feature',)]
    for child in list(mode):
        mode.remove(child)
    for child in keep:
        mode.append(child)
    if model is None and exp.find('model') is not None:
        mode.append(exp.find('model'))
    if vendor is None and exp.find('vendor') is not None:
        mode.append(exp.find('vendor'))
    for feat in sorted(exp.findall('feature'),
                       key=lambda f: f.get('name')):
        mode.append(ET.Element('feature', policy=feat.get('policy'),
                               name=feat.get('name')))
    mode.set('expanded', 'yes')  # ours; libvirt ignores unknown attrs
    return ET.tostring(root, encoding='unicode')
