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

"""What a planned change to some hosts does to live migration.

A change is a list of ``FACTOR=VALUE`` settings (:func:`parse_changes`)
applied to the named hosts' profiles (:func:`apply`): a microcode update,
a kernel release or command line (``kernel_cmdline=tsx=off``), a QEMU or
libvirt version, firmware, or CPU features an update removes. The rules
engine then judges every pair that involves a changed host before and
after (:func:`delta`), and every host's running guests are checked for a
valid target left (:func:`stranded`).

What a change implies beyond its factor is modelled only where the
kernel documents it: ``tsx=off`` (or ``tsx=auto`` on an affected CPU is
not modelled) hides the TSX features hle and rtm from the host CPU,
as Documentation/admin-guide/hw-vuln/tsx_async_abort.rst says.
"""

import re

from migcompat_filter.exception import InputError
from migcompat_filter.fleet import islands
from migcompat_filter.fleet import matrix
from migcompat_filter.placement import hoststate
from migcompat_filter.profile import Profile

_VERSION = re.compile(r'\A[0-9]+(\.[0-9]+){0,3}\Z')
_HEX = re.compile(r'\A0x[0-9a-fA-F]+\Z')
_WORD = re.compile(r'\A[A-Za-z0-9][A-Za-z0-9._+~:-]*\Z')
_CMDLINE = re.compile(r'\A[A-Za-z0-9_.-]+(=[A-Za-z0-9_.,:-]*)?\Z')

#: Features the kernel hides with tsx=off.
TSX_FEATURES = ('hle', 'rtm')


def _features(value):
    return [v.strip() for v in value.split(',') if v.strip()]


#: The settable factors: name -> (pattern of a valid value, what is
#: expected, help text).
SETTABLE = {
    'microcode_version': (_HEX, 'a hex microcode revision such as '
                          '0x2007006', 'CPU microcode revision'),
    'kernel_version': (_WORD, 'a kernel release such as 6.8.0-45-generic',
                       'kernel release'),
    'kernel_cmdline': (_CMDLINE, 'one kernel parameter, KEY or KEY=VALUE '
                       '(e.g. tsx=off)', 'one kernel command-line '
                       'parameter'),
    'qemu_version': (_VERSION, 'a version number such as 8.2.2',
                     'QEMU version'),
    'libvirt_version': (_VERSION, 'a version number such as 10.0.0',
                        'libvirt version'),
    'firmware_version': (_WORD, 'a BIOS version string',
                         'BIOS/firmware version'),
    'remove_features': (re.compile(r'^[a-z0-9][a-z0-9_.-]*'
                                   r'(,[a-z0-9][a-z0-9_.-]*)*\Z'),
                        'CPU feature names separated by commas (e.g. '
                        'hle,rtm)', 'CPU features an update removes'),
}


def parse_changes(settings):
    """[(factor, parsed value)] of ``--set FACTOR=VALUE`` strings;
    InputError naming the setting and what is wrong.
    """
    if not settings:
        raise InputError('give at least one --set FACTOR=VALUE (factors: '
                         '%s)' % ', '.join(sorted(SETTABLE)))
    out = []
    seen = {}
    for text in settings:
        name, sep, value = text.partition('=')
        if not sep or not name:
            raise InputError('--set %r: expected FACTOR=VALUE' % text)
        if name not in SETTABLE:
            raise InputError('--set %s: unknown factor %r; settable: %s'
                             % (text, name, ', '.join(sorted(SETTABLE))))
        pattern, expected, _help = SETTABLE[name]
        if not pattern.match(value):
            raise InputError('--set %s: wrong value for %s: expected %s'
                             % (text, name, expected))
        # One value per factor (per kernel_cmdline key): a second one
        # would silently win.
        key = (name, value.partition('=')[0] if name == 'kernel_cmdline'
               else None)
        if key in seen:
            raise InputError('--set %s: %s is already set by --set %s; give '
                             'each once' % (text, name if key[1] is None
                                            else '%s %s' % (name, key[1]),
                                            seen[key]))
        seen[key] = text
        if name == 'remove_features':
            value = _features(value)
        out.append((name, value))
    return out


def _drop_features(factors, names):
    names = set(names)
    cf = factors.get('cpu_features')
    if isinstance(cf, dict) and isinstance(cf.get('features'), list):
        factors['cpu_features'] = dict(cf, features=[
            f for f in cf['features'] if f not in names])
    hm = factors.get('host_model')
    if isinstance(hm, dict) and isinstance(hm.get('features'), list):
        factors['host_model'] = dict(
            hm, features=[f for f in hm['features'] if f not in names],
            disabled=sorted(set(hm.get('disabled') or ()) |
                            (names & set(hm['features']))))


