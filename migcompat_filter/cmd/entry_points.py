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

"""One scan of the installed distributions' entry points per process.

stevedore keeps an on-disk cache of entry points, but not when the
interpreter lives under /tmp (stevedore/_cache.py: tox, ansible), and even
its cache costs a stat of every distribution's entry_points.txt. Without
it, stevedore groups the ~1,600 entry points of a nova venv one group at a
time (~120 ms, every process). One pass here costs ~20 ms;
:func:`prime_stevedore` hands its result to stevedore, so that every
ExtensionManager of the process (cliff's command hooks and output
formatters, our factors and rules) reads it from memory, wherever Python
is installed. Plugins of other distributions are still found.
"""

import importlib.metadata
import re
import sys

_groups = None


def groups():
    """{group: [(name, value, group), ...]} of every installed
    distribution, in stevedore's order and without its duplicates.
    """
    global _groups
    if _groups is None:
        found, seen = {}, set()
        for item in _all_entry_points():
            if item not in seen:
                seen.add(item)
                found.setdefault(item[2], []).append(item)
        _groups = found
    return _groups


def _all_entry_points():
    """(name, value, group) of every distribution importlib.metadata
    finds, in its order, the first distribution of a name winning (as
    importlib.metadata.entry_points() does). Its own parse builds an
    EntryPoint per line (~10 ms for a nova venv's 1,500); this reads the
    same entry_points.txt texts into plain tuples (~1 ms).
    """
    seen = set()
    for dist in importlib.metadata.distributions():
        name = _normalized_name(dist)
        if name in seen:
            continue
        seen.add(name)
        text = dist.read_text('entry_points.txt')
        if text:
            yield from _parse(text)


def _normalized_name(dist):
    # importlib.metadata's own key (PEP 503), from the directory's name;
    # the metadata's Name only for a distribution without one.
    name = getattr(dist, '_normalized_name', None)
    if name is None:
        name = re.sub(r'[-_.]+', '_', (dist.metadata['Name'] or '')).lower()
    return name


def _parse(text):
    """(name, value, group) of an entry_points.txt (ini sections), the way
    importlib.metadata reads it: stripped lines, '#' and ';' comments,
    'name = value' split at the first '='.
    """
    group = None
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(('#', ';')):
            continue
        if line.startswith('[') and line.endswith(']'):
            group = line[1:-1].strip()
            continue
        if group is None or '=' not in line:
            continue
        name, value = line.split('=', 1)
        yield name.strip(), value.strip(), group


def group(name):
    """The EntryPoints of one group (no import of what they name)."""
    return [importlib.metadata.EntryPoint(*item)
            for item in groups().get(name, ())]


def prime_stevedore():
    """Make stevedore use :func:`groups` for the current sys.path.

    True when done; False when stevedore's cache has another shape (a
    newer stevedore): then it scans as usual, only slower.
    """
    try:
        from stevedore import _cache
        internal = _cache._c._internal
        internal.setdefault(tuple(sys.path), {
            'groups': groups(),
            'sys.executable': sys.executable,
            'sys.prefix': sys.prefix,
            'path_values': [],
        })
    except (ImportError, AttributeError, TypeError):
        return False
    return True
