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

"""The running guests of a host, from libvirt domain XML.

What a live migration moves is the guest: the CPU libvirt gave it at start,
its machine type, its TSC set-up. This module reads those from a running
guest's live XML (``virsh dumpxml``, ``XMLDesc(0)``), cuts a domain XML
down to what a snapshot keeps (``libvirt/domains/<uuid>.xml``), lists a
host's running guests and sums up what they need from any destination.

Host-model or custom, in a live XML: libvirt rewrites a running host-model
guest's ``<cpu>`` to ``mode='custom' match='exact' check='full'`` with the
named model, a ``<vendor>`` and every required and disabled feature. A
running custom guest (nova's ``cpu_mode=custom``, or no ``<cpu>`` at all,
which libvirt 9.0 runs as ``qemu64``) looks the same on libvirt 9.0, down
to ``check='full'`` and ``fallback='forbid'``, but has no ``<vendor>``:
libvirt copies the host's vendor into the expanded host-model, and nova
never writes one for a guest CPU (nova 34 ``_get_guest_cpu_model_config``).
So ``custom`` with a ``<vendor>`` is read as nova mode ``host-model``: a
heuristic (a hand-written custom CPU naming a vendor is taken for
host-model; libvirt checks both alike, by the model and features the guest
carries, so a wrong guess changes only which version rules apply).
``custom`` without vendor is ``custom``; ``host-model`` (an inactive XML)
is ``host-model`` with no model; ``host-passthrough`` and ``maximum`` (with
KVM "functionally identical", libvirt says; nova has no such mode) are
``host-passthrough``. :attr:`Guest.mode_basis` says which case applied.

A domain without ``<cpu>`` is refused (InputError): libvirt 9.0 writes the
CPU it started, even its default, into a running guest's live XML, so such
a document is not one (an inactive definition, or an old libvirt's) and
its CPU cannot be known from it.
"""

import copy
import re
# Building XML, and parsing a str without a DTD (see _parse); anything
# else is parsed by defusedxml.
import xml.etree.ElementTree as ET

import defusedxml
from defusedxml import ElementTree as SafeET

from migcompat_filter import bounds
# requirements() lives beside the record it reads; domains.requirements is
# its public name.
from migcompat_filter.cpu.guest_requirements import requirements  # noqa: F401
from migcompat_filter import cpu_modes
from migcompat_filter import exception
from migcompat_filter.host import libvirt_io

#: A domain XML is some KiB (about 5 for a nova guest, more with many
#: devices); anything near this bound is not a domain XML.
MAX_DOMAIN_XML_BYTES = 4 * 1024 * 1024

#: libvirt's <cpu mode=...> values (the nova mode is in _nova_mode).
LIBVIRT_MODES = ('custom', 'host-model', 'host-passthrough', 'maximum')

#: libvirt's feature policies for a guest CPU; no policy means require.
POLICIES = ('force', 'require', 'optional', 'disable', 'forbid')
PRESENT_POLICIES = ('force', 'require')
ABSENT_POLICIES = ('disable', 'forbid')

#: A libvirt UUID as virsh prints it: also the snapshot's file name, so
#: nothing else (no "/", no "..") may pass.
_UUID = re.compile(r'^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-'
                   r'[0-9a-f]{12}$')


class Guest(object):
    """One guest's migration-relevant facts, as plain data.

    Fields (all JSON-able through :meth:`to_dict`):

    ``origin``       where the XML came from (a file, "domain <uuid> of URI")
    ``uuid``         the domain UUID, lower case (= nova instance UUID)
    ``name``         the domain name (``instance-0000002a``) or None
    ``virt_type``    ``<domain type=...>`` (``kvm``, ``qemu``) or None
    ``mode``         ``<cpu mode>`` as libvirt shows it (custom when unset)
    ``nova_mode``    host-model, host-passthrough or custom (module doc)
    ``mode_basis``   a sentence saying how nova_mode was decided
    ``match``, ``check``  ``<cpu>`` attributes or None
    ``model``, ``fallback``, ``vendor``  ``<model>``, its fallback and
                     ``<vendor>``
    ``features``     {name: policy}; a feature without policy is ``require``
    ``migratable``   ``<cpu migratable>`` as True/False; None when not set
                     (QEMU's default for host-passthrough is on)
    ``maxphysaddr``  {'mode': .., 'bits': int|None, 'limit': int|None} or None
    ``arch``, ``machine``, ``os_type``  from ``<os><type arch machine>``
    ``tsc``          {'frequency': int|None, 'mode': str|None} of
                     ``<clock><timer name='tsc'>``, or None without that timer
    ``invtsc``       True when ``invtsc`` has policy require or force
    """

    FIELDS = ('origin', 'uuid', 'name', 'virt_type', 'mode', 'nova_mode',
              'mode_basis', 'match', 'check', 'model', 'fallback', 'vendor',
              'features', 'migratable', 'maxphysaddr', 'arch', 'machine',
              'os_type', 'tsc', 'invtsc')

    def __init__(self, **fields):
        unknown = set(fields) - set(self.FIELDS)
        if unknown:
            raise TypeError('unknown Guest fields: %s' % sorted(unknown))
        for name in self.FIELDS:
            setattr(self, name, fields.get(name))

    def to_dict(self):
        """A new dict of the fields (nested dicts copied, features sorted)."""
        out = {name: getattr(self, name) for name in self.FIELDS}
        out['features'] = dict(sorted((self.features or {}).items()))
        for name in ('maxphysaddr', 'tsc'):
            out[name] = dict(out[name]) if out[name] is not None else None
        return out

    def required_features(self):
        """Features the guest's CPU lists as present (require/force)."""
        return {n for n, p in (self.features or {}).items()
                if p in PRESENT_POLICIES}

    def disabled_features(self):
        """Features the guest's CPU lists as absent (disable/forbid)."""
        return {n for n, p in (self.features or {}).items()
                if p in ABSENT_POLICIES}