def apply(profile, changes):
    """A new Profile: profile with the changes made."""
    factors = dict(profile.factors)
    for name, value in changes:
        if name == 'remove_features':
            _drop_features(factors, value)
        elif name == 'kernel_cmdline':
            key, _sep, val = value.partition('=')
            ks = factors.get('kernel_settings')
            ks = dict(ks) if isinstance(ks, dict) else {}
            cmdline = ks.get('cmdline')
            cmdline = dict(cmdline) if isinstance(cmdline, dict) else {}
            cmdline[key] = val
            ks['cmdline'] = cmdline
            factors['kernel_settings'] = ks
            if key == 'tsx' and val == 'off':
                _drop_features(factors, TSX_FEATURES)
        else:
            factors[name] = value
    return Profile(factors)


class Changed(object):
    """A host as it would be: the same name, uuid and state, another
    profile (hosts the change does not touch keep theirs).
    """

    def __init__(self, host, profile, changed):
        self.host = host
        self.name = host.name
        self.uuid = host.uuid
        self.state = host.state
        self.profile = profile
        self.changed = changed
        self.key = (host.key, changed)

    def nova_refusal(self):
        return self.host.nova_refusal()

    def __getattr__(self, name):
        return getattr(self.host, name)


def unchanged_fleet(hosts):
    """[Changed] of hosts as they are (the "before" of a change)."""
    return [Changed(h, h.profile, False) for h in hosts]


def changed_fleet(hosts, names, changes):
    """[Changed] of hosts, the named ones (name/uuid/service host) with
    the changes applied; hosts whose traits cannot be read are left out
    of the change (they are reported, not judged).
    """
    out = []
    for h in hosts:
        touch = bool({h.name, h.uuid, h.service_host} & set(names)) and \
            h.state == hoststate.TRAITED
        out.append(Changed(h, apply(h.profile, changes) if touch
                           else h.profile, touch))
    return out


class Verdicts(object):
    """Cached verdicts by (source key, dest key, mode): hosts with the
    same traits (and the same change) are judged once.
    """

    def __init__(self, policy=None):
        self.policy = policy
        self.cache = {}
        self.evaluations = 0

    def __call__(self, src, dst, mode=None, with_guests=False):
        from migcompat_filter import rules
        key = (src.key, dst.key, mode, with_guests and src.uuid)
        if key not in self.cache:
            sp = src.profile if with_guests else \
                matrix.group_profile(src.profile)
            self.evaluations += 1
            self.cache[key] = rules.evaluate(sp, dst.profile, mode=mode,
                                             policy=self.policy)
        return self.cache[key]


def _judgeable(hosts):
    return [h for h in hosts if h.state == hoststate.TRAITED]


def delta(before, after, mode=None, verdicts=None):
    """Pairs whose verdict the change flips: [(source, destination,
    'impossible'|'possible', blocking factors before or after)].
    """
    verdicts = verdicts or Verdicts()
    b_hosts, a_hosts = _judgeable(before), _judgeable(after)
    out = []
    for i, (sb, sa) in enumerate(zip(b_hosts, a_hosts)):
        for j, (db, da) in enumerate(zip(b_hosts, a_hosts)):
            if i == j or not (sa.changed or da.changed):
                continue
            vb, va = verdicts(sb, db, mode), verdicts(sa, da, mode)
            if vb.compatible and not va.compatible:
                out.append((sa.name, da.name, 'impossible',
                            va.factors('block')))
            elif va.compatible and not vb.compatible:
                out.append((sa.name, da.name, 'possible',
                            vb.factors('block')))
    return out


def targets(hosts, source, mode, verdicts):
    """Names of the hosts a guest of mode on source may move to."""
    out = []
    for h in _judgeable(hosts):
        if h.uuid == source.uuid or h.nova_refusal():
            continue
        if verdicts(source, h, mode, with_guests=True).compatible:
            out.append(h.name)
    return out


def stranded(before, after, verdicts=None):
    """Running guests with no valid target after the change:
    [(host, mode, guests, targets before)].
    """
    verdicts = verdicts or Verdicts()
    out = []
    for hb, ha in zip(before, after):
        if ha.state != hoststate.TRAITED:
            continue
        for mode, count in sorted((islands.guest_modes(ha) or {}).items()):
            if targets(after, ha, mode, verdicts):
                continue
            out.append((ha.name, mode, count,
                        len(targets(before, hb, mode, verdicts))))
    return out
