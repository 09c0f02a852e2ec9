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

"""libvirt's CPU-map expansions, remembered between processes.

Expanding a named CPU through libvirt's test driver (cpu_expansion) costs
every ``migcompat`` process ~30 ms: loading libvirt-python, opening the
driver and its CPU map, one baselineCPU call per CPU. The answer depends
only on the CPU asked about and on the installed libvirt (its library and
its CPU map files), so it is kept in one small JSON file per user, stamped
with a fingerprint of those files (path, size and mtime of libvirt-python's
``libvirtmod`` and of every file of ``/usr/share/libvirt/cpu_map``). A
libvirt upgrade changes the fingerprint and the file starts over; when the
CPU map directory is not there, nothing is cached.

Where: ``$MIGCOMPAT_CACHE_DIR``, else ``$XDG_CACHE_HOME/migcompat``, else
``~/.cache/migcompat``. ``MIGCOMPAT_CACHE_DIR=`` (empty) turns it off (the
test suite does). A cache that cannot be read or written is ignored: the
expansion is then simply asked of libvirt, as without a cache.
"""

import hashlib
import importlib.util
import json
import os

#: The CPU map libvirt's test driver reads (libvirt's PKGDATADIR/cpu_map).
CPU_MAP_DIR = '/usr/share/libvirt/cpu_map'
#: The most expansions kept (a fleet has a few dozen distinct CPUs).
MAX_ENTRIES = 512
_FILE = 'cpu-expansions.json'
_VERSION = 1

_state = {}  # 'path', 'fingerprint', 'entries' once loaded in this process


def cache_dir():
    """The directory of the cache, or None when it is turned off."""
    configured = os.environ.get('MIGCOMPAT_CACHE_DIR')
    if configured is not None:
        return configured or None
    base = os.environ.get('XDG_CACHE_HOME') or os.path.join(
        os.path.expanduser('~'), '.cache')
    return os.path.join(base, 'migcompat')


def fingerprint():
    """A hash of the installed libvirt's CPU-map inputs, or None when they
    cannot be found (then nothing is cached).
    """
    try:
        names = sorted(os.listdir(CPU_MAP_DIR))
        spec = importlib.util.find_spec('libvirtmod')
    except (OSError, ImportError, ValueError):
        return None
    if spec is None or not spec.origin:
        return None
    digest = hashlib.sha256()
    # The real path: one venv reached through a symlink (/tmp, tox) is one
    # libvirt, not two fingerprints overwriting each other's file.
    paths = [os.path.realpath(spec.origin)] + [
        os.path.join(CPU_MAP_DIR, n) for n in names]
    for path in paths:
        try:
            st = os.stat(path)
        except OSError:
            return None
        digest.update(('%s\0%d\0%d\n' % (path, st.st_size, st.st_mtime_ns))
                      .encode())
    return digest.hexdigest()


def _load():
    if _state:
        return _state
    directory = cache_dir()
    stamp = fingerprint() if directory else None
    entries = {}
    path = os.path.join(directory, _FILE) if stamp else None
    if path:
        try:
            with open(path) as f:
                data = json.load(f)
            if (isinstance(data, dict) and data.get('version') == _VERSION
                    and data.get('fingerprint') == stamp and
                    isinstance(data.get('expansions'), dict)):
                entries = {k: v for k, v in data['expansions'].items()
                           if isinstance(v, list) and
                           all(isinstance(x, str) for x in v)}
        except (OSError, ValueError):
            pass  # none yet, or unreadable: start over
    _state.update(path=path, fingerprint=stamp, entries=entries)
    return _state


def get(cpu_xml):
    """The sorted features libvirt expanded cpu_xml to, or None."""
    return _load()['entries'].get(cpu_xml)


def put(cpu_xml, features):
    """Remember libvirt's expansion of cpu_xml (best effort)."""
    state = _load()
    if state['path'] is None or state['entries'].get(cpu_xml) == features:
        return
    entries = state['entries']
    entries[cpu_xml] = list(features)
    while len(entries) > MAX_ENTRIES:
        entries.pop(next(iter(entries)))
    import tempfile  # only when there is something to write

    directory = os.path.dirname(state['path'])
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix='.cpu-expansions-', dir=directory)
        try:
            with os.fdopen(fd, 'w') as f:
                json.dump({'version': _VERSION,
                           'fingerprint': state['fingerprint'],
                           'expansions': entries}, f)
            os.replace(tmp, state['path'])
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError:
        pass  # a read-only home: expand through libvirt every time


def forget():
    """Forget what this process loaded (tests)."""
    _state.clear()
