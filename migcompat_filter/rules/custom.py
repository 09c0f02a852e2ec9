"""custom: the guest's named CPU models must be usable on the destination."""

from migcompat_filter.cpu_modes import CUSTOM
from migcompat_filter.profile import is_unknown
from migcompat_filter.profile import Unknown
from migcompat_filter.rules.base import Rule
from migcompat_filter.rules import hints
from migcompat_filter.rules import values
from migcompat_filter.rules.verdict import BLOCK
from migcompat_filter.rules.verdict import Finding


class CustomModelRule(Rule):
    """custom: every named CPU model of the guest must be usable on the
    destination (libvirt's domain capabilities say usable='yes')."""

    factor = 'usable_models'
    modes = (CUSTOM,)
    reads = ('usable_models', 'cpu_models')

    def check(self, ctx):
        wanted = ctx.cpu_models
        if not wanted:
            wanted = ctx.source['cpu_models']
        wanted = values.feature_set(wanted, "the guest's CPU models")
        if not is_unknown(wanted) and not wanted:
            wanted = Unknown('no guest CPU model given (nova [libvirt] '
                             'cpu_models is empty; pass --cpu-model)')
        src, dst = ctx.values(self.factor)
        usable = values.feature_set(dst, 'destination usable models')
        if is_unknown(wanted) or is_unknown(usable):
            return [ctx.unknown(self.factor, wanted, dst,
                                'usable CPU models')]
        # libvirt model names are case-sensitive, but nova lower-cases
        # cpu_models in some releases; compare without case.
        usable_ci = {m.lower() for m in usable}
        missing = sorted(m for m in wanted if m.lower() not in usable_ci)
        if missing:
            return [Finding(
                self.factor, BLOCK, sorted(wanted), dst,
                'the destination cannot run the guest CPU model(s) %s (not '
                'usable there)' % ', '.join(missing),
                _custom_hint(ctx, missing))]
        return []


def _custom_hint(ctx, missing):
    found = [h for h in (hints.nested_destination(ctx),
                         hints.older_software(ctx),
                         hints.microcode_change(ctx)) if h]
    return '; '.join(found) if found else None
