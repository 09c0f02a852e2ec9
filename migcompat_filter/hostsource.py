"""Where factors are read from: the live host or an offline snapshot.

Both sources expose the same small API, so every factor reader serves both:

* files by their host path without the leading slash (``proc/cpuinfo``),
  read safely: bounded in size, never following a link out of a snapshot,
  and every failure a :class:`SourceError` that names the file;
* the three libvirt documents (``capabilities``, ``domcapabilities``,
  ``version``) parsed with defusedxml (entity expansion refused);
* CPU-model expansion through libvirt's own CPU map, and through the
  local QEMU's model definitions for models the map does not know.

The snapshot layout is the host's own paths (see doc/source/snapshot.rst);
libvirt dumps live under ``libvirt/``.
"""

import atexit
import collections
import errno
import os
import re
import xml.etree.ElementTree as ET  # only for building XML; parsing is defused

from defusedxml import ElementTree as SafeET
import defusedxml

from migcompat_filter.exception import FactorUnknown
from migcompat_filter.exception import SourceError  # noqa: F401
from migcompat_filter import qemu_cpu_models

#: Refuse to read more than this from any one file. The largest legitimate
#: input is /proc/cpuinfo of a many-core host (about 2 KiB per CPU) or a
#: capabilities document with many NUMA cells; 16 MiB is far above both.
MAX_FILE_BYTES = 16 * 1024 * 1024

LIBVIRT_FILES = {
    'capabilities': 'libvirt/capabilities.xml',
    'domcapabilities': 'libvirt/domcapabilities.xml',
    'version': 'libvirt/version.txt',
}

DEFAULT_URI = 'qemu:///system'


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


def parse_xml(text, origin):
    """Parse untrusted XML text, refusing entities and DTD tricks."""
    try:
        return SafeET.fromstring(text)
    except defusedxml.DefusedXmlException as e:
        raise SourceError('%s: refused unsafe XML (%s); libvirt never writes '
                          'entities or DTDs, so this file was altered'
                          % (origin, type(e).__name__))
    except ET.ParseError as e:
        raise SourceError('%s: not well-formed XML: %s' % (origin, e))


def parse_version_text(text, origin='libvirt/version.txt'):
    """Parse ``virsh version`` output into {'libvirt': .., 'qemu': ..}."""
    found = {}
    for line in text.splitlines():
        m = re.match(r'\s*Using library:\s*libvirt\s+(\S+)', line)
        if m:
            found['libvirt'] = m.group(1)
        m = re.match(r'\s*Running hypervisor:\s*(\S+)\s+(\S+)', line)
        if m:
            found['hypervisor'] = m.group(1)
            found['qemu'] = m.group(2)
    if not found:
        raise SourceError('%s: no "Using library" or "Running hypervisor" '
                          'line; expected the output of "virsh version"'
                          % origin)
    return found


def version_int_to_str(value):
    """libvirt packs versions as major * 1,000,000 + minor * 1,000 + micro."""
    return '%d.%d.%d' % (value // 1000000, (value // 1000) % 1000,
                         value % 1000)


