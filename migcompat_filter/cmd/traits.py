"""``migcompat traits``: the Placement traits that describe a host."""

from cliff import lister

from migcompat_filter.cmd import common
from migcompat_filter.cmd import FastEpilog


class ShowTraits(FastEpilog, lister.Lister):
    """Show the CUSTOM_MIGCOMPAT_* Placement traits of a host.

    These are what "migcompat report" publishes on the compute node's
    resource provider. With -f value, one trait a line: such a file can be
    given to "migcompat compare" as SRC or DST.
    """

    def get_parser(self, prog_name):
        parser = super(ShowTraits, self).get_parser(prog_name)
        return common.add_profile_arguments(parser)

    def take_action(self, parsed_args):
        names = common.traits_from_args(parsed_args)
        return ('Trait',), [(name,) for name in names]
