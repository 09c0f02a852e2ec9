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

"""``migcompat trait list``: the Placement traits that describe a host."""

from cliff import lister

from migcompat_filter.cmd import common
from migcompat_filter.cmd import FastEpilog


class ShowTraits(FastEpilog, lister.Lister):
    """Show the CUSTOM_MIGCOMPAT_* Placement traits of a host, decoded.

    The host's facts spelled out, one trait each (schema 2's readable
    names: what a profile record carries with readable_profile_traits, and
    what nova's provider config file gets; the compute node itself carries
    schema 3's few traits, which "migcompat host show" decodes): one row
    per trait, with the factor it belongs to and the value it says (e.g.
    CUSTOM_MIGCOMPAT_HM_AVX512F: host_model, features=avx512f). With -f
    value, one trait a line (its name first): such a file can be given to
    "migcompat profile compare" as SRC or DST. Give -c name for the names
    alone.
    """

    empty_message = 'no migcompat traits'

    def get_parser(self, prog_name):
        parser = super(ShowTraits, self).get_parser(prog_name)
        return common.add_profile_arguments(parser)

    def take_action(self, parsed_args):
        from migcompat_filter.traits import codec as traits
        names = common.traits_from_args(parsed_args)
        return ('name', 'factor', 'value'), traits.describe(names)
