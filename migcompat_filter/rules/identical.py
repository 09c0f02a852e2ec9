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

"""host-passthrough: factors that should be identical on both hosts.

The guest sees the host CPU as is, so for these a difference (or an
unknown value) warns, and blocks when the policy is strict or names the
factor in passthrough_blocking_factors.
"""

from migcompat_filter.cpu_modes import HOST_PASSTHROUGH
from migcompat_filter.factors import catalogue
from migcompat_filter.rules.base import identical_severity
from migcompat_filter.rules.base import Rule
from migcompat_filter.rules import hints
from migcompat_filter.rules import values
from migcompat_filter.rules.verdict import Finding


class IdenticalRule(Rule):
    """host-passthrough: the factor should be identical on both hosts.

    A difference (or an unknown value) warns, and blocks when the policy is
    strict or names the factor in passthrough_blocking_factors.
    """

    modes = (HOST_PASSTHROUGH,)
    what = None
    ignore = ()

    def values(self, ctx):
        src, dst = ctx.values(self.factor)
        if self.ignore:
            src, dst = [({k: v for k, v in x.items() if k not in self.ignore}
                         if isinstance(x, dict) else x) for x in (src, dst)]
        return src, dst

    def hint(self, ctx, src, dst):
        return None

    def check(self, ctx):
        src, dst = self.values(ctx)
        severity = identical_severity(ctx, self.factor)
        if values.contains_unknown(src) or values.contains_unknown(dst):
            return [ctx.unknown(self.factor, src, dst, self.what,
                                severity=severity)]
        if values.same(src, dst):
            return []
        return [Finding(self.factor, severity, src, dst,
                        '%s differs%s; host-passthrough hosts should be '
                        'identical' % (self.what, _difference(src, dst)),
                        self.hint(ctx, src, dst))]


def _difference(src, dst, shown=8):
    """What differs, for the message: the first keys of two dicts, or
    both values.
    """
    if not (isinstance(src, dict) and isinstance(dst, dict)):
        return ' (source %s, destination %s)' % (src, dst)
    diff = values.differing_keys(src, dst)
    detail = ': %s' % ', '.join(
        '%s %s -> %s' % (k, _show(values.lookup(src, k)),
                         _show(values.lookup(dst, k)))
        for k in diff[:shown])
    if len(diff) > shown:
        detail += ' and %d more' % (len(diff) - shown)
    return detail


def _show(value):
    return 'unset' if value is None else str(value)


class CpuSignatureRule(IdenticalRule):
    """host-passthrough: same CPU signature (family, model, stepping).

    The guest sees the host CPUID as is; a different stepping can change
    errata, features and model-specific registers.
    """

    factor = 'cpu_model'
    what = 'CPU signature'
    # vendor is VendorRule's finding, in every mode; not reported twice.
    ignore = catalogue.identity_ignore('cpu_model') + ('vendor',)


class MicrocodeRule(IdenticalRule):
    """host-passthrough: same microcode revision (it adds and removes
    features).
    """

    factor = 'microcode_version'
    what = 'microcode revision'


class FirmwareVersionRule(IdenticalRule):
    """host-passthrough: same firmware (BIOS) revision; it bundles
    microcode and defaults.
    """

    factor = 'firmware_version'
    what = 'firmware revision'


class FirmwareSettingsRule(IdenticalRule):
    """host-passthrough: same firmware settings (SMT, VT-x/AMD-V)."""

    factor = 'firmware_settings'
    what = 'firmware settings'


class KernelVersionRule(IdenticalRule):
    """host-passthrough: same host kernel release (kernels hide or emulate
    features).
    """

    factor = 'kernel_version'
    what = 'host kernel version'


class KernelSettingsRule(IdenticalRule):
    """host-passthrough: same CPU-relevant kernel settings (command line,
    KVM module options, vulnerability mitigations).
    """

    factor = 'kernel_settings'
    what = 'host kernel settings'

    def hint(self, ctx, src, dst):
        def tsx(p):
            return values.lookup(p, 'cmdline.tsx')
        if tsx(src) != tsx(dst):
            return ('tsx=%s on the source, tsx=%s on the destination: TSX '
                    'guests lose hle/rtm' % (_show(tsx(src)),
                                             _show(tsx(dst))))
        return None


class NestedVirtRule(IdenticalRule):
    """host-passthrough: both hosts bare metal, or both nested alike."""

    factor = 'nested_virt'
    what = 'nested virtualization'

    def hint(self, ctx, src, dst):
        return hints.nested_destination(ctx)
