"""The rules engine: can a guest live-migrate from one host to another?

:func:`evaluate` is a pure function of two profiles, the guest CPU mode and
a policy. It knows nothing of how the profiles were read (a live host, a
snapshot, a JSON file or Placement traits): it only sees factor values,
any of which may be Unknown. Every rule (migcompat_filter.rules.
factor_rules) adds findings; the verdict is compatible when no finding
blocks.
"""

from migcompat_filter.cpu_modes import MODES
from migcompat_filter.profile import is_unknown
from migcompat_filter.rules import values
from migcompat_filter.rules.policy import Policy
from migcompat_filter.rules.verdict import Context
from migcompat_filter.rules.verdict import Verdict


def choose_mode(source, mode=None):
    """The guest CPU mode to judge: explicit, else the source's, else
    host-model (nova's default for kvm)."""
    if mode:
        if mode not in MODES:
            raise ValueError('mode %r is not one of %s' % (mode, MODES))
        return mode
    declared = source['cpu_mode']
    if not is_unknown(declared) and declared in MODES:
        return declared
    return 'host-model'


def evaluate(source_profile, dest_profile, mode=None, policy=None,
             cpu_models=None):
    """Judge a live migration from source_profile to dest_profile.

    mode: 'host-model', 'host-passthrough' or 'custom' (None: the source's
    cpu_mode, else host-model). cpu_models: the guest's named models for
    custom mode (None: the source's cpu_models). Returns a :class:`Verdict`.
    """
    from migcompat_filter.rules import factor_rules

    mode = choose_mode(source_profile, mode)
    ctx = Context(source_profile, dest_profile, mode, policy or Policy(),
                  cpu_models=cpu_models)
    findings = []
    for rule in factor_rules.rules_for(mode):
        findings.extend(rule.check(ctx) or ())
    return Verdict(mode, findings)


#: Weights of the factors for :func:`similarity`: what a host-passthrough
#: guest notices most counts most.
SIMILARITY_WEIGHTS = {
    'cpu_model': 3.0,
    'cpu_features': 3.0,
    'host_model': 3.0,
    'microcode_version': 2.0,
    'qemu_version': 2.0,
    'libvirt_version': 2.0,
    'kernel_version': 1.0,
    'kernel_settings': 1.0,
    'firmware_version': 1.0,
    'firmware_settings': 1.0,
    'nested_virt': 1.0,
    'tsc': 1.0,
    'phys_bits': 1.0,
    'machine_types': 1.0,
}

# Parts of a factor that say the same thing in another form; comparing
# them would count a cosmetic difference (the libvirt CPU map's name for a
# model) as a real one.
_SIMILARITY_IGNORE = {'cpu_model': ('libvirt_model', 'model_name')}


def similarity(source, dest, weights=None):
    """How alike two hosts are, from 0 (nothing known equal) to 1.

    The weighted share of factors that are identical on both hosts. An
    Unknown (or absent) factor on either side counts as different, so a
    host that reports less never ranks above one that is known identical.
    """
    weights = weights or SIMILARITY_WEIGHTS
    total = sum(weights.values())
    if not total:
        return 0.0
    score = 0.0
    for factor, weight in weights.items():
        a, b = source[factor], dest[factor]
        ignore = _SIMILARITY_IGNORE.get(factor)
        if ignore and isinstance(a, dict) and isinstance(b, dict):
            a = {k: v for k, v in a.items() if k not in ignore}
            b = {k: v for k, v in b.items() if k not in ignore}
        if values.same(a, b):
            score += weight
    return score / total
