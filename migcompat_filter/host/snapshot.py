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

"""Write an offline snapshot of a host (``migcompat snapshot create DIR``).

The snapshot mirrors the host's own paths (see doc/source/snapshot.rst), so
the readers that serve the live host read it unchanged and
``migcompat profile show --root DIR`` gives the same profile as the live host.

Only the files the factors read are copied, as their catalogue rows list
them (``snapshot_files``): the libvirt documents (the domain capabilities
with the host-model CPU already expanded by the live source), a few /proc
and /sys files, the allow-listed kvm module parameters and
/etc/modprobe.d/*.conf, and each running guest's live XML cut down to
its name, uuid, ``<cpu>``, ``<os><type>`` and ``<clock>``
(``libvirt/domains/<uuid>.xml``; never its disks, interfaces, graphics
passwords, metadata or secrets). From nova's config only the two
``[libvirt]`` options ``cpu_mode`` and ``cpu_models`` are written, each to
a file of its own; the config file itself (it holds passwords) is never
copied.

The snapshot is built in a temporary directory beside the target and
renamed into place, with the marker file written last, so a failure never
leaves a half snapshot that looks complete. An older snapshot at the target
is swapped with the new one in one step (``renameat2(RENAME_EXCHANGE)``),
so there is never a moment without a complete snapshot there; where the
kernel or file system cannot exchange, two renames are used and a crash
between them can leave the target missing (the old snapshot is then the
``.<name>.old.*`` directory beside it). Temporary directories a killed run
left behind are removed by the next run once they are STALE_SECONDS old.
"""

import ctypes
import ctypes.util
import datetime
import errno
import fnmatch
import os
import re
import shutil
import stat
import tempfile
import time

from migcompat_filter import exception
from migcompat_filter.exception import FactorUnknown
from migcompat_filter.factors import catalogue
from migcompat_filter.host import nova_cpu_options
from migcompat_filter.host import source as hostsource

#: Written last; its presence marks a complete snapshot written by us.
MARKER = 'MIGCOMPAT-SNAPSHOT'

#: Written from nova's config file (only these two options), not copied.
NOVA_FILES = (nova_cpu_options.MODE_FILE, nova_cpu_options.MODELS_FILE)
_LIBVIRT_NAMES = {path: name
                  for name, path in hostsource.LIBVIRT_FILES.items()}
#: The running guests (libvirt/domains/<uuid>.xml), read through libvirt.
_DOMAINS = hostsource.DOMAINS_DIR + '/'


def files():
    """Every path or pattern a snapshot copies: what the factors' catalogue
    rows list (FactorRow.snapshot_files), less the nova files.
    """
    return [p for p in catalogue.snapshot_files() if p not in NOVA_FILES]


class SnapshotError(exception.InputError):
    """The snapshot cannot be written; the message says where and why."""


#: A temporary entry of ours older than this is litter from a run that was
#: killed (a snapshot takes seconds); younger ones may be a concurrent run's.
STALE_SECONDS = 300


def is_snapshot(path):
    return os.path.isfile(os.path.join(path, MARKER))


def _check_target(path):
    if os.path.lexists(path) and not os.path.isdir(path):
        raise SnapshotError('%s: exists and is not a directory' % path)
    if os.path.isdir(path) and os.listdir(path) and not is_snapshot(path):
        raise SnapshotError(
            '%s: is not empty and is not a migcompat snapshot (no %s '
            'file); refusing to write into it' % (path, MARKER))


def _write(root, relpath, data):
    full = os.path.join(root, relpath)
    os.makedirs(os.path.dirname(full), exist_ok=True)
    if isinstance(data, str):
        data = data.encode('utf-8')
    with open(full, 'wb') as f:
        f.write(data)


