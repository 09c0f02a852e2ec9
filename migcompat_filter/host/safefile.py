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

"""Reading untrusted files without blocking and without a size surprise.

Every file migcompat reads from a snapshot or a command-line argument goes
through :func:`read_regular`: it opens with ``O_NONBLOCK`` (so a FIFO with
no writer cannot block the ``open``), refuses anything ``fstat`` does not
call a regular file ("... is not a regular file": FIFOs, sockets, devices
such as /dev/zero), and reads at most ``max_bytes`` plus one byte, in
chunks (procfs sysctl files allocate a buffer of the requested size and
fail with ENOMEM on one huge read()).

procfs and sysfs files are regular files to ``fstat``, so the live host
reads as before.
"""

import errno
import os
import stat

#: The default cap: far above the largest legitimate input (the
#: /proc/cpuinfo of a many-core host, a capabilities document with many
#: NUMA cells, a profile of a few KiB).
MAX_FILE_BYTES = 16 * 1024 * 1024

_CHUNK = 65536


#: errnos of a read that may succeed next time (permission denied, an I/O
#: error or a timeout of a network filesystem): FileRefused.transient.
TRANSIENT_ERRNOS = frozenset((errno.EACCES, errno.EPERM, errno.EIO,
                              errno.EAGAIN, errno.ETIMEDOUT, errno.EINTR))


class FileRefused(Exception):
    """A file cannot be read; str(exc) names it and says why.

    ``transient``: the cause may pass by itself (TRANSIENT_ERRNOS).
    """

    def __init__(self, message, transient=False):
        super(FileRefused, self).__init__(message)
        self.transient = transient


def _open(path, name):
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, 'O_CLOEXEC', 0)
    try:
        return os.open(path, flags)
    except OSError as e:
        if e.errno == errno.ENOENT:
            raise FileRefused('%s: does not exist' % name)
        if e.errno in (errno.EACCES, errno.EPERM):
            raise FileRefused('%s: permission denied' % name,
                              transient=True)
        if e.errno == errno.EISDIR:
            raise FileRefused('%s: is a directory, expected a file' % name)
        if e.errno == errno.ENXIO:  # a socket, or a FIFO on some systems
            raise FileRefused('%s: is not a regular file' % name)
        raise FileRefused('%s: cannot be read: %s'
                          % (name, e.strerror or e),
                          transient=e.errno in TRANSIENT_ERRNOS)


def _kind(mode):
    for test, what in ((stat.S_ISDIR, 'a directory'),
                       (stat.S_ISFIFO, 'a FIFO'),
                       (stat.S_ISSOCK, 'a socket'),
                       (stat.S_ISCHR, 'a character device'),
                       (stat.S_ISBLK, 'a block device')):
        if test(mode):
            return what
    return 'not a file'


def not_regular(path):
    """Why ``path`` is not a regular file ('no such file', 'is not a
    regular file (a FIFO)', ...), or None when it is one. Never opens it.
    """
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return 'no such file'
    if stat.S_ISREG(mode):
        return None
    kind = ('a device' if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
            else _kind(mode))
    return 'is not a regular file (%s)' % kind


def read_regular(path, max_bytes=MAX_FILE_BYTES, name=None):
    """The bytes of the regular file at ``path``.

    Raises :class:`FileRefused` naming ``name`` (default: the path) when
    it does not exist, cannot be opened, is not a regular file (without
    ever blocking on it) or holds more than ``max_bytes`` bytes.
    """
    name = name or path
    fd = _open(path, name)
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise FileRefused('%s: is a directory, expected a file' % name)
        if not stat.S_ISREG(mode):
            raise FileRefused('%s: is not a regular file (%s)'
                              % (name, _kind(mode)))
        chunks, size = [], 0
        while size <= max_bytes:
            try:
                chunk = os.read(fd, min(_CHUNK, max_bytes + 1 - size))
            except OSError as e:
                raise FileRefused('%s: cannot be read: %s'
                                  % (name, e.strerror or e),
                                  transient=e.errno in TRANSIENT_ERRNOS)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    finally:
        os.close(fd)
    if size > max_bytes:
        raise FileRefused('%s: larger than %d bytes; refusing to read it'
                          % (name, max_bytes))
    return b''.join(chunks)
