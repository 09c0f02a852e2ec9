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

"""custom: the guest's CPU model and extra flags must be usable on the
destination.
"""

from migcompat_filter.cpu_modes import CUSTOM
from migcompat_filter.profile import is_unknown
from migcompat_filter.profile import Unknown
from migcompat_filter.rules.base import Rule
from migcompat_filter.rules import hints
from migcompat_filter.rules import migratable
from migcompat_filter.rules import values
from migcompat_filter.rules.verdict import BLOCK
from migcompat_filter.rules.verdict import Finding


def wanted_models(ctx):
    """(models, note): the named models to judge, and where they came from.

    Explicit ones first (``compare --cpu-model``), then the guest's own one
    model (``instance.vcpu_model``, a domain XML); only when neither is
    known every model of the source's ``[libvirt] cpu_models`` (the guest
    runs one of them, which one is not known).
    """
    if ctx.cpu_models:
        return ctx.cpu_models, 'the given CPU model(s)'
    if ctx.guest.model:
        return [ctx.guest.model], "the guest's CPU model (%s)" % (
            ctx.guest.origin or 'guest record')
    return ctx.source['cpu_models'], (
        "every model of the source's [libvirt] cpu_models, standing in for "
        "the guest's own (not known)")


class CustomModelRule(Rule):
    """custom: the guest's named CPU model must be usable on the
    destination (libvirt's domain capabilities say usable='yes'), and the
    features it is given beyond the model (nova's cpu_model_extra_flags,
    policy require/force) must be offered by the destination's host CPU
    (its host-model CPU, migratable view); disabled ones need nothing.

    The guest's own model, not every model of the source's cpu_models: a
    guest runs one. Only when its model is unknown the whole list stands in.
    A guest that disables some of its model's features (libvirt writes
    them into a running guest's XML, e.g. ``pni`` on a host without it)
    needs only the rest: a model not usable on the destination still fits
    when every feature the guest keeps (its expanded CPU, migratable view)
    is in the destination's expanded host-model CPU.
    """

    factor = 'usable_models'
    modes = (CUSTOM,)
    reads = ('usable_models', 'cpu_models', 'host_model')

    def check(self, ctx):
        wanted, note = wanted_models(ctx)
        wanted = values.feature_set(wanted, "the guest's CPU models")
        if not is_unknown(wanted) and not wanted:
            wanted = Unknown('no guest CPU model given (nova [libvirt] '
                             'cpu_models is empty; pass --cpu-model)')
        src, dst = ctx.values(self.factor)
        usable = values.feature_set(dst, 'destination usable models')
        if is_unknown(wanted) or is_unknown(usable):
            return [ctx.unknown(self.factor, wanted, dst,
                                'usable CPU models')] + self._flags(ctx)
        # libvirt model names are case-sensitive, but nova lower-cases
        # cpu_models in some releases; compare without case.
        usable_ci = {m.lower() for m in usable}
        missing = sorted(m for m in wanted if m.lower() not in usable_ci)
        if missing and _fits_without_taken(ctx, wanted):
            missing = []
        findings = self._flags(ctx)
        if missing:
            findings.insert(0, Finding(
                self.factor, BLOCK, sorted(wanted), dst,
                'the destination cannot run the guest CPU model(s) %s (not '
                'usable there; judged: %s)' % (', '.join(missing), note),
                _custom_hint(ctx, missing)))
        return findings

    def _flags(self, ctx):
        """The finding on the guest's extra flags, as a list."""
        given = ctx.guest.given() - migratable.dropped(ctx.source)
        if not given:
            return []
        dst = migratable.host_model(ctx.destination)
        missing, undecided = extra_flags_missing(given, dst)
        if missing:
            return [Finding(
                self.factor, BLOCK, sorted(given), dst,
                "the destination host CPU lacks %d of the guest's extra "
                'CPU flag(s): %s' % (len(missing),
                                     values.short_list(missing, 40)),
                hints.for_missing_features(missing, ctx))]
        if undecided:
            finding = ctx.unknown(self.factor, sorted(given), dst,
                                  "the guest's extra CPU flags")
            finding.message = (
                "the guest's extra CPU flag(s) %s cannot be checked on the "
                "destination: its host-model CPU is a named model without "
                'an expanded feature list' % ', '.join(sorted(undecided)))
            return [finding]
        return []


def _fits_without_taken(ctx, wanted):
    """Whether the guest's own model, minus the features it disables,
    fits the destination's expanded host-model CPU (its complete feature
    list known on both sides).
    """
    guest = ctx.guest
    if not guest.taken() or guest.required is None or \
            guest.expanded is not True or list(wanted) != [guest.model]:
        return False
    dst = migratable.host_model(ctx.destination)
    if values.part(dst, 'expanded', 'host_model') is not True:
        return False
    features = values.feature_set(values.part(dst, 'features', 'host_model'),
                                  'destination host-model features')
    return not is_unknown(features) and guest.required <= features


def extra_flags_missing(given, dst):
    """(missing, undecided) of the features ``given`` on a destination
    host-model value (expanded: complete; a named model: only its
    disable list is definite).
    """
    features = values.feature_set(values.part(dst, 'features', 'host_model'),
                                  'destination host-model features')
    if is_unknown(features):
        return set(), set(given)
    if values.part(dst, 'expanded', 'host_model') is True:
        return set(given) - features, set()
    disabled = values.feature_set(values.part(dst, 'disabled', 'host_model'),
                                  'destination disabled features')
    disabled = set() if is_unknown(disabled) else disabled
    missing = set(given) & disabled
    return missing, set(given) - features - missing


def _custom_hint(ctx, missing):
    found = [h for h in (hints.nested_destination(ctx),
                         hints.older_software(ctx),
                         hints.microcode_change(ctx)) if h]
    return '; '.join(found) if found else None