class _Capture(object):
    """Copy what the factors read from source into tmp, noting failures."""

    def __init__(self, source, tmp):
        self.source = source
        self.tmp = tmp
        self.notes = []
        self._listed = {}

    def run(self, paths):
        # The libvirt documents first: the live source queries libvirt.
        for path in sorted(p for p in paths if p in _LIBVIRT_NAMES):
            self.libvirt(path)
        if any(p.startswith(_DOMAINS) for p in paths):
            self.domains()
        for path in paths:
            if path in _LIBVIRT_NAMES or path.startswith(_DOMAINS):
                continue
            if path.endswith('/'):
                # Created even when empty: an empty one in the snapshot
                # says "nothing there", a missing one "not captured".
                os.makedirs(os.path.join(self.tmp, path), exist_ok=True)
                continue
            for relpath in self.expand(path):
                self.copy(relpath)
        return self.notes

    def libvirt(self, relpath):
        try:
            _write(self.tmp, relpath,
                   self.source.libvirt_text(_LIBVIRT_NAMES[relpath]))
        except FactorUnknown as e:
            self.notes.append(str(e))

    def domains(self):
        """Each running guest's live XML, cut down, as <uuid>.xml.

        Only what the rules read survives (domains.cut_down: no devices,
        passwords, metadata or secrets). A guest whose XML cannot be read
        is kept as ``unjudged-<n>.txt`` holding the reason (never its
        XML), so the snapshot's running guests are unjudged as the live
        host's are (factors/guests.py). When the guests cannot be listed
        the directory is left out ("not captured").
        """
        from migcompat_filter.host import domains  # defusedxml, only here
        cut, unjudged = {}, []
        try:
            for origin, text in self.source.running_domains():
                try:
                    uuid = domains.parse_domain(text, origin).uuid
                    cut[uuid] = domains.cut_down(text, origin)
                except exception.InputError as e:
                    unjudged.append(str(e))
        except FactorUnknown as e:
            self.notes.append('running guests: %s' % e)
            return
        for why in unjudged:
            self.notes.append('running guest %s (kept as unjudged)' % why)
        os.makedirs(os.path.join(self.tmp, _DOMAINS), exist_ok=True)
        for uuid, text in sorted(cut.items()):
            _write(self.tmp, '%s%s.xml' % (_DOMAINS, uuid), text)
        for n, why in enumerate(unjudged, 1):
            _write(self.tmp, '%sunjudged-%d.txt' % (_DOMAINS, n),
                   why.encode('utf-8', 'backslashreplace') + b'\n')

    def copy(self, relpath):
        if not self.source.exists(relpath):
            return
        try:
            _write(self.tmp, relpath, self.source.read_bytes(relpath))
        except FactorUnknown as e:
            self.notes.append(str(e))

    def expand(self, pattern):
        """The host paths a pattern names (``*`` within a component)."""
        found = ['']
        for part in pattern.split('/'):
            if '*' not in part:
                found = [_join(base, part) for base in found]
                continue
            found = [_join(base, name) for base in found
                     for name in self.listdir(base)
                     if fnmatch.fnmatchcase(name, part)]
        return found

    def listdir(self, relpath):
        """A directory's entries (once each); [] when it is missing."""
        if relpath not in self._listed:
            names = []
            if self.source.exists(relpath):
                try:
                    names = self.source.listdir(relpath)
                except FactorUnknown as e:
                    self.notes.append(str(e))
            self._listed[relpath] = names
        return self._listed[relpath]


def _join(base, name):
    return '%s/%s' % (base, name) if base else name


def _capture(source, tmp):
    """Copy what the factors read from source into tmp; [missing notes]."""
    return _Capture(source, tmp).run(files())


def _nova_options(nova_config):
    """(mode, models) or None when there is no nova config to read."""
    config = nova_cpu_options.as_config(nova_config)
    if not config.explicit:
        return None
    try:
        return nova_cpu_options.read_nova_cpu_options(config)
    except FactorUnknown as e:
        # str(e) is already sanitised; the chain would add nothing safe.
        raise SnapshotError(str(e)) from None