class HostSource(object):
    """Common file reading for the live host and snapshots."""

    #: Shown to the user: where the profile came from.
    description = ''

    def __init__(self, root):
        self.root = os.path.abspath(root)
        self._real_root = os.path.realpath(self.root)
        self._cache = {}

    # -- files -------------------------------------------------------------

    def path(self, relpath):
        return os.path.join(self.root, relpath)

    def _check_inside(self, relpath, full):
        """Refuse a path whose real location is outside the root."""
        if self._real_root == '/':
            return
        real = os.path.realpath(full)
        if real != self._real_root and not real.startswith(
                self._real_root + os.sep):
            raise SourceError('%s: is a link leading outside the snapshot '
                              '(to %s); refusing to read it' % (relpath, real))

    def exists(self, relpath):
        full = self.path(relpath)
        if not os.path.lexists(full):
            return False
        try:
            self._check_inside(relpath, full)
        except SourceError:
            return True  # exists, but reading it will say why it is refused
        return True

    def read_bytes(self, relpath, max_bytes=MAX_FILE_BYTES):
        full = self.path(relpath)
        self._check_inside(relpath, full)
        try:
            if os.path.isdir(full):
                raise SourceError('%s: is a directory, expected a file'
                                  % relpath)
            # Read in chunks: procfs sysctl files allocate a buffer of the
            # requested size and fail with ENOMEM on one huge read().
            chunks, size = [], 0
            with open(full, 'rb') as f:
                while size <= max_bytes:
                    chunk = f.read(min(65536, max_bytes + 1 - size))
                    if not chunk:
                        break
                    chunks.append(chunk)
                    size += len(chunk)
            data = b''.join(chunks)
        except SourceError:
            raise
        except OSError as e:
            if e.errno == errno.ENOENT:
                raise SourceError('%s: does not exist' % relpath)
            if e.errno in (errno.EACCES, errno.EPERM):
                raise SourceError('%s: permission denied' % relpath)
            raise SourceError('%s: cannot be read: %s'
                              % (relpath, e.strerror or e))
        if len(data) > max_bytes:
            raise SourceError('%s: larger than %d bytes; refusing to read it'
                              % (relpath, max_bytes))
        return data

    def read_text(self, relpath, errors='strict', max_bytes=MAX_FILE_BYTES):
        """Read a UTF-8 text file.

        ``errors='backslashreplace'`` keeps undecodable bytes visible as
        ``\\xNN`` (used for /proc/cmdline, which may hold any byte);
        the default refuses them with a message naming the offset.
        """
        data = self.read_bytes(relpath, max_bytes=max_bytes)
        try:
            return data.decode('utf-8', errors)
        except UnicodeDecodeError as e:
            raise SourceError('%s: not UTF-8 text (byte 0x%02x at offset %d)'
                              % (relpath, data[e.start], e.start))

    def read_value(self, relpath):
        """Read a one-value file (sysfs/procfs): stripped, never empty."""
        text = self.read_text(relpath).strip()
        if not text:
            raise SourceError('%s: is empty' % relpath)
        return text

    def listdir(self, relpath):
        full = self.path(relpath)
        self._check_inside(relpath, full)
        try:
            return sorted(os.listdir(full))
        except OSError as e:
            if e.errno == errno.ENOENT:
                raise SourceError('%s: does not exist' % relpath)
            raise SourceError('%s: cannot be listed: %s'
                              % (relpath, e.strerror or e))

    # -- libvirt -----------------------------------------------------------

    def libvirt_text(self, name):
        """Raw text of 'capabilities', 'domcapabilities' or 'version'."""
        raise NotImplementedError

    def cached(self, key, compute):
        """compute() once per source; a FactorUnknown is remembered too,
        so that every factor needing a missing document gets the same
        reason without reading it again. Factors use it for what several
        of them parse (e.g. /proc/cpuinfo)."""
        if key not in self._cache:
            try:
                self._cache[key] = compute()
            except FactorUnknown as e:
                self._cache[key] = e
        value = self._cache[key]
        if isinstance(value, FactorUnknown):
            raise value
        return value

    def libvirt_xml(self, name):
        """Parsed libvirt document (cached); SourceError if unavailable."""
        return self.cached(('xml', name), lambda: parse_xml(
            self.libvirt_text(name), self.libvirt_origin(name)))

    def libvirt_origin(self, name):
        return LIBVIRT_FILES[name]

    def versions(self):
        """{'libvirt': 'X.Y.Z', 'qemu': 'X.Y.Z'} (keys may be missing)."""
        return parse_version_text(self.libvirt_text('version'),
                                  self.libvirt_origin('version'))

    def expand_cpu(self, cpu_xml):
        """Expand a host-CPU XML (model + features) into all its features.

        Returns an :class:`Expansion` (features, how, detail). ``how``
        says which definitions expanded the named model:

        ``'libvirt'``
            libvirt's own CPU map, through the daemon-less test driver (so
            the live host and a snapshot read on the same machine expand
            alike);
        ``'libvirt+qemu'``
            a model version this CPU map does not know (``X-v3``): libvirt's
            map for the base model ``X``, plus what the local QEMU's
            definitions of ``X-v1`` and ``X-v3`` say the version changes.
            The list is in the same terms as libvirt's own expansions;
        ``'qemu'``
            a model libvirt's map does not know at all: the local QEMU's
            definition of it. QEMU's model lists differ from libvirt's in
            places, so this is another reader's view.

        The features listed beside the model (policy require) are added.
        SourceError (naming the model and why each way failed) when none
        of them can expand it.
        """
        return self.cached(('expand', cpu_xml),
                           lambda: self._expand_cpu(cpu_xml))

    def _expand_cpu(self, cpu_xml):
        cpu = _CpuSpec.parse(cpu_xml)
        try:
            return Expansion(_expand_with_cpu_map(cpu), 'libvirt', '')
        except SourceError as e:
            libvirt_error = e
        if not cpu.model:
            raise libvirt_error
        try:
            return self._expand_with_qemu(cpu)
        except (SourceError, qemu_cpu_models.QemuCpuModelError) as e:
            raise SourceError('%s; %s' % (libvirt_error, e))

    def qemu_binary(self, arch):
        """The QEMU emulator to ask for CPU model definitions.

        The emulator the host's domain capabilities name, when it exists
        on this machine, else qemu-system-<arch> on $PATH.
        """
        preferred = None
        try:
            preferred = (self.libvirt_xml('domcapabilities')
                         .findtext('path') or '').strip() or None
        except SourceError:
            pass
        return qemu_cpu_models.find_binary(arch, preferred)

    def _expand_with_qemu(self, cpu):
        binary = self.qemu_binary(cpu.arch)
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

    def close(self):
        pass


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
    expanded it (``'libvirt'``, ``'libvirt+qemu'`` or ``'qemu'``, see
    :meth:`HostSource.expand_cpu`) and a sentence saying how."""


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


class SnapshotSource(HostSource):
    """An offline snapshot directory laid out like the host's own paths."""

    def __init__(self, root):
        if not os.path.isdir(root):
            raise SourceError('%s: is not a directory; a snapshot is a '
                              'directory written by "migcompat snapshot"'
                              % root)
        super(SnapshotSource, self).__init__(root)
        self.description = 'snapshot %s' % self.root

    def libvirt_text(self, name):
        return self.read_text(LIBVIRT_FILES[name])


