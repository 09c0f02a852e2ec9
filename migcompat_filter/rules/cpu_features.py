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

"""host-passthrough: the destination host CPU must have the source's
features.
"""

from migcompat_filter.cpu_modes import HOST_PASSTHROUGH
from migcompat_filter.profile import is_unknown
from migcompat_filter.rules.base import Rule
from migcompat_filter.rules import hints
from migcompat_filter.rules import migratable
from migcompat_filter.rules import values
from migcompat_filter.rules.verdict import BLOCK
from migcompat_filter.rules.verdict import Finding


def compare_cpu_features(src, dst):
    """(missing, complete, note) for host CPU features (host-passthrough).

    Like is compared with like: features read from /proc/cpuinfo with
    features read from /proc/cpuinfo, libvirt's with libvirt's (the two
    see different sets: cpuinfo hides what the kernel disabled and shows
    synthetic flags, libvirt shows CPUID bits). Across readers the
    comparison is made but is not complete: the note says so. A named
    model without expansion only counts as the same features when both
    sides name the same model.
    """
    kinds = []
    for value in (src, dst):
        kind = values.part(value, 'source', 'cpu_features')
        kinds.append(None if is_unknown(kind) else kind)
    src_e = values.feature_set(values.part(src, 'features', 'cpu_features'),
                               'source features')
    dst_e = values.feature_set(values.part(dst, 'features', 'cpu_features'),
                               'destination features')
    if is_unknown(src_e) or is_unknown(dst_e):
        return None, False, ''
    src_x = kinds[0] != 'libvirt-unexpanded'
    dst_x = kinds[1] != 'libvirt-unexpanded'
    if kinds[0] != kinds[1] and src_x and dst_x:
        missing = src_e - dst_e
        if not missing:
            return missing, True, ''
        return missing, False, (
            'the source features were read from %s, the destination '
            'features from %s; those readers see different feature sets, '
            'so read both hosts the same way to be sure'
            % (kinds[0] or 'an unknown reader',
               kinds[1] or 'an unknown reader'))
    if src_x and dst_x:
        return src_e - dst_e, True, ''
    if not src_x and not dst_x and values.same(
            values.part(src, 'model', 'cpu_features'),
            values.part(dst, 'model', 'cpu_features')):
        return src_e - dst_e, True, ''
    if dst_x:
        # The destination list is complete: what the source lists beyond
        # its named model is certainly missing when absent there.
        missing = src_e - dst_e
    else:
        missing = frozenset()
        if src_x and not (src_e - dst_e):
            # Every source feature is among those the destination lists.
            # Only a complete source list allows this: the features of an
            # unexpanded source model are not in src_e at all.
            return missing, True, ''
    return missing, False, (
        'the host CPUs are named models (%s, %s) without expanded feature '
        'lists' % (values.part(src, 'model', 'cpu_features'),
                   values.part(dst, 'model', 'cpu_features')))


class PassthroughFeaturesRule(Rule):
    """host-passthrough: the destination host CPU features must be a
    superset of the source's, in the migratable view (libvirt strips
    invtsc and xsaves from a migratable guest), and the features the guest
    is given on top (nova's extra flags) must be there too.

    Known-missing features block. What cannot be fully compared (unknown
    features, features read differently on the two hosts, named models)
    follows the host-passthrough unknown policy, which blocks by default:
    nova's own check (compareHypervisorCPU of the source host's CPU on the
    destination) comes only after the scheduler's pick, and is off where
    operators set ``[workarounds] skip_cpu_compare_on_dest``; then libvirt
    refuses at migration time and conductor does not retry.
    """

    factor = 'cpu_features'
    modes = (HOST_PASSTHROUGH,)
    reads = ('cpu_features', 'arch')

    def check(self, ctx):
        gone = migratable.dropped(ctx.source)
        src = migratable.with_features(
            migratable.cpu_features(ctx.source), ctx.guest.extra() - gone,
            ())
        dst = migratable.cpu_features(ctx.destination)
        missing, complete, note = compare_cpu_features(src, dst)
        if missing is None:
            return [ctx.unknown(self.factor, src, dst, 'host CPU features')]
        if missing:
            severity = BLOCK if complete else \
                ctx.policy.unknown_severity(ctx.mode)
            message = ('the destination host CPU lacks %d feature(s) of the '
                       "source's: %s" % (len(missing),
                                         values.short_list(missing, 40)))
            if note:
                message += ' (%s)' % note
            return [Finding(self.factor, severity, src, dst, message,
                            hints.for_missing_features(missing, ctx))]
        if not complete:
            finding = ctx.unknown(self.factor, src, dst, 'host CPU features')
            finding.message = ('host CPU features cannot be fully compared: '
                               '%s' % note)
            return [finding]
        return []
