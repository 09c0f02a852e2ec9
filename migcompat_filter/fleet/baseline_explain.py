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

"""Why a baseline CPU came out surprisingly old, in plain language.

``migcompat fleet baseline`` proposes the richest named CPU model usable on
every host. One host with a reduced host-model CPU pulls that down for
all: a nested (L1) KVM guest whose hypervisor hides avx, aes and more
offers only ``486`` to ``pentium3``, so an EPYC Milan fleet gets
``cpu_models = pentium3``. That is correct, and alarming without a word
why. :func:`explain` names the hosts responsible, says what they lack,
and what the others alone would get.

It reads only the hosts' profiles and the proposal, so it can be called
from the command or from :mod:`migcompat_filter.fleet.baseline` alike
(``compute`` is passed in, not imported: no import cycle).
"""

import re

from migcompat_filter.profile import is_unknown

#: Generic or pre-2008 models: a proposal of one of them (or of its -vN
#: versions) for a current fleet is the surprise worth explaining.
LEGACY_MODELS = frozenset((
    '486', 'pentium', 'pentium2', 'pentium3', 'qemu32', 'qemu64', 'kvm32',
    'kvm64', 'coreduo', 'core2duo', 'n270', 'athlon', 'phenom', 'Conroe',
    'Penryn', 'Opteron_G1', 'Opteron_G2'))
#: A host lacking at least this many features every other host offers
#: is one the baseline is cut down for.
MISSING_THRESHOLD = 5
#: Features named in a line before "+N more".
SHOWN = 6


def _factor(host, name):
    value = host.profile[name]
    return None if is_unknown(value) else value


def _listing(items, limit=SHOWN):
    items = sorted(items)
    if len(items) <= limit:
        return ', '.join(items)
    return '%s, ... (+%d more)' % (', '.join(items[:limit]),
                                   len(items) - limit)


def is_legacy(model):
    """True for a generic or very old named model (see LEGACY_MODELS)."""
    return bool(model) and re.sub(r'-v\d+$', '', model) in LEGACY_MODELS


def _offered(host):
    """The features a host-model guest gets there, or None when the
    profile lists only some of them (not expanded) or none.
    """
    hm = _factor(host, 'host_model')
    if not isinstance(hm, dict) or not hm.get('expanded'):
        return None
    feats = hm.get('features')
    if not isinstance(feats, list):
        return None
    disabled = hm.get('disabled')
    return set(feats) - set(disabled if isinstance(disabled, list) else ())


def _usable(host):
    models = _factor(host, 'usable_models')
    return set(models) if isinstance(models, list) else None


def _common(sets):
    sets = [s for s in sets if s is not None]
    return set.intersection(*sets) if sets else None


def _nested(host):
    nv = _factor(host, 'nested_virt')
    return isinstance(nv, dict) and nv.get('nested') is True


def _why(host, others):
    """[reason] this host cuts the baseline down, judged against the
    other hosts ([] when it does not).
    """
    reasons = []
    offered = _offered(host)
    shared = _common([_offered(o) for o in others])
    if offered is not None and shared is not None:
        missing = shared - offered
        if len(missing) >= MISSING_THRESHOLD:
            reasons.append('it lacks %d features every other host offers '
                           '(%s)' % (len(missing), _listing(missing)))
    usable = _usable(host)
    others_usable = _common([_usable(o) for o in others])
    if usable is not None and others_usable:
        lost = {m for m in others_usable - usable if not is_legacy(m)}
        if lost:
            reasons.append('models usable on all the others are not '
                           'usable here (%s); here only %s'
                           % (_listing(lost, 4), _listing(usable, 8)))
    return reasons