def _parse(text, origin):
    """The root Element of an untrusted domain XML, or InputError."""
    if not isinstance(text, (str, bytes)):
        raise exception.InputError('%s: expected XML text, got %s'
                                   % (origin, type(text).__name__))
    size = len(text if isinstance(text, bytes)
               else text.encode('utf-8', 'replace'))
    if size > MAX_DOMAIN_XML_BYTES:
        raise exception.InputError(
            '%s: %d bytes is far larger than any libvirt domain XML (limit '
            '%d); refusing to parse it' % (origin, size,
                                           MAX_DOMAIN_XML_BYTES))
    try:
        if isinstance(text, str) and '<!DOCTYPE' not in text:
            # No DTD, so no entity can be declared: nothing for defusedxml
            # to refuse, and the C parser is about twice as fast (5,000
            # domains: tools/bench_domains.py). Anything else (bytes in
            # any encoding, a DTD) goes through defusedxml.
            root = ET.fromstring(text)
        else:
            root = SafeET.fromstring(text, forbid_dtd=True)
    except defusedxml.DefusedXmlException as e:
        raise exception.InputError(
            '%s: refused unsafe XML (%s): libvirt never writes a DTD or '
            'entities into a domain XML'
            % (origin, type(e).__name__)) from None
    except ET.ParseError as e:
        raise exception.InputError('%s: not well-formed XML: %s'
                                   % (origin, e))
    if root.tag != 'domain':
        raise exception.InputError(
            '%s: the root element is <%s>, not <domain>: expected a libvirt '
            'domain XML ("virsh dumpxml GUEST")' % (origin, root.tag))
    return root


def _one(root, path, origin, required=True):
    """The single element at path; InputError when there are two."""
    found = root.findall(path)
    if len(found) > 1:
        raise exception.InputError('%s: has %d <%s> elements; a libvirt '
                                   'domain has one' % (origin, len(found),
                                                       path))
    if not found:
        if required:
            raise exception.InputError('%s: has no <%s> element'
                                       % (origin, path))
        return None
    return found[0]


def _text(elem):
    return None if elem is None else (elem.text or '').strip() or None


def _int(value, what, origin, kind):
    """None, or the number value spells within kind's range (the one
    range check, migcompat_filter.bounds); InputError naming origin.
    """
    if value is None:
        return None
    try:
        return bounds.parse_int(value, '%s: %s' % (origin, what), kind=kind,
                                strip=False)
    except bounds.OutOfRange as e:
        raise exception.InputError(str(e)) from None


def _on_off(value, what, origin):
    if value is None:
        return None
    if value not in ('on', 'off'):
        raise exception.InputError('%s: %s is %r; libvirt writes on or off'
                                   % (origin, what, value))
    return value == 'on'


def _validate(root, origin):
    """(uuid, <cpu>) of a parsed domain; InputError for what we refuse."""
    uuid = (_text(_one(root, 'uuid', origin)) or '').lower()
    if not _UUID.match(uuid):
        raise exception.InputError('%s: <uuid> is %r, not a UUID'
                                   % (origin, uuid))
    cpu = _one(root, 'cpu', origin, required=False)
    if cpu is None:
        raise exception.InputError(
            '%s: has no <cpu> element: a running guest\'s live XML always '
            'has one (libvirt writes the CPU it started, even its default '
            'qemu64), so this is not the live XML of a running guest '
            '(use "virsh dumpxml GUEST" while it runs)' % origin)
    return uuid, cpu


