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

"""The import paths of the flat layout (before one folder per step of the
flow), still answered with a DeprecationWarning: scripts and test
harnesses written against them (``from migcompat_filter import
reporter``) keep working for one release. nova.conf paths, entry points
and the oslo.config namespace never moved.

Plain data: old name -> where it lives now. ``placement`` and ``traits``
became packages; what a script took from the old modules is looked up
in ``placement.client`` and ``traits.codec``.
"""

import importlib
import importlib.util
import warnings

#: migcompat_filter.<old> -> the module now.
MODULES = {
    'cpu_expansion': 'host.cpu_expansion',
    'cpu_map_migratable': 'cpu.map_migratable',
    'cpufeatures': 'cpu.features',
    'guest_requirements': 'cpu.guest_requirements',
    'domains': 'host.domains',
    'entry_points': 'cmd.entry_points',
    'expansion_cache': 'host.expansion_cache',
    'feature_catalogue': 'traits.feature_catalogue',
    'fleet_graph': 'pictures.graph',
    'heatmap': 'pictures.heatmap',
    'svgdraw': 'pictures.svgdraw',
    'grouping': 'placement.grouping',
    'hoststate': 'placement.hoststate',
    'placement_auth': 'placement.auth',
    'urls': 'placement.urls',
    'reporter': 'placement.reporter',
    'hostsource': 'host.source',
    'libvirt_io': 'host.libvirt_io',
    'nova_cpu_options': 'host.nova_cpu_options',
    'qemu_cpu_models': 'host.qemu_cpu_models',
    'reader': 'host.reader',
    'safefile': 'host.safefile',
    'snapshot': 'host.snapshot',
    'trait_layout': 'traits.layout',
    'trait_names': 'traits.names',
    'trait_payloads': 'traits.payloads',
    'trait_schema1': 'traits.schema1',
    'trait_schema2': 'traits.schema2',
    'trait_text': 'traits.text',
    'trait_vocabulary': 'traits.vocabulary',
}
#: A package that was a module -> the module that holds its old contents.
PACKAGES = {
    'placement': 'placement.client',
    'traits': 'traits.codec',
}
PACKAGE = 'migcompat_filter'


def _warn(old, new):
    warnings.warn('%s.%s moved to %s.%s; the old path goes in the next '
                  'release' % (PACKAGE, old, PACKAGE, new),
                  DeprecationWarning, stacklevel=4)


def module(name):
    """The module an old top-level name stands for (AttributeError when
    it never existed).
    """
    new = MODULES.get(name)
    if new is None:
        raise AttributeError('module %r has no attribute %r'
                             % (PACKAGE, name))
    _warn(name, new)
    return importlib.import_module('%s.%s' % (PACKAGE, new))


def attribute(package, name):
    """What ``<package>.<name>`` was when the package was a module."""
    new = PACKAGES[package]
    if name.startswith('__') or importlib.util.find_spec(
            '%s.%s.%s' % (PACKAGE, package, name)) is not None:
        # A submodule of the package: the import system loads it.
        raise AttributeError(name)
    target = importlib.import_module('%s.%s' % (PACKAGE, new))
    if not hasattr(target, name):
        raise AttributeError('module %r has no attribute %r'
                             % ('%s.%s' % (PACKAGE, package), name))
    _warn('%s.%s' % (package, name), '%s.%s' % (new, name))
    return getattr(target, name)
