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

"""host-model: the destination's host-model CPU must cover the source's."""

from migcompat_filter.cpu_modes import HOST_MODEL
from migcompat_filter.profile import is_unknown
from migcompat_filter.rules.base import Rule
from migcompat_filter.rules import hints
from migcompat_filter.rules import migratable
from migcompat_filter.rules import values
from migcompat_filter.rules.verdict import BLOCK
from migcompat_filter.rules.verdict import Finding


def compare_host_model(src, dst):
    """Features of the source host-model CPU that the destination lacks.

    Returns (missing, complete, note). ``missing`` holds only features known
    to be missing; ``complete`` says whether every source feature was
    accounted for. An expanded side lists every enabled feature; an
    unexpanded side is a named model plus ``features`` (required beyond the
    model) and ``disabled`` (model features the host lacks). Two unexpanded
    sides with the same model name compare by their require and disable
    lists; anything else needs the expanded lists.
    """
    src_e = values.feature_set(values.part(src, 'features', 'host_model'),
                               'source host-model features')
    dst_e = values.feature_set(values.part(dst, 'features', 'host_model'),
                               'destination host-model features')
    if is_unknown(src_e) or is_unknown(dst_e):
        return None, False, 'feature list unknown'
    src_x = values.part(src, 'expanded', 'host_model') is True
    dst_x = values.part(dst, 'expanded', 'host_model') is True
    src_d = values.feature_set(values.part(src, 'disabled', 'host_model'),
                               'source disabled features')
    dst_d = values.feature_set(values.part(dst, 'disabled', 'host_model'),
                               'destination disabled features')
    src_m = values.part(src, 'model', 'host_model')
    dst_m = values.part(dst, 'model', 'host_model')
    same_model = values.same(src_m, dst_m)

    if src_x and dst_x:
        return src_e - dst_e, True, ''
    if dst_x:
        # The source's named model hides features only the expanded list
        # would show; its explicit ones can still be checked.
        missing = src_e - dst_e
        return missing, False, (
            'the source host-model CPU is %s plus %d listed features, not '
            'an expanded feature list' % (src_m, len(src_e)))
    known_d = not is_unknown(dst_d)
    definite = set(src_e & dst_d) if known_d else set()
    if not src_x and same_model and known_d and not is_unknown(src_d):
        # Same named model on both: a feature is missing when the source
        # requires it and the destination does not, or the destination
        # disables a model feature the source keeps.
        missing = (src_e - dst_e) | (dst_d - src_d)
        return missing, True, ''
    undetermined = src_e - dst_e - (dst_d if known_d else frozenset())
    if src_x and not undetermined and known_d:
        return definite, True, ''
    if src_x:
        note = ('the destination host-model CPU is %s plus a require/'
                'disable list, not an expanded feature list' % dst_m)
    else:
        note = ('both host-model CPUs are named models (%s, %s) without '
                'expanded feature lists' % (src_m, dst_m))
    return definite, False, note


def source_cpu(ctx):
    """(value, note): the guest CPU a host-model guest carries.

    The guest's own CPU when known (the running guests' union, or one
    domain XML); else the source host's current host-model CPU stands in,
    in the migratable view. Either way plus the flags the guest is given,
    minus those it is taken. ``note`` says which, for the messages.
    """
    guest = ctx.guest
    if guest.required is not None:
        value = {'model': None, 'features': sorted(guest.required),
                 'disabled': [], 'expanded': guest.expanded is not False}
        note = "the guest's CPU (%s)" % (guest.origin or 'guest record')
    else:
        value = migratable.host_model(ctx.source)
        note = ("the source host's current host-model CPU standing in for "
                "the guest's (no record of the guest's own CPU)")
    value = migratable.with_features(
        value, guest.given() - migratable.dropped(ctx.source),
        guest.taken())
    return value, note


class HostModelFeaturesRule(Rule):
    """host-model: every feature of the migrating guest's CPU must be
    enabled in the destination's host-model CPU.

    The guest's CPU is what libvirt started it with (the source's running
    guests, or one domain XML), plus nova's extra flags; only when no
    record of it exists does the source host's current host-model CPU
    stand in. Both sides in the migratable view (libvirt never gives a
    guest invtsc or xsaves). Features, not model names: a host runs its own
    host-model CPU even where the plain named model is not usable.
    Known-missing features block; when the lists cannot be fully compared
    the unknown-factor policy decides, except that with nova's
    ``skip_cpu_compare_on_dest`` (nova does not compare the CPU at all)
    it blocks.
    """

    factor = 'host_model'
    modes = (HOST_MODEL,)
    # The guest comes from ctx.guest (the engine reads running_guests).
    reads = ('host_model', 'arch')

    def check(self, ctx):
        src, note = source_cpu(ctx)
        dst = migratable.host_model(ctx.destination)
        if values.contains_unknown(
                values.part(src, 'features', self.factor)) or \
                values.contains_unknown(
                    values.part(dst, 'features', self.factor)):
            finding = ctx.unknown(self.factor, src, dst,
                                  'the host-model CPU features',
                                  severity=self._unknown_severity(ctx))
            return [finding]
        missing, complete, detail = compare_host_model(src, dst)
        if missing:
            return [Finding(
                self.factor, BLOCK, src, dst,
                'the destination host-model CPU lacks %d feature(s) of %s: '
                '%s' % (len(missing), note, values.short_list(missing, 40)),
                hints.for_missing_features(missing, ctx))]
        if not complete:
            finding = ctx.unknown(self.factor, src, dst,
                                  'the host-model CPU features',
                                  severity=self._unknown_severity(ctx))
            finding.message = (
                'the host-model CPU features cannot be fully compared '
                '(source side: %s): %s; capture domain capabilities with '
                'the host-model CPU expanded (virsh domcapabilities '
                '--expand-cpu-features, or "migcompat snapshot create" on the '
                'host)%s' % (note, detail, self._skip_note(ctx)))
            return [finding]
        return []

    @staticmethod
    def _unknown_severity(ctx):
        # nova's compareHypervisorCPU would be the only other check, and it
        # compares the source *host* CPU, not the guest's (LP#2039803);
        # with skip_cpu_compare_on_dest there is none at all.
        if ctx.policy.skip_cpu_compare_on_dest:
            return BLOCK
        return None

    @staticmethod
    def _skip_note(ctx):
        if ctx.policy.skip_cpu_compare_on_dest:
            return ('; nova [workarounds] skip_cpu_compare_on_dest is set, '
                    'so nothing else checks the CPU before libvirt does')
        return ''