def _features(cpu, origin):
    features = {}
    for elem in cpu.findall('feature'):
        name = (elem.get('name') or '').strip()
        if not name:
            raise exception.InputError('%s: a <cpu><feature> has no name'
                                       % origin)
        policy = elem.get('policy', 'require')
        if policy not in POLICIES:
            raise exception.InputError(
                '%s: CPU feature %s has policy %r; libvirt knows %s'
                % (origin, name, policy, ', '.join(POLICIES)))
        if name in features:
            raise exception.InputError(
                '%s: CPU feature %s is listed twice (libvirt refuses that)'
                % (origin, name))
        features[name] = policy
    return features


def _nova_mode(mode, vendor, model):
    """(nova mode, basis sentence) for a libvirt <cpu mode>."""
    if mode == 'host-passthrough':
        return cpu_modes.HOST_PASSTHROUGH, 'host-passthrough in the XML'
    if mode == 'maximum':
        return (cpu_modes.HOST_PASSTHROUGH,
                "maximum in the XML, which libvirt treats like "
                "host-passthrough under KVM")
    if mode == 'host-model':
        return (cpu_modes.HOST_MODEL, 'host-model in the XML, not expanded '
                '(not the live XML of a running guest)')
    if vendor:
        return (cpu_modes.HOST_MODEL,
                'custom with <vendor>%s</vendor>: the host-model libvirt '
                'expanded at start (heuristic: nova never writes a vendor '
                'for a custom CPU)' % vendor)
    if model:
        return (cpu_modes.CUSTOM, 'custom without <vendor>: a named model')
    return (cpu_modes.CUSTOM, 'custom without a model: libvirt\'s default '
            'CPU for the guest')


def _maxphysaddr(cpu, origin):
    elem = _one(cpu, 'maxphysaddr', origin, required=False)
    if elem is None:
        return None
    return {'mode': elem.get('mode'),
            'bits': _int(elem.get('bits'), 'maxphysaddr bits', origin,
                         'phys_bits'),
            'limit': _int(elem.get('limit'), 'maxphysaddr limit', origin,
                          'phys_bits')}


#: <cpu><topology> attributes -> their kind in bounds.RANGES.
_TOPOLOGY = (('sockets', 'guest_topology'), ('dies', 'guest_topology'),
             ('clusters', 'guest_topology'), ('cores', 'guest_topology'),
             ('threads', 'threads_per_core'))


def _check_topology(cpu, origin):
    """InputError for an impossible <cpu><topology> number (threads='-2'):
    the rules do not judge the topology, but a document holding one is
    not what libvirt wrote.
    """
    elem = _one(cpu, 'topology', origin, required=False)
    for name, kind in _TOPOLOGY if elem is not None else ():
        _int(elem.get(name), 'topology %s' % name, origin, kind)


def _tsc(root, origin):
    clock = _one(root, 'clock', origin, required=False)
    if clock is None:
        return None
    timers = [t for t in clock.findall('timer') if t.get('name') == 'tsc']
    if len(timers) > 1:
        raise exception.InputError('%s: <clock> has %d tsc timers; libvirt '
                                   'allows one' % (origin, len(timers)))
    if not timers:
        return None
    return {'frequency': _int(timers[0].get('frequency'),
                              'the tsc timer frequency', origin, 'tsc_hz'),
            'mode': timers[0].get('mode')}


def parse_domain(text, origin):
    """A :class:`Guest` from one libvirt domain XML.

    ``text`` is the XML (str or bytes) and ``origin`` names it in every
    error. Raises :class:`~migcompat_filter.exception.InputError` (message
    names origin and what is wrong) for a document that is not
    well-formed, carries a DTD or entities, is not a ``<domain>``, has no
    or an invalid ``<uuid>``, no ``<cpu>`` or two, an unknown CPU mode or
    feature policy, or a TSC frequency, phys-bits or topology number that
    is not a number or out of its range (migcompat_filter.bounds).
    Model names are not checked here: whether a model is known is a
    question for the host judging it (see :func:`requirements`).
    """
    return _guest(_parse(text, origin), origin)


def _guest(root, origin):
    """The Guest of a parsed <domain> root (see parse_domain)."""
    uuid, cpu = _validate(root, origin)
    mode = cpu.get('mode', 'custom')
    if mode not in LIBVIRT_MODES:
        raise exception.InputError('%s: <cpu mode=%r> is not a libvirt CPU '
                                   'mode (%s)' % (origin, mode,
                                                  ', '.join(LIBVIRT_MODES)))
    none = ET.Element('none')  # stands in for an absent element
    model_elem = _one(cpu, 'model', origin, required=False)
    model_elem = none if model_elem is None else model_elem
    model = _text(model_elem)
    vendor = _text(_one(cpu, 'vendor', origin, required=False))
    nova_mode, basis = _nova_mode(mode, vendor, model)
    features = _features(cpu, origin)
    _check_topology(cpu, origin)
    os_type = _one(root, 'os/type', origin, required=False)
    os_type = none if os_type is None else os_type
    return Guest(
        origin=origin, uuid=uuid,
        name=_text(_one(root, 'name', origin, required=False)),
        virt_type=root.get('type'), mode=mode, nova_mode=nova_mode,
        mode_basis=basis, match=cpu.get('match'), check=cpu.get('check'),
        model=model, fallback=model_elem.get('fallback'),
        vendor=vendor, features=features,
        migratable=_on_off(cpu.get('migratable'), '<cpu migratable>',
                           origin),
        maxphysaddr=_maxphysaddr(cpu, origin),
        arch=os_type.get('arch'), machine=os_type.get('machine'),
        os_type=_text(os_type), tsc=_tsc(root, origin),
        invtsc=features.get('invtsc') in PRESENT_POLICIES)


