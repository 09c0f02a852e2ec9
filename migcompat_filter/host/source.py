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

"""Where factors are read from: the live host or an offline snapshot.

Both sources expose the same small API, so every factor reader serves both:

* files by their host path without the leading slash (``proc/cpuinfo``),
  read safely: bounded in size, never following a link out of a snapshot,
  and every failure a :class:`SourceError` that names the file;
* the three libvirt documents (``capabilities``, ``domcapabilities``,
  ``version``) parsed with defusedxml (entity expansion refused);
* what several factors read, parsed once per source: /proc/cpuinfo, the
  host CPU of libvirt's capabilities, DMI strings, nova's CPU options;
* CPU-model expansion (migcompat_filter.host.cpu_expansion) through libvirt's
  own CPU map, and through the local QEMU's model definitions for models
  the map does not know.

The snapshot layout is the host's own paths (see doc/source/snapshot.rst);
libvirt dumps live under ``libvirt/``.
"""

import errno
import os
import re
import xml.etree.ElementTree as ET  # only for building XML; parsing is defused

from migcompat_filter.exception import FactorUnknown
from migcompat_filter.exception import SourceError
from migcompat_filter.exception import TransientSourceError
from migcompat_filter.host import cpu_expansion
from migcompat_filter.host.libvirt_io import expanded_domcapabilities
from migcompat_filter.host.libvirt_io import import_libvirt
from migcompat_filter.host.libvirt_io import lost_connection_codes
from migcompat_filter.host.libvirt_io import parse_xml
from migcompat_filter.host.libvirt_io import version_int_to_str
from migcompat_filter.host import nova_cpu_options
from migcompat_filter.host import qemu_cpu_models
from migcompat_filter.host import safefile

#: Refuse to read more than this from any one file. The largest legitimate
#: input is /proc/cpuinfo of a many-core host (about 2 KiB per CPU) or a
#: capabilities document with many NUMA cells; 16 MiB is far above both.
MAX_FILE_BYTES = safefile.MAX_FILE_BYTES

LIBVIRT_FILES = {
    'capabilities': 'libvirt/capabilities.xml',
    'domcapabilities': 'libvirt/domcapabilities.xml',
    'version': 'libvirt/version.txt',
}
CPUINFO = 'proc/cpuinfo'
#: The running guests' cut-down live XML in a snapshot, one <uuid>.xml each.
DOMAINS_DIR = 'libvirt/domains'
DMI_DIR = 'sys/class/dmi/id'

DEFAULT_URI = 'qemu:///system'


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


class HostSource(object):
    """Common file reading for the live host and snapshots."""

    #: Shown to the user: where the profile came from.
    description = ''

    def __init__(self, root):
        self.root = os.path.abspath(root)
        self._real_root = os.path.realpath(self.root)
        self._cache = {}
        #: Every TransientSourceError raised so far (also when a cached
        #: one is raised again): the reader marks a factor whose read saw
        #: one as transiently unknown (see transient_errors).
        self.transient_seen = []

    def transient_error(self, message):
        """A TransientSourceError, noted in transient_seen: raise it."""
        e = TransientSourceError(message)
        self.transient_seen.append(e)
        return e

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
        """The bytes of a regular file; SourceError naming relpath when it
        is missing, unreadable, not a regular file (a FIFO never blocks
        us: see migcompat_filter.host.safefile) or larger than max_bytes.
        """
        full = self.path(relpath)
        self._check_inside(relpath, full)
        try:
            return safefile.read_regular(full, max_bytes, name=relpath)
        except safefile.FileRefused as e:
            if e.transient:
                raise self.transient_error(str(e))
            raise SourceError(str(e))

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
        of them parse (e.g. /proc/cpuinfo).
        """
        if key not in self._cache:
            try:
                self._cache[key] = compute()
            except FactorUnknown as e:
                self._cache[key] = e
        value = self._cache[key]
        if isinstance(value, TransientSourceError):
            self.transient_seen.append(value)
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

        Returns a :class:`migcompat_filter.host.cpu_expansion.Expansion`
        (features, how, detail). ``how`` says which definitions expanded
        the named model:

        ``'libvirt'``
            libvirt's own CPU map, through the daemon-less test driver (so
            the live host and a snapshot read on the same machine expand
            alike);
        ``'libvirt-data'``
            a model the local libvirt's CPU map does not know, from the CPU
            map of a newer libvirt that migcompat carries
            (migcompat_filter.cpu.map_models, generated by
            tools/make_cpu_model_data.py): libvirt's own definition;
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
        return self.cached(('expand', cpu_xml), lambda: cpu_expansion.expand(
            cpu_xml, self.qemu_binary))

    def expand_cpu_element(self, cpu):
        """Expand a libvirt <cpu> element (model + extra features): the
        :meth:`expand_cpu` of its arch, model, vendor and required
        features.
        """
        spec = ET.Element('cpu')
        for tag in ('arch', 'model', 'vendor'):
            for child in cpu.findall(tag):
                ET.SubElement(spec, tag).text = (child.text or '').strip()
        for f in cpu.findall('feature'):
            if f.get('policy', 'require') == 'require' and f.get('name'):
                ET.SubElement(spec, 'feature', name=f.get('name'))
        return self.expand_cpu(ET.tostring(spec, encoding='unicode'))

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

    # -- what several factors read -------------------------------------------

    def cpuinfo(self):
        """First processor block of /proc/cpuinfo as {key: value} (cached)."""
        return self.cached(('cpuinfo',), self._parse_cpuinfo)

    def _parse_cpuinfo(self):
        fields = {}
        for line in self.read_text(CPUINFO).splitlines():
            if not line.strip():
                if fields:
                    break
                continue
            name, sep, value = line.partition(':')
            if sep:
                fields.setdefault(name.strip(), value.strip())
        if not fields:
            raise FactorUnknown('%s: is empty' % CPUINFO)
        return fields

    def cpuinfo_flags(self):
        """Kernel CPU flags (raw names) or FactorUnknown."""
        flags = self.cpuinfo().get('flags')
        if flags is None:
            raise FactorUnknown('%s: has no "flags" line' % CPUINFO)
        return flags.split()

    def host_cpu(self):
        """The <cpu> element of libvirt capabilities' <host>."""
        cpu = self.libvirt_xml('capabilities').find('host/cpu')
        if cpu is None:
            raise FactorUnknown('%s: has no <host><cpu> element'
                                % self.libvirt_origin('capabilities'))
        return cpu

    def dmi(self, name):
        """A DMI string (sys/class/dmi/id/NAME) or FactorUnknown."""
        return self.read_value('%s/%s' % (DMI_DIR, name))

    def missing_is_empty(self, relpath):
        """Whether a missing directory means "nothing there" (the live
        host) rather than "not captured" (a snapshot).
        """
        raise NotImplementedError

    def nova_cpu_mode(self):
        """nova-compute's [libvirt] cpu_mode, or FactorUnknown."""
        raise NotImplementedError

    def nova_cpu_models(self):
        """nova-compute's [libvirt] cpu_models (a list), or FactorUnknown."""
        raise NotImplementedError

    def nova_cpu_options(self):
        """(cpu_mode, cpu_models); FactorUnknown when either is unknown."""
        return self.nova_cpu_mode(), self.nova_cpu_models()

    def running_domains(self):
        """[(origin, domain XML text)] of the running guests, by UUID
        (cached); FactorUnknown when they cannot be listed. ``origin``
        names each document in errors.
        """
        return self.cached(('domains',), self._running_domains)

    def _running_domains(self):
        raise NotImplementedError

    def close(self):
        pass