def _describe(host, kind=True):
    """What kind of host this is (kind=False: only its CPU), when that
    explains a reduced CPU.
    """
    hm = _factor(host, 'host_model')
    disabled = hm.get('disabled') if isinstance(hm, dict) else None
    model = hm.get('model') if isinstance(hm, dict) else None
    text = []
    if kind and _nested(host):
        text.append('a nested (L1) KVM guest')
    if isinstance(disabled, list) and disabled:
        text.append('its host-model CPU%s has %d features disabled (%s)' % (
            ' (%s)' % model if model else '', len(disabled),
            _listing(disabled)))
    return '; '.join(text)


def explain(hosts, model, features=(), compute=None):
    """[plain-language line] explaining a surprising baseline, [] when
    there is nothing surprising.

    hosts: objects with ``name`` and ``profile`` (fleet hosts);
    model: the proposed named model (None: none could be proposed);
    features: the features common to the hosts' host-model CPUs;
    compute: optional callable(hosts) -> object with ``model`` and
    ``extra_flags`` (fleet.baseline.compute), used to say what the
    baseline would be without the hosts responsible; it may raise.
    """
    hosts = list(hosts)
    if not hosts or (model and not is_legacy(model)):
        return []
    lines = []
    features = set(features or ())
    if model:
        lines.append('%s is a generic, old CPU model: it is the richest '
                     'named model every one of these hosts can run, and '
                     'guests get the %d features all of them offer on top '
                     'of it, not their CPU\'s own model.'
                     % (model, len(features)))
    else:
        lines.append('No named CPU model is usable on every one of these '
                     'hosts.')
    blamed = []
    for host in hosts:
        others = [o for o in hosts if o is not host]
        reasons = _why(host, others) if others else []
        if reasons:
            blamed.append(host)
            kind = _describe(host)
            lines.append('%s pulls the baseline down%s: %s.' % (
                host.name, ' (%s)' % kind if kind else '',
                '; '.join(reasons)))
    if len(blamed) == len(hosts) or not blamed:
        lines.extend(_all_alike(hosts))
        return lines
    rest = [h for h in hosts if h not in blamed]
    lines.append(_without(blamed, rest, compute))
    if any(_nested(h) for h in blamed):
        lines.append('A nested guest can offer its guests only what its own '
                     'hypervisor gives it: give it a fuller CPU there (e.g. '
                     'host-passthrough on the L0 host), or keep it in its '
                     'own aggregate with its own baseline.')
    return lines


def _all_alike(hosts):
    """Lines for a fleet with no single culprit: every host is limited."""
    nested = [h for h in hosts if _nested(h)]
    out = []
    if nested:
        out.append('%s a nested (L1) KVM guest (on %s %s), so no richer '
                   'named model is usable there: the baseline cannot be '
                   'better than what the hypervisor below gives these '
                   'guests.' % (
                       'Every host here is' if len(nested) == len(hosts)
                       else '%s are' % ', '.join(h.name for h in nested),
                       nested[0].name, _describe(nested[0], kind=False)))
    models = _common([_usable(h) for h in hosts])
    if models is not None:
        out.append('Models usable on every host: %s.' % _listing(models, 8))
    return out


def _without(blamed, rest, compute):
    names = ', '.join(h.name for h in blamed)
    kept = ', '.join(h.name for h in rest)
    if compute is not None:
        try:
            other = compute(rest)
        except Exception as e:  # the rest may have no baseline either
            return 'Without %s the other hosts (%s) have no baseline ' \
                'either: %s' % (names, kept, e)
        if other.model:
            flags = len(getattr(other, 'extra_flags', ()) or ())
            return 'Without %s the baseline of %s would be cpu_models = ' \
                '%s%s.' % (names, kept, other.model,
                           ' with %d extra flags' % flags if flags else '')
    usable = _common([_usable(h) for h in rest])
    richer = sorted(m for m in usable or () if not is_legacy(m))
    if richer:
        return 'Without %s, models such as %s become usable on all of ' \
            '%s (run "migcompat fleet baseline %s" for the proposal).' % (
                names, _listing(richer, 4), kept, ' '.join(
                    h.name for h in rest))
    return 'Without %s the others (%s) share no richer named model.' % (
        names, kept)