class LiveSource(HostSource):
    """The running host: files under ``root`` (``/``) plus libvirt at uri."""

    def __init__(self, root='/', uri=DEFAULT_URI):
        super(LiveSource, self).__init__(root)
        self.uri = uri
        self.description = 'live host (libvirt %s)' % uri

    def connection(self):
        return self.cached('conn', self._connect)

    def _connect(self):
        libvirt = import_libvirt()
        try:
            # Read-write: libvirt refuses domain capabilities and
            # baselineHypervisorCPU on a read-only connection. Only
            # queries are issued.
            return libvirt.open(self.uri)
        except Exception as e:  # libvirtError, or a bad URI
            msg = (e.get_error_message()
                   if hasattr(e, 'get_error_message') else str(e))
            raise SourceError(
                'cannot connect to libvirt at %s: %s' % (self.uri, msg))

    def libvirt_origin(self, name):
        return '%s of %s' % (name, self.uri)

    def virt_type(self):
        return 'kvm' if os.path.exists('/dev/kvm') else 'qemu'

    def libvirt_text(self, name):
        return self.cached(('text', name), lambda: self._query(name))

    def _query(self, name):
        libvirt = import_libvirt()
        conn = self.connection()
        try:
            if name == 'capabilities':
                return conn.getCapabilities()
            if name == 'version':
                return self._version_text(conn)
            if name == 'domcapabilities':
                return self._expanded_domcapabilities(libvirt, conn)
        except libvirt.libvirtError as e:
            raise SourceError('%s: libvirt refused: %s'
                              % (self.libvirt_origin(name),
                                 e.get_error_message()))
        raise KeyError(name)

    def _version_text(self, conn):
        # The same text "virsh version" prints, so that snapshots written
        # by us and by hand read alike.
        lines = ['Using library: libvirt %s'
                 % version_int_to_str(conn.getLibVersion())]
        try:
            hv = conn.getVersion()
        except Exception:
            hv = None
        if hv:
            lines.append('Running hypervisor: %s %s'
                         % (conn.getType(), version_int_to_str(hv)))
        return '\n'.join(lines) + '\n'

    def _expanded_domcapabilities(self, libvirt, conn):
        """Domain capabilities with the host-model CPU fully expanded.

        libvirt 9.0 has no --expand-cpu-features; we expand with
        baselineHypervisorCPU (the hypervisor's own view) and write the
        result back into the document, as newer libvirt does, so that a
        snapshot of this text reads exactly like the live host.
        """
        text = conn.getDomainCapabilities(None, None, None, self.virt_type())
        root = parse_xml(text, self.libvirt_origin('domcapabilities'))
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

    def close(self):
        conn = self._cache.pop('conn', None)
        if conn is not None and not isinstance(conn, SourceError):
            try:
                conn.close()
            except Exception:
                pass


def open_source(root=None, uri=DEFAULT_URI):
    """The snapshot at ``root``, or the live host when root is None."""
    if root is None:
        return LiveSource('/', uri)
    return SnapshotSource(root)
