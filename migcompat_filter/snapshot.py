"""Write an offline snapshot of a host (``migcompat snapshot DIR``).

The snapshot mirrors the host's own paths (see doc/source/snapshot.rst), so
the readers that serve the live host read it unchanged and
``migcompat profile --root DIR`` gives the same profile as the live host.

Only the files the factors read are copied: the libvirt documents (the
domain capabilities with the host-model CPU already expanded by the live
source), a few /proc and /sys files, the allow-listed kvm module
parameters and /etc/modprobe.d/*.conf. From nova's config only the two
``[libvirt]`` options ``cpu_mode`` and ``cpu_models`` are written, each to
a file of its own; the config file itself (it holds passwords) is never
copied.

The snapshot is built in a temporary directory beside the target and
renamed into place, with the marker file written last, so a failure never
leaves a half snapshot that looks complete.
"""

import datetime
import os
import shutil
import tempfile

from migcompat_filter import exception
from migcompat_filter.factors import base
from migcompat_filter.factors import guest
from migcompat_filter.factors import kernel
from migcompat_filter import hostsource

#: Written last; its presence marks a complete snapshot written by us.
MARKER = 'MIGCOMPAT-SNAPSHOT'

FILES = [
    'proc/cpuinfo',
    'proc/cmdline',
    'proc/sys/kernel/osrelease',
    'sys/devices/system/cpu/smt/control',
    'sys/class/dmi/id/bios_vendor',
    'sys/class/dmi/id/bios_version',
    'sys/class/dmi/id/bios_date',
    'sys/class/dmi/id/sys_vendor',
    'sys/class/dmi/id/product_name',
]


class SnapshotError(exception.InputError):
    """The snapshot cannot be written; the message says where and why."""


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


def _capture(source, tmp):
    """Copy what the factors read from source into tmp; [missing notes]."""
    notes = []

    def copy(relpath):
        if not source.exists(relpath):
            return
        try:
            _write(tmp, relpath, source.read_bytes(relpath))
        except base.FactorUnknown as e:
            notes.append(str(e))

    for name, relpath in sorted(hostsource.LIBVIRT_FILES.items()):
        try:
            _write(tmp, relpath, source.libvirt_text(name))
        except base.FactorUnknown as e:
            notes.append(str(e))
    for relpath in FILES:
        copy(relpath)
    for relpath in (kernel.VULN_DIR,):
        if source.exists(relpath):
            try:
                for name in source.listdir(relpath):
                    copy('%s/%s' % (relpath, name))
            except base.FactorUnknown as e:
                notes.append(str(e))
    # These two directories are created even when empty: an empty one in
    # the snapshot says "nothing there", a missing one "not captured".
    os.makedirs(os.path.join(tmp, kernel.MODPROBE_DIR), exist_ok=True)
    if source.exists(kernel.MODPROBE_DIR):
        try:
            for name in source.listdir(kernel.MODPROBE_DIR):
                if name.endswith('.conf'):
                    copy('%s/%s' % (kernel.MODPROBE_DIR, name))
        except base.FactorUnknown as e:
            notes.append(str(e))
    os.makedirs(os.path.join(tmp, kernel.MODULE_DIR), exist_ok=True)
    if source.exists(kernel.MODULE_DIR):
        try:
            modules = [m for m in source.listdir(kernel.MODULE_DIR)
                       if m.startswith('kvm')]
        except base.FactorUnknown as e:
            notes.append(str(e))
            modules = []
        for module in modules:
            pdir = '%s/%s/parameters' % (kernel.MODULE_DIR, module)
            if not source.exists(pdir):
                continue
            try:
                names = source.listdir(pdir)
            except base.FactorUnknown as e:
                notes.append(str(e))
                continue
            for name in names:
                if name in kernel.MODULE_PARAMS:
                    copy('%s/%s' % (pdir, name))
    return notes


def _nova_options(nova_config):
    """(mode, models) or None when there is no nova config to read."""
    explicit = nova_config is not None
    path = nova_config or guest.DEFAULT_NOVA_CONFIG
    if not explicit and not os.path.exists(path):
        return None
    if explicit and not os.path.isfile(path):
        raise SnapshotError('%s: nova config file does not exist' % path)
    try:
        return guest.read_nova_cpu_options(path)
    except base.FactorUnknown as e:
        raise SnapshotError(str(e))


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
        tmp = tempfile.mkdtemp(prefix='.%s.' % os.path.basename(path),
                               dir=parent)
    except OSError as e:
        raise SnapshotError('%s: cannot create the snapshot directory: %s'
                            % (path, e.strerror or e))
    try:
        notes = _capture(source, tmp)
        if nova is not None:
            _write(tmp, guest.MODE_FILE, nova[0] + '\n')
            _write(tmp, guest.MODELS_FILE, ','.join(nova[1]) + '\n')
        else:
            notes.append('no nova config (%s does not exist): cpu_mode and '
                         'cpu_models not captured'
                         % guest.DEFAULT_NOVA_CONFIG)
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


def _replace(tmp, path):
    if os.path.isdir(path) and not os.listdir(path):
        os.rmdir(path)
    if not os.path.exists(path):
        os.rename(tmp, path)
        return
    # An older snapshot: move it aside, move the new one in, drop the old.
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