def write_snapshot(source, path, nova_config=None):
    """Write the snapshot of source to the directory path.

    Returns a list of notes on what could not be captured (those factors
    will be unknown in the snapshot, as they are on the host). Raises
    SnapshotError when path is unusable or nova_config cannot be read.
    """
    path = os.path.abspath(path)
    _check_target(path)
    nova = _nova_options(nova_config)
    parent = os.path.dirname(path)
    try:
        os.makedirs(parent, exist_ok=True)
        remove_stale_temps(path)
        tmp = tempfile.mkdtemp(prefix='.%s.' % os.path.basename(path),
                               dir=parent)
    except OSError as e:
        raise SnapshotError('%s: cannot create the snapshot directory: %s'
                            % (path, e.strerror or e))
    try:
        notes = _capture(source, tmp)
        if nova is not None:
            _write(tmp, nova_cpu_options.MODE_FILE, nova[0] + '\n')
            _write(tmp, nova_cpu_options.MODELS_FILE, ','.join(nova[1]) + '\n')
        else:
            notes.append('no nova config (%s does not exist): cpu_mode and '
                         'cpu_models not captured'
                         % nova_cpu_options.DEFAULT_NOVA_CONFIG)
        _write(tmp, MARKER, _marker_text(source, notes))
        os.chmod(tmp, 0o755)
        _replace(tmp, path)
    except OSError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        raise SnapshotError('%s: cannot write the snapshot: %s'
                            % (path, e.strerror or e))
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return notes


def _marker_text(source, notes):
    lines = ['migcompat host snapshot',
             'source: %s' % getattr(source, 'description', ''),
             'written: %s' % datetime.datetime.now(
                 datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')]
    lines += ['not captured: %s' % n for n in notes]
    return '\n'.join(lines) + '\n'


def remove_stale_temps(path, max_age=STALE_SECONDS, now=None):
    """Remove the temporary directories of ours beside path (``.<name>.*``
    as mkdtemp names them, ``.<name>.old.*``) older than max_age seconds:
    what a killed run left. Returns the names removed. Only directories
    with exactly our name pattern are touched; nothing else in the parent.
    """
    parent, name = os.path.split(os.path.abspath(path))
    ours = re.compile(r'\.%s\.(old\.)?[A-Za-z0-9_]{8}\Z' % re.escape(name))
    now = time.time() if now is None else now
    removed = []
    try:
        entries = os.listdir(parent)
    except OSError:
        return removed
    for entry in entries:
        if not ours.match(entry):
            continue
        full = os.path.join(parent, entry)
        try:
            st = os.lstat(full)
        except OSError:
            continue  # gone already (a concurrent run cleaned it)
        if stat.S_ISDIR(st.st_mode) and now - st.st_mtime > max_age:
            shutil.rmtree(full, ignore_errors=True)
            removed.append(entry)
    return removed


_AT_FDCWD = -100
_RENAME_EXCHANGE = 2
_renameat2 = None


def _libc_renameat2():
    """glibc's renameat2 (2.28 and later), or None."""
    global _renameat2
    if _renameat2 is None:
        try:
            libc = ctypes.CDLL(ctypes.util.find_library('c') or 'libc.so.6',
                               use_errno=True)
            func = libc.renameat2
        except (OSError, AttributeError):
            func = False
        else:
            func.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int,
                             ctypes.c_char_p, ctypes.c_uint]
            func.restype = ctypes.c_int
        _renameat2 = func
    return _renameat2 or None


def exchange(a, b):
    """Swap the directory entries a and b atomically; False when the C
    library, kernel or file system cannot (then nothing was changed).
    Raises OSError for any other failure.
    """
    func = _libc_renameat2()
    if func is None:
        return False
    if func(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b),
            _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), b)


def _replace(tmp, path):
    if os.path.isdir(path) and not os.listdir(path):
        os.rmdir(path)
    if not os.path.exists(path):
        os.rename(tmp, path)
        return
    # An older snapshot: swap it with the new one in one step; tmp then
    # holds the old one.
    if exchange(tmp, path):
        shutil.rmtree(tmp, ignore_errors=True)
        return
    # No exchange here: move the old one aside, the new one in, drop the
    # old. A crash between the two renames leaves no snapshot at path; the
    # old one stays beside it as .<name>.old.* until the next run.
    old = tempfile.mkdtemp(prefix='.%s.old.' % os.path.basename(path),
                           dir=os.path.dirname(path))
    os.rmdir(old)
    os.rename(path, old)
    try:
        os.rename(tmp, path)
    except OSError:
        os.rename(old, path)
        raise
    shutil.rmtree(old, ignore_errors=True)
