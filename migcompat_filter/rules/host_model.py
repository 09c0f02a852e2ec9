"""host-model: the destination's host-model CPU must cover the source's."""

from migcompat_filter.cpu_modes import HOST_MODEL
from migcompat_filter.profile import is_unknown
from migcompat_filter.rules.base import Rule
from migcompat_filter.rules import hints
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


class HostModelFeaturesRule(Rule):
    """host-model: every feature of the source's host-model CPU must be
    enabled in the destination's host-model CPU.

    Features, not model names: a host runs its own host-model CPU even where
    the plain named model is not usable (it disables what the host lacks).
    Known-missing features block; when the lists cannot be fully compared
    (named models without expanded lists) the unknown-factor policy decides.
    """

    factor = 'host_model'
    modes = (HOST_MODEL,)

    def check(self, ctx):
        src, dst = ctx.values(self.factor)
        if values.contains_unknown(
                values.part(src, 'features', self.factor)) or \
                values.contains_unknown(
                    values.part(dst, 'features', self.factor)):
            return [ctx.unknown(self.factor, src, dst,
                                'the host-model CPU features')]
        missing, complete, note = compare_host_model(src, dst)
        if missing:
            return [Finding(
                self.factor, BLOCK, src, dst,
                'the destination host-model CPU lacks %d feature(s) of the '
                "source's: %s" % (len(missing),
                                  values.short_list(missing, 40)),
                hints.for_missing_features(missing, ctx))]
        if not complete:
            finding = ctx.unknown(self.factor, src, dst,
                                  'the host-model CPU features')
            finding.message = (
                'the host-model CPU features cannot be fully compared: %s; '
                'capture domain capabilities with the host-model CPU '
                'expanded (virsh domcapabilities --expand-cpu-features, or '
                '"migcompat snapshot" on the host)' % note)
            return [finding]
        return []
