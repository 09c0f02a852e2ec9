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

"""What the rules say: findings, verdicts, severities, and what a rule sees.

The vocabulary every rule and every consumer of a verdict shares. It
imports no rule and no engine, so rule modules (built-in or third-party)
import it without a cycle.
"""

from migcompat_filter.profile import to_jsonable
from migcompat_filter.rules.guest_cpu import GuestCPU
from migcompat_filter.rules import values

BLOCK = 'block'
WARN = 'warn'
INFO = 'info'
SEVERITIES = (BLOCK, WARN, INFO)
_RANK = {BLOCK: 0, WARN: 1, INFO: 2}


class Finding(object):
    """One factor's result: severity, both values, what it means, and why."""

    __slots__ = ('factor', 'severity', 'source', 'destination', 'message',
                 'hint')

    def __init__(self, factor, severity, source, destination, message,
                 hint=None):
        if severity not in _RANK:
            raise ValueError('severity %r is not one of %s'
                             % (severity, SEVERITIES))
        self.factor = factor
        self.severity = severity
        self.source = source
        self.destination = destination
        self.message = message
        self.hint = hint

    @property
    def unknown(self):
        return (values.contains_unknown(self.source)
                or values.contains_unknown(self.destination))

    def to_dict(self):
        return {
            'factor': self.factor,
            'severity': self.severity,
            'source': to_jsonable(self.source),
            'destination': to_jsonable(self.destination),
            'message': self.message,
            'hint': self.hint,
        }

    def __repr__(self):
        return 'Finding(%s %s: %s)' % (self.severity, self.factor,
                                       self.message)


class Verdict(object):
    """compatible (no finding blocks), the mode, and the findings.

    Findings are ordered block, warn, info (then by factor), so the reason
    a pair is refused always comes first.
    """

    def __init__(self, mode, findings):
        self.mode = mode
        self.findings = sorted(
            findings, key=lambda f: (_RANK[f.severity], f.factor))

    @property
    def compatible(self):
        return not self.blocking

    @property
    def blocking(self):
        return [f for f in self.findings if f.severity == BLOCK]

    @property
    def warnings(self):
        return [f for f in self.findings if f.severity == WARN]

    def factors(self, severity=BLOCK):
        """Sorted names of the factors with a finding of that severity."""
        return sorted({f.factor for f in self.findings
                       if f.severity == severity})

    def to_dict(self):
        return {'compatible': self.compatible, 'mode': self.mode,
                'findings': [f.to_dict() for f in self.findings]}

    def __repr__(self):
        return 'Verdict(%s, %s, block=%s, warn=%s)' % (
            'compatible' if self.compatible else 'incompatible', self.mode,
            self.factors(BLOCK), self.factors(WARN))


class Context(object):
    """What a rule sees: both profiles, the mode, the policy, the guest.

    ``guest`` is a rules.guest_cpu.GuestCPU (possibly with nothing known:
    the rules then let the source host's profile stand in, and say so).
    """

    def __init__(self, source, destination, mode, policy, cpu_models=None,
                 guest=None):
        self.source = source
        self.destination = destination
        self.mode = mode
        self.policy = policy
        self.cpu_models = cpu_models
        if guest is None:
            guest = GuestCPU()
        self.guest = guest

    def values(self, factor):
        return self.source[factor], self.destination[factor]

    def unknown(self, factor, src, dst, what, kind='cpu', severity=None):
        """A finding for a factor that could not be compared.

        Unknown is never equal: the policy decides warn or block.
        """
        if severity is None:
            severity = self.policy.unknown_severity(self.mode, kind)
        reasons = []
        for side, value in (('source', src), ('destination', dst)):
            reason = values.unknown_reason(value)
            if reason:
                reasons.append('%s: %s' % (side, reason))
        message = '%s cannot be compared%s' % (
            what, ' (%s)' % '; '.join(reasons) if reasons else '')
        return Finding(factor, severity, src, dst, message)
