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

"""Read a host profile: every factor plugin against one host source.

The factors are stevedore extensions in the ``migcompat.factors``
namespace (a third party adds one with an entry point). A factor that
cannot be read is Unknown with its reason; a plugin that fails in any
other way is a bug in the plugin, logged and reported as Unknown too, so
that one broken plugin never hides the other factors.
"""

import logging

from migcompat_filter.factors import base
from migcompat_filter.factors import catalogue
from migcompat_filter import profile as profile_mod

LOG = logging.getLogger(__name__)

NAMESPACE = catalogue.FACTOR_NAMESPACE


def load_factors(names=None):
    """[(name, factor object or Unknown)] of the installed factor plugins."""
    from stevedore import extension  # deferred: keeps imports light

    failed = []

    def on_failure(_manager, entrypoint, exc):
        LOG.warning('factor plugin %s (%s) cannot be loaded: %s',
                    entrypoint.name, entrypoint.value, exc)
        failed.append((entrypoint.name, profile_mod.Unknown(
            'factor plugin %s cannot be loaded: %s: %s'
            % (entrypoint.name, type(exc).__name__, exc))))

    mgr = extension.ExtensionManager(
        NAMESPACE, invoke_on_load=True,
        on_load_failure_callback=on_failure)
    loaded = []
    for ext in mgr.extensions:
        if not getattr(ext.obj, 'name', None):
            ext.obj.name = ext.name  # its row is found by this name
        loaded.append((ext.obj.name, ext.obj))
    result = sorted(loaded + failed, key=lambda item: item[0])
    if names is not None:
        wanted = set(names)
        result = [item for item in result if item[0] in wanted]
    return result


def read_factor(factor, name, source):
    """One factor's value on source, or Unknown; never raises."""
    try:
        return factor.read(source)
    except base.FactorUnknown as e:
        return profile_mod.Unknown(str(e))
    except Exception as e:
        LOG.exception('factor %s failed on %s', name,
                      getattr(source, 'description', source))
        return profile_mod.Unknown('factor %s failed: %s: %s'
                                   % (name, type(e).__name__, e))


def read_profile(source, names=None):
    """The :class:`Profile` of a host source (live host or snapshot).

    ``names`` limits the profile to those factors; a requested name with
    no plugin is Unknown.
    """
    factors = {}
    transient = {}
    seen = getattr(source, 'transient_seen', None)
    for name, factor in load_factors(names):
        if isinstance(factor, profile_mod.Unknown):
            factors[name] = factor
            continue
        before = len(seen) if seen is not None else 0
        value = read_factor(factor, name, source)
        if seen and len(seen) > before:
            # A read this factor needed failed for a cause that may pass
            # (libvirt unreachable, a timeout, permission denied), even if
            # the factor reworded it or fell back to another source (a
            # poorer value): the reporter keeps its last good value.
            transient[name] = str(seen[before])
            if profile_mod.is_unknown(value):
                value.transient = True
        factors[name] = value
    for name in names or ():
        factors.setdefault(name, profile_mod.Unknown(
            'no factor plugin named %s is installed' % name))
    result = profile_mod.Profile(factors)
    #: {factor: the transient cause} of the factors one of whose reads
    #: failed for a cause that may pass (the value is unknown or poorer).
    result.transient = transient
    return result