#: What cut_down keeps: the element paths below <domain>. <os> keeps only
#: its <type> (loader and nvram paths are host file names).
KEPT = ('name', 'uuid', 'os/type', 'cpu', 'clock')


def cut_down(text, origin):
    """The domain XML a snapshot stores as ``libvirt/domains/<uuid>.xml``.

    Only ``<name>``, ``<uuid>``, ``<os><type>``, ``<cpu>`` and ``<clock>``
    survive, under ``<domain type=...>`` (the virt type); nothing else --
    no devices (disk paths, interfaces, graphics passwords), ``<metadata>``
    (nova's names the owner, flavor and image), ``<seclabel>``,
    ``<launchSecurity>``, ``<sysinfo>``, ``<os>`` loader or nvram, and no
    attribute of ``<domain>`` but ``type``. The input is validated as
    :func:`parse_domain` does (same InputError), so a snapshot never
    stores a document the reader would refuse; the result parses to the
    same :class:`Guest` facts.
    """
    root = _parse(text, origin)
    _guest(root, origin)  # validates; the result is not needed
    out = ET.Element('domain')
    if root.get('type'):
        out.set('type', root.get('type'))
    for path in KEPT:
        elem = root.find(path)
        if elem is None:
            continue
        kept = copy.deepcopy(elem)
        if path == 'os/type':
            ET.SubElement(out, 'os').append(kept)
        else:
            out.append(kept)
    ET.indent(out, space='  ')  # replaces the source's whitespace too
    return ET.tostring(out, encoding='unicode') + '\n'


def list_running(conn, uri=None):
    """[(uuid, live XML text)] of the active domains of a libvirt connection.

    Exactly one ``listAllDomains(VIR_CONNECT_LIST_DOMAINS_ACTIVE)`` call,
    then one ``XMLDesc(0)`` per guest: the live XML (it holds the CPU
    libvirt expanded at start), without ``VIR_DOMAIN_XML_SECURE`` (no
    passwords) and without ``MIGRATABLE``. A guest that stops between the
    list and its read is skipped: a transient one is gone
    (``VIR_ERR_NO_DOMAIN``), a persistent one returns its inactive XML,
    which has no ``<domain id=...>`` (libvirt writes the id only while the
    guest runs) and an unexpanded CPU. Any other libvirt
    error is a :class:`~migcompat_filter.exception.SourceError` naming the
    URI (``uri``, else the connection's own). Sorted by UUID.
    """
    try:
        import libvirt
    except ImportError as e:  # pragma: no cover - a dependency
        raise exception.SourceError('libvirt-python is not installed: %s'
                                    % e)
    try:
        domains = conn.listAllDomains(libvirt.VIR_CONNECT_LIST_DOMAINS_ACTIVE)
    except libvirt.libvirtError as e:
        lost = libvirt_io.lost_connection_codes(libvirt)
        error = (exception.TransientSourceError
                 if e.get_error_code() in lost else exception.SourceError)
        raise error('cannot list the running guests of %s: '
                    '%s' % (_uri(conn, uri), _msg(e)))
    out = []
    for dom in domains:
        try:
            uuid = dom.UUIDString()
            xml = dom.XMLDesc(0)
        except libvirt.libvirtError as e:
            if e.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
                continue  # it stopped after the list: not running any more
            raise exception.SourceError(
                'cannot read the XML of a running guest of %s: %s'
                % (_uri(conn, uri), _msg(e)))
        if _RUNNING.match(xml):
            out.append((uuid, xml))
    return sorted(out)


#: The start of a running domain's XML: its root tag carries an id.
_RUNNING = re.compile(r'\s*<domain\s[^>]*\bid=[\'"][0-9]+[\'"]')


def _uri(conn, uri):
    try:
        return uri or conn.getURI()
    except Exception:  # only ever used inside an error message
        return 'the libvirt connection'


def _msg(e):
    return (e.get_error_message() if hasattr(e, 'get_error_message')
            else None) or str(e)
