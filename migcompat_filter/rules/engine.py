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

"""The rules engine: can a guest live-migrate from one host to another?

:func:`evaluate` is a pure function of two profiles, the guest CPU mode and
a policy. It knows nothing of how the profiles were read (a live host, a
snapshot, a JSON file or Placement traits): it only sees factor values,
any of which may be Unknown. Every rule (the ``migcompat.rules``
entry-point namespace: the built-in ones and any installed third party's)
adds findings; the verdict is compatible when no finding blocks.
"""

import logging

from stevedore import extension

from migcompat_filter.cpu_modes import DEFAULT
from migcompat_filter.cpu_modes import MODES
from migcompat_filter.factors import catalogue
from migcompat_filter.profile import is_unknown
from migcompat_filter.rules import guest_cpu
from migcompat_filter.rules.policy import Policy
from migcompat_filter.rules import values
from migcompat_filter.rules.verdict import Context
from migcompat_filter.rules.verdict import Verdict

LOG = logging.getLogger(__name__)

_RULES = None


def _load_failed(_manager, entrypoint, exc):
    # One broken plugin must not take the scheduler down with it.
    LOG.warning('rule plugin %s (%s) cannot be loaded and is skipped: %s',
                entrypoint.name, entrypoint.value, exc)


def _load_rules():
    """Every installed rule, once, in entry-point name order.

    The order is fixed so that findings of one factor (cpu_vendor and
    identical_cpu_signature both report cpu_model) always come out alike.
    """
    mgr = extension.ExtensionManager(catalogue.RULE_NAMESPACE,
                                     invoke_on_load=True,
                                     on_load_failure_callback=_load_failed)
    loaded = []
    for ext in sorted(mgr.extensions, key=lambda e: e.name):
        if not callable(getattr(ext.obj, 'check', None)):
            LOG.warning('rule plugin %s (%s) has no check() and is skipped',
                        ext.name, ext.entry_point.value)
            continue
        loaded.append(ext.obj)
    return tuple(loaded)


class NoRulesInstalled(RuntimeError):
    """No rule could be loaded: a verdict would be "compatible" for
    anything, so none is given (the scheduler's filter then refuses every
    destination: it fails closed).
    """


def all_rules():
    """The installed rules (loaded on first use, then cached)."""
    global _RULES
    if _RULES is None:
        _RULES = _load_rules()
    return _RULES


def reload_rules():
    """Forget the loaded rules (for tests that install a plugin)."""
    global _RULES
    _RULES = None


def rules_for(mode):
    """The rules that judge a guest of that CPU mode."""
    return [rule for rule in all_rules() if mode in rule.modes]


def choose_mode(source, mode=None, guest=None):
    """The guest CPU mode to judge: explicit, else the guest's own, else
    the source host's nova cpu_mode, else host-model (nova's default for
    kvm).
    """
    if mode:
        if mode not in MODES:
            raise ValueError('mode %r is not one of %s' % (mode, MODES))
        return mode
    if guest is not None and guest.mode in MODES:
        return guest.mode
    declared = source['cpu_mode']
    if not is_unknown(declared) and declared in MODES:
        return declared
    return DEFAULT


def evaluate(source_profile, dest_profile, mode=None, policy=None,
             cpu_models=None, guest=None):
    """Judge a live migration from source_profile to dest_profile.

    guest: a rules.guest_cpu.GuestCPU of the migrating guest, or None.
    mode: 'host-model', 'host-passthrough' or 'custom' (None: the guest's
    mode, else the source's cpu_mode, else host-model). cpu_models: named
    models for custom mode when the guest's own is not known (None: the
    source's cpu_models). The guest is completed from the source's
    running_guests factor here, so every caller judges alike. Returns a
    :class:`Verdict`.
    """
    mode = choose_mode(source_profile, mode, guest)
    guest = guest_cpu.with_running(
        guest, source_profile['running_guests'], mode)
    ctx = Context(source_profile, dest_profile, mode, policy or Policy(),
                  cpu_models=cpu_models, guest=guest)
    if not all_rules():
        # Without rules every pair would look compatible: refuse to judge.
        raise NoRulesInstalled(
            'no rule is installed in the %s entry-point namespace (is '
            'migcompat installed, e.g. with pip?); refusing to judge a '
            'migration without rules' % catalogue.RULE_NAMESPACE)
    findings = []
    for rule in rules_for(mode):
        findings.extend(rule.check(ctx) or ())
    return Verdict(mode, findings)


#: Weights of the factors for :func:`similarity` (the catalogue rows'
#: ``similarity``): what a host-passthrough guest notices most counts most.
SIMILARITY_WEIGHTS = catalogue.Derived(catalogue.similarity_weights)

# Parts of a factor that say the same thing in another form (the rows'
# ``identity_ignore``); comparing them would count a cosmetic difference
# (the libvirt CPU map's name for a model) as a real one. The per-host
# fields (``per_host_fields``: the calibrated TSC frequency) are left out
# too: a digest group's profile has none, so an identical twin read
# through its group would otherwise never score 1.0.
_SIMILARITY_IGNORE = catalogue.Derived(
    lambda: _merged(catalogue.identity_ignore(),
                    catalogue.per_host_fields()))


def _merged(*maps):
    out = {}
    for m in maps:
        for name, keys in m.items():
            out[name] = tuple(out.get(name, ())) + tuple(keys)
    return out


def similarity(source, dest, weights=None):
    """How alike two hosts are, from 0 (nothing known equal) to 1.

    The weighted share of factors that are identical on both hosts,
    leaving out the cosmetic and per-host parts of a factor, so a host
    identical in every factor scores 1.0 whether it was read alone or
    through its digest group. An Unknown (or absent) factor on either side
    counts as different, so a host that reports less never ranks above
    one that is known identical.
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
