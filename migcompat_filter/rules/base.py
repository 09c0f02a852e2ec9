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

"""The rule plugin API.

A rule is one small class registered in the ``migcompat.rules`` entry-point
namespace (built-in ones in setup.cfg, a third party's in its own
distribution); its docstring states the rule. ``check(ctx)`` returns
findings (see verdict.Context); ``modes`` says for which guest CPU modes it
applies, and ``reads`` which factors it consults to decide. Rules compare
explicit feature sets, never model names alone: a named model is
shorthand, and libvirt versions disagree on names.
"""

from migcompat_filter import cpu_modes
from migcompat_filter.rules.verdict import BLOCK
from migcompat_filter.rules.verdict import WARN


class Rule(object):
    #: The factor its findings are about.
    factor = None
    #: The guest CPU modes it judges.
    modes = cpu_modes.MODES

    @property
    def reads(self):
        """The factors it consults (a subclass that consults more sets a
        tuple); by default its own factor.
        """
        return (self.factor,)

    def check(self, ctx):
        raise NotImplementedError


def identical_severity(ctx, factor):
    """How much a difference in an identical-recommended factor weighs."""
    return BLOCK if ctx.policy.blocks_difference(factor) else WARN
