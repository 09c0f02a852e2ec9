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
import sys

_groups = None


def groups():
    """{group: [(name, value, group), ...]} of every installed
    distribution, in stevedore's order and without its duplicates.
    """
    global _groups
    if _groups is None:
        found, seen = {}, set()
        for ep in _all_entry_points():
            item = (ep.name, ep.value, ep.group)
            if item not in seen:
                seen.add(item)
                found.setdefault(ep.group, []).append(item)
        _groups = found
    return _groups


def _all_entry_points():
    eps = importlib.metadata.entry_points()
    if isinstance(eps, dict):
        # Python < 3.12: {group: EntryPoints}; dict's own values() skips
        # its deprecation warning (and select() would rescan per group).
        return [ep for per_group in dict.values(eps) for ep in per_group]
    return eps


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
