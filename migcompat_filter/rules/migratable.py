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

"""The migratable view of a host's CPU: what a guest can carry across.

libvirt never gives a guest that can migrate the features its CPU map marks
``migratable='no'`` (invtsc, xsaves in libvirt 9.0): the domain
capabilities host-model lists invtsc, yet a host-model guest never has it,
and a migratable host-passthrough guest is stripped of it too. Comparing
those features would refuse moves libvirt accepts (and let the TSC rule
judge guests that have no invariant TSC), so the feature rules compare
host CPUs in this view.
"""

from migcompat_filter.cpu import map_migratable as cpu_map_migratable
from migcompat_filter.profile import is_unknown


def dropped(profile):
    """The features libvirt does not migrate for this profile's arch."""
    arch = profile['arch']
    if is_unknown(arch) or not isinstance(arch, str) or not arch:
        arch = 'x86_64'  # libvirt's default guest arch
    return cpu_map_migratable.non_migratable(arch)


def view(value, names):
    """A copy of a dict-valued CPU factor without ``names`` in its
    ``features`` (an Unknown, or a value without a feature list, is
    returned as it is).
    """
    if not isinstance(value, dict) or not isinstance(
            value.get('features'), (list, tuple)):
        return value
    out = dict(value)
    out['features'] = [f for f in value['features'] if f not in names]
    return out


def host_model(profile):
    """The profile's host-model CPU in the migratable view."""
    return view(profile['host_model'], dropped(profile))


def cpu_features(profile):
    """The profile's host CPU features in the migratable view."""
    return view(profile['cpu_features'], dropped(profile))


def with_features(value, given, taken):
    """A copy of a CPU factor value plus given, minus taken features."""
    if not (given or taken) or not isinstance(value, dict) or \
            not isinstance(value.get('features'), (list, tuple)):
        return value
    out = dict(value)
    out['features'] = sorted((set(value['features']) | set(given))
                             - set(taken))
    if isinstance(value.get('disabled'), (list, tuple)):
        # A named model's own features are not listed: a taken one is
        # disabled, so a destination disabling it too is no loss.
        out['disabled'] = sorted(set(value['disabled']) | set(taken))
    return out