class SnapshotSource(HostSource):
    """An offline snapshot directory laid out like the host's own paths."""

    def __init__(self, root):
        if not os.path.isdir(root):
            raise SourceError('%s: is not a directory; a snapshot is a '
                              'directory written by "migcompat snapshot '
                              'create"' % root)
        super(SnapshotSource, self).__init__(root)
        self.description = 'snapshot %s' % self.root

    def libvirt_text(self, name):
        return self.read_text(LIBVIRT_FILES[name])

    def missing_is_empty(self, relpath):
        return False  # a snapshot creates the directories it captures

    def _running_domains(self):
        if not self.exists(DOMAINS_DIR):
            raise FactorUnknown('%s/: not in the snapshot (written by a '
                                'migcompat that did not capture running '
                                'guests)' % DOMAINS_DIR)
        return [('%s/%s' % (DOMAINS_DIR, name),
                 self.read_text('%s/%s' % (DOMAINS_DIR, name)))
                for name in self.listdir(DOMAINS_DIR)
                if name.endswith('.xml')]

    def nova_cpu_mode(self):
        path = nova_cpu_options.MODE_FILE
        if not self.exists(path):
            raise FactorUnknown('%s: not in the snapshot (no nova config '
                                'was captured)' % path)
        mode = self.read_value(path).lower()
        if mode not in nova_cpu_options.MODES:
            raise FactorUnknown('%s: %r is not a nova cpu_mode (one of %s)'
                                % (path, mode,
                                   ', '.join(nova_cpu_options.MODES)))
        return mode

    def nova_cpu_models(self):
        path = nova_cpu_options.MODELS_FILE
        if self.exists(path):
            return nova_cpu_options.split_models(self.read_text(path))
        if self.exists(nova_cpu_options.MODE_FILE):
            return []  # mode captured without models: nova's default []
        raise FactorUnknown('%s: not in the snapshot (no nova config was '
                            'captured)' % path)


class LiveSource(HostSource):
    """The running host: files under ``root`` (``/``) plus libvirt at uri.

    ``nova_config``: nova-compute's config files and directories (a
    nova_cpu_options.NovaConfig or one path; None: nova's defaults).
    """

    nova_config = None

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
            # libvirtd stopped, restarting or refusing us for now: the
            # reporter keeps the last good values (an unreachable daemon
            # and a removed one look alike; "really gone" is decided by
            # the kept values' rule, not here).
            raise self.transient_error(
                'cannot connect to libvirt at %s: %s' % (self.uri, msg))

    def libvirt_origin(self, name):
        return '%s of %s' % (name, self.uri)

    def missing_is_empty(self, relpath):
        return True

    def _nova_options(self):
        return nova_cpu_options.read_nova_cpu_options(self.nova_config)

    def nova_cpu_mode(self):
        return self._nova_options()[0]

    def nova_cpu_models(self):
        return self._nova_options()[1]

    def _running_domains(self):
        from migcompat_filter.host import domains  # defusedxml, only when read
        try:
            running = domains.list_running(self.connection(), self.uri)
        except TransientSourceError as e:
            self.transient_seen.append(e)
            raise
        return [('domain %s of %s' % (uuid, self.uri), text)
                for uuid, text in running]

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
                return expanded_domcapabilities(
                    libvirt, conn, self.virt_type(),
                    self.libvirt_origin('domcapabilities'))
        except libvirt.libvirtError as e:
            if e.get_error_code() in lost_connection_codes(libvirt):
                raise self.transient_error(
                    '%s: libvirt connection lost: %s'
                    % (self.libvirt_origin(name), e.get_error_message()))
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
