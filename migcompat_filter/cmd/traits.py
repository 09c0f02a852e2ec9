"""``migcompat traits``: the Placement traits that describe a host."""

from cliff import lister

from migcompat_filter.cmd import FastEpilog
from migcompat_filter import exception
from migcompat_filter import hostsource
from migcompat_filter import profile as profile_mod
from migcompat_filter import traits


def add_profile_arguments(parser):
    """--root / --connect / --profile: where the host profile comes from."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        '--root', metavar='DIR',
        help='Read an offline snapshot directory (as written by "migcompat '
             'snapshot") instead of this host.')
    group.add_argument(
        '--profile', metavar='FILE',
        help='Use a profile JSON file (written by "migcompat profile -f '
             'json") instead of reading a host.')
    parser.add_argument(
        '--connect', metavar='URI', default=hostsource.DEFAULT_URI,
        help='libvirt URI of this host (default: %(default)s).')
    return parser


def load_profile(parsed_args):
    """The Profile that --root/--connect/--profile name."""
    if parsed_args.profile:
        try:
            with open(parsed_args.profile, encoding='utf-8') as f:
                text = f.read()
        except (OSError, UnicodeDecodeError) as e:
            raise exception.InputError('%s: cannot be read: %s'
                                       % (parsed_args.profile, e))
        return profile_mod.Profile.from_json(text, origin=parsed_args.profile)
    # The host reader (migcompat_filter.reader) is imported late: reading
    # a profile file must not need libvirt.
    from migcompat_filter import reader
    source = hostsource.open_source(parsed_args.root, parsed_args.connect)
    try:
        return reader.read_profile(source)
    finally:
        source.close()


class ShowTraits(FastEpilog, lister.Lister):
    """Show the CUSTOM_MIGCOMPAT_* Placement traits of a host.

    These are what "migcompat report" publishes on the compute node's
    resource provider. With -f value, one trait a line: such a file can be
    given to "migcompat compare" as SRC or DST.
    """

    def get_parser(self, prog_name):
        parser = super(ShowTraits, self).get_parser(prog_name)
        return add_profile_arguments(parser)

    def take_action(self, parsed_args):
        names = traits.encode(load_profile(parsed_args))
        return ('Trait',), [(name,) for name in names]
