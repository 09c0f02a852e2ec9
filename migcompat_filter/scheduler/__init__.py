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

"""nova scheduler plugins: MigrationCompatibilityFilter and
MigrationSimilarityWeigher.

nova loads filters and weighers by class path or by a function returning
classes. These functions return every class registered in the stevedore
namespaces ``migcompat.scheduler.filters`` and
``migcompat.scheduler.weighers`` (setup.cfg), so that::

    [filter_scheduler]
    available_filters = nova.scheduler.filters.all_filters
    available_filters = migcompat_filter.scheduler.all_filters
    # a list option: one line, comma-separated, nova's default first
    weight_classes = nova.scheduler.weights.all_weighers,<see below>

with ``migcompat_filter.scheduler.all_weighers`` in place of
``<see below>``, make them (and any plugin a third party registers
there) available.

This package is the only part of migcompat that imports nova at run time
(the demo, migcompat_filter.demo, runs nova's scheduler offline too).
"""

from stevedore import extension

FILTER_NAMESPACE = 'migcompat.scheduler.filters'
WEIGHER_NAMESPACE = 'migcompat.scheduler.weighers'


def _classes(namespace):
    def _failed(_manager, entrypoint, exc):
        raise ImportError('cannot load %s from %s: %s'
                          % (entrypoint, namespace, exc))

    mgr = extension.ExtensionManager(
        namespace, invoke_on_load=False,
        on_load_failure_callback=_failed)
    return [ext.plugin for ext in sorted(mgr, key=lambda e: e.name)]


def all_filters():
    """Every migcompat scheduler filter class (for available_filters)."""
    return _classes(FILTER_NAMESPACE)


def all_weighers():
    """Every migcompat scheduler weigher class (for weight_classes)."""
    return _classes(WEIGHER_NAMESPACE)
