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

"""What the commands share (as ``osc_placement/resources/common.py``):
where a profile comes from, the configuration, the cloud connection, the
fleet commands' base class and output columns.

No command module imports another; they import this. Heavy imports
(oslo.config, keystoneauth, libvirt's reader) happen inside the helper
that needs them, so that each command pays only for what it uses.
"""

import os

from migcompat_filter.cmd import columns as cmd_columns
from migcompat_filter.cmd import FastEpilog
from migcompat_filter.cmd import positive_count
from migcompat_filter import exception
from migcompat_filter.host import nova_cpu_options
from migcompat_filter.host import safefile
from migcompat_filter.placement import urls
from migcompat_filter.profile import Profile

#: Read without --config-file (nova.conf's [placement] credentials are
#: used, never printed).
DEFAULT_CONFIG_FILES = ('/etc/nova/nova.conf', '/etc/migcompat/migcompat.conf')

#: A Placement (and nova) without auth, for host names (see app_cloud).
ENV_PLACEMENT_URL = 'MIGCOMPAT_PLACEMENT_URL'
ENV_NOVA_URL = 'MIGCOMPAT_NOVA_URL'

#: The largest profile or trait list we read (a profile is a few KiB).
MAX_INPUT_BYTES = 16 * 1024 * 1024

# A directory with none of these top-level entries is not a snapshot.
_SNAPSHOT_ENTRIES = ('libvirt', 'proc', 'sys', 'nova', 'etc')


# -- where a profile comes from -------------------------------------------

def add_host_arguments(parser, root=True):
    """[--root] --connect --nova-config: the host a command reads."""
    from migcompat_filter.host import source as hostsource
    if root:
        parser.add_argument(
            '--root', metavar='<directory>', default=None,
            help='read an offline snapshot directory instead of the live '
                 'host')
    parser.add_argument(
        '--connect', metavar='<uri>', default=None,
        help='libvirt URI of the live host (default %s)'
             % hostsource.DEFAULT_URI)
    parser.add_argument(
        '--nova-config', '--nova-config-file', metavar='<file>',
        dest='nova_config', action=nova_cpu_options.NovaConfigAction,
        default=None,
        help='a config file nova-compute is started with, to read '
             '[libvirt] cpu_mode/cpu_models from as nova does (oslo.config; '
             'repeat it in nova-compute\'s order, later files win; default '
             '/etc/nova/nova.conf and /etc/nova/nova.conf.d/ when present); '
             'only those options are read')
    parser.add_argument(
        '--nova-config-dir', metavar='<directory>', dest='nova_config',
        action=nova_cpu_options.NovaConfigAction, default=None,
        help='a config directory nova-compute is started with (its files '
             'ending in .conf, read after the files, as oslo.config does)')
    return parser


def add_profile_arguments(parser):
    """--root | --profile, --connect: where a host's profile comes from."""
    from migcompat_filter.host import source as hostsource
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        '--root', metavar='<directory>',
        help='Read an offline snapshot directory (as written by '
             '"migcompat snapshot create") instead of this host.')
    group.add_argument(
        '--profile', metavar='<file>',
        help='Use a profile JSON file (written by "migcompat profile show -f '
             'json") instead of reading a host.')
    parser.add_argument(
        '--connect', metavar='<uri>', default=hostsource.DEFAULT_URI,
        help='libvirt URI of this host (default: %(default)s).')
    return parser


def open_host(root=None, uri=None, nova_config=None):
    """The host source the add_host_arguments options name (InputError
    when unusable).
    """
    from migcompat_filter.host import source as hostsource
    if root is not None:
        if uri is not None:
            raise exception.InputError(
                '--connect applies to the live host, not to a snapshot '
                '(--root %s)' % root)
        if nova_config is not None:
            raise exception.InputError(
                '--nova-config applies to the live host; a snapshot '
                'carries nova/cpu_mode itself (--root %s)' % root)
        if not os.path.isdir(root):
            raise exception.InputError(
                '--root %s: %s; a snapshot is a directory written by '
                '"migcompat snapshot create"'
                % (root, 'does not exist' if not os.path.lexists(root)
                   else 'is not a directory'))
        return hostsource.SnapshotSource(root)
    if nova_config is not None:
        nova_cpu_options.check_given(nova_config)
    source = hostsource.LiveSource('/', uri or hostsource.DEFAULT_URI)
    source.nova_config = nova_config
    return source


def read_profile(source):
    """The Profile of a host source, which is closed afterwards."""
    # The host reader is imported late: reading a profile file must not
    # need libvirt.
    from migcompat_filter.host import reader
    try:
        return reader.read_profile(source)
    finally:
        source.close()


def profile_from_args(parsed_args):
    """The Profile that add_profile_arguments' options name."""
    if parsed_args.profile:
        return load_profile(parsed_args.profile)[0]
    from migcompat_filter.host import source as hostsource
    return read_profile(hostsource.open_source(parsed_args.root,
                                               parsed_args.connect))


def traits_from_args(parsed_args, schema=None, profile=None):
    """The trait names of the profile add_profile_arguments' options name:
    schema 2's readable ones by default, ``schema`` when given (the
    reporter's: 3, an Encoded list with its records); ``profile``: that
    profile when the caller read it already.

    A value that cannot be encoded is bad input (InputError) whose message
    names the file or snapshot it came from ("factor phys_bits:
    expected an integer" alone does not say which file is wrong).
    """
    from migcompat_filter.traits import codec as traits
    try:
        return traits.encode(profile or profile_from_args(parsed_args),
                             schema or traits.TRAIT_SCHEMA)
    except exception.InputError as e:
        origin, text = _origin(parsed_args), str(e)
        if origin is None or text.startswith(origin):
            raise
        path = getattr(parsed_args, 'profile', None)
        if path and text.startswith(path + ':'):
            # The reader named the file already: say which option it was.
            raise exception.InputError('--profile ' + text) from None
        raise exception.InputError('%s: %s' % (origin, text)) from None


def _origin(parsed_args):
    """How the user named the profile's source, for messages (or None for
    the live host, which has no file to blame).
    """
    if getattr(parsed_args, 'profile', None):
        return '--profile %s' % parsed_args.profile
    if getattr(parsed_args, 'root', None):
        return '--root %s' % parsed_args.root
    return None


def load_profile(spec, cloud=None):
    """(Profile, description) of spec: a snapshot directory, a profile
    JSON file, a trait list file or, when a cloud is configured, a
    compute node's name. cloud: a callable giving the Fleet to look host
    names up in, or None when no cloud is configured (see app_cloud);
    default: the environment's cloud.

    Raises InputError naming spec and what is wrong with it.
    """
    if not os.path.exists(spec):
        return _from_host_name(spec, cloud or app_cloud(None))
    if os.path.isdir(spec):
        return _from_snapshot(spec), 'snapshot %s' % spec
    text = _read_text(spec)
    if text.lstrip().startswith('{'):
        return Profile.from_json(text, origin=spec), 'profile %s' % spec
    from migcompat_filter.traits import codec as traits
    if traits.looks_like_trait_list(text):
        return _trait_list(traits, text, spec), 'trait list %s' % spec
    raise exception.InputError(
        '%s: neither a snapshot directory, a profile JSON file ("migcompat '
        'profile show -f json") nor a trait list (one CUSTOM_MIGCOMPAT_* '
        'trait a line)' % spec)


def _trait_list(traits, text, spec):
    """The profile of a trait list file; InputError naming the file, the
    factor and the trait when a trait of a known factor does not decode
    or decodes to a value not of the factor's shape. (Decoding traits read
    from Placement never raises; a file given on the command line is bad
    input instead.)
    """
    from migcompat_filter.profile import shape_problem
    profile = traits.load_trait_list(text, origin=spec)
    names = [line.strip() for line in text.splitlines()
             if line.strip() and not line.strip().startswith('#')]
    for problem in traits.parse(names).problems:
        if problem.factor:
            raise exception.InputError('%s: factor %s: trait %s: %s' % (
                spec, problem.factor, problem.trait[:80], problem.message))
    for name, value in sorted(profile.factors.items()):
        why = shape_problem(name, value)
        if why:
            raise exception.InputError('%s: factor %s: %s'
                                       % (spec, name, why))
    return profile


def read_input_file(path, max_bytes=MAX_INPUT_BYTES):
    """The bytes of a file named on the command line: a regular file of
    at most max_bytes (a FIFO, socket or device is refused without
    blocking on it). InputError naming path otherwise.
    """
    try:
        return safefile.read_regular(path, max_bytes)
    except safefile.FileRefused as e:
        raise exception.InputError(str(e))


def _read_text(path):
    data = read_input_file(path)
    try:
        return data.decode('utf-8')
    except UnicodeDecodeError:
        raise exception.InputError(
            '%s: not text; expected a snapshot directory, a profile JSON '
            'file ("migcompat profile show -f json") or a trait list' % path)


def _from_snapshot(path):
    if not any(os.path.exists(os.path.join(path, entry))
               for entry in _SNAPSHOT_ENTRIES):
        raise exception.InputError(
            '%s: a directory, but not a snapshot: it has none of %s (see '
            '"migcompat snapshot create")'
            % (path, ', '.join(e + '/' for e in _SNAPSHOT_ENTRIES)))
    from migcompat_filter.host import source as hostsource
    try:
        source = hostsource.SnapshotSource(path)
    except hostsource.SourceError as e:
        raise exception.InputError(str(e))
    return read_profile(source)


def _from_host_name(name, cloud):
    fleet = cloud()
    if fleet is None:
        raise exception.InputError(
            '%s: does not exist (neither a file nor, with no cloud '
            'configured: --os-cloud, OS_CLOUD, OS_AUTH_URL or '
            '--config-file, a host name)' % name)
    from migcompat_filter.placement import client as placement
    from migcompat_filter.placement import hoststate
    try:
        host = fleet.host(name, timestamps=False)
    except placement.PlacementError as e:
        raise exception.InputError('%s: not a file, and looking it up as a '
                                   'host failed: %s' % (name, e))
    if host.state != hoststate.TRAITED:
        raise exception.InputError('%s: compute node %s has %s'
                                   % (name, host.uuid, host.status))
    return host.profile, 'host %s (%s)' % (host.name, host.uuid)


def app_cloud(app):
    """A callable: the Fleet host-name arguments are looked up in (None
    when no cloud is configured): OpenStackClient's session, else the
    global --os-cloud or $OS_CLOUD, $MIGCOMPAT_PLACEMENT_URL, OS_*, or
    the [placement] options of the global --config-file.
    """
    def cloud():
        client = osc_client(app)
        if client is not None:
            return _osc_fleet(client)
        options = getattr(app, 'options', None)
        name = getattr(options, 'os_cloud', None) or os.environ.get(
            'OS_CLOUD')
        files = getattr(options, 'config_file', None) or []
        url = os.environ.get(ENV_PLACEMENT_URL)
        if not (url or name or files or os.environ.get('OS_AUTH_URL') or
                any(os.path.exists(f) for f in DEFAULT_CONFIG_FILES)):
            return None
        return connect(load_conf(files), os_cloud=name, placement_url=url,
                       nova_url=os.environ.get(ENV_NOVA_URL))
    return cloud


def osc_client(app):
    """OpenStackClient's ClientManager with our plugin, or None."""
    from migcompat_filter.cmd import osc_plugin
    return osc_plugin.client_manager(app)


def _osc_fleet(cm, workers=None, progress=None):
    from migcompat_filter.cmd import osc_plugin
    return osc_plugin.fleet(cm, workers, progress)


# -- configuration ----------------------------------------------------------

def check_config_files(paths):
    """InputError naming a --config-file that is missing or not a regular
    file (a FIFO, a directory: oslo.config would block or fail on it).
    """
    for path in paths or ():
        problem = safefile.not_regular(path)
        if problem:
            raise exception.InputError('--config-file %s: %s'
                                       % (path, problem))


def load_conf(config_files):
    """A private ConfigOpts with [migcompat], [placement] and nova's host."""
    from oslo_config import cfg

    from migcompat_filter import conf as conf_pkg
    from migcompat_filter.placement import client as placement
    conf = cfg.ConfigOpts()
    conf_pkg.register_opts(conf)
    conf_pkg.register_nova_workarounds(conf)
    placement.register_placement_opts(conf)
    conf.register_opt(cfg.StrOpt(
        'host', sample_default='<current hostname>',
        help='nova\'s [DEFAULT] host (read, not owned).'))
    if not config_files:
        config_files = [f for f in DEFAULT_CONFIG_FILES if os.path.exists(f)]
    check_config_files(config_files)
    try:
        conf([], project='migcompat', default_config_files=config_files,
             use_env=False)
        # oslo.config checks a value (its min and max) only when it is
        # read: read [migcompat] now, so a bad value is bad input (exit 2)
        # here rather than a failure in the middle of a command.
        for name in conf.migcompat:
            getattr(conf.migcompat, name)
    except (cfg.Error, ValueError) as e:
        raise exception.InputError('config file(s) %s: %s'
                                   % (', '.join(config_files), e))
    return conf


# -- cloud connection -------------------------------------------------------

def placement_adapter(conf, os_cloud=None, placement_url=None,
                      os_env=False):
    """A Placement Adapter: no auth at placement_url, a clouds.yaml cloud
    (or, with os_env, OS_* credentials in the environment), else the
    [placement] options of conf.
    """
    from migcompat_filter.placement import client as placement
    timeout = conf.migcompat.request_timeout
    if placement_url:
        urls.check_url('--placement-url', placement_url)
        return placement.adapter_noauth(placement_url, timeout=timeout)
    if os_cloud or (os_env and os.environ.get('OS_AUTH_URL')):
        return placement.adapter_from_cloud(os_cloud, timeout=timeout)
    return placement.adapter_from_conf(conf, timeout=timeout)


def add_placement_arguments(group):
    """--os-cloud and --placement-url on group (a parser or an argument
    group), defaulting to $OS_CLOUD and $MIGCOMPAT_PLACEMENT_URL as in
    every command. Use with placement_adapter(..., os_env=True).
    """
    group.add_argument(
        '--os-cloud', metavar='<name>',
        default=os.environ.get('OS_CLOUD'),
        help='clouds.yaml cloud to use (default: the global --os-cloud, '
             'else $OS_CLOUD; with OS_AUTH_URL '
             'and other OS_* variables set, those are used). Without it, '
             'nova\'s [placement] options from --config-file (default '
             '/etc/nova/nova.conf) are used.')
    group.add_argument(
        '--placement-url', metavar='<url>',
        default=os.environ.get(ENV_PLACEMENT_URL),
        help='Placement endpoint without auth (token "admin"; a placement '
             'with auth_strategy = noauth2, e.g. tests). Default: $%s.'
             % ENV_PLACEMENT_URL)
    return group


def add_connection_arguments(parser):
    """The fleet commands' cloud connection options."""
    from migcompat_filter.fleet import inventory
    group = add_placement_arguments(
        parser.add_argument_group('cloud connection'))
    group.add_argument(
        '--nova-url', metavar='<url>', default=os.environ.get(ENV_NOVA_URL),
        help='nova API endpoint to use with --placement-url (token '
             '"admin"). Default: $%s; without it and without nova in the '
             'service catalog, hosts are Placement\'s provider names.'
             % ENV_NOVA_URL)
    group.add_argument(
        '--workers', metavar='<count>', type=positive_count,
        default=inventory.DEFAULT_WORKERS,
        help='Placement requests in flight at once (default: %(default)s).')
    group.add_argument(
        '--progress', action='store_true', default=None,
        help='Show progress on stderr (default: when stderr is a terminal).')
    return parser


def connect(conf, os_cloud=None, placement_url=None, nova_url=None,
            workers=None, progress=None):
    """A :class:`~migcompat_filter.fleet.inventory.Fleet` from the
    connection options.
    """
    from migcompat_filter.fleet import inventory
    from migcompat_filter.fleet import nova_api
    from migcompat_filter.placement import client as placement
    pl = placement_adapter(conf, os_cloud, placement_url, os_env=True)
    if nova_url:
        urls.check_url('--nova-url', nova_url)
    if placement_url:
        nova = (nova_api.adapter_noauth(
            nova_url, timeout=conf.migcompat.request_timeout)
            if nova_url else None)
    else:
        nova = nova_api.adapter_from(pl)
        if nova_url:
            nova.endpoint_override = nova_url
    return inventory.Fleet(placement.PlacementClient(pl),
                           nova_api.NovaClient(nova) if nova else None,
                           workers=(inventory.DEFAULT_WORKERS
                                    if workers is None else workers),
                           progress=progress)


class FleetCommand(FastEpilog):
    """Mixin of the fleet commands: connection options (unless inside
    openstack), the configuration, the policy and the fleet.
    """

    def add_arguments(self, parser):
        if osc_client(self.app) is None:
            return add_connection_arguments(parser)
        from migcompat_filter.fleet import inventory
        parser.add_argument('--workers', type=positive_count,
                            default=inventory.DEFAULT_WORKERS,
                            help='Placement requests in flight at once.')
        parser.add_argument('--progress', action='store_true', default=None,
                            help='Show progress on stderr.')
        return parser

    def conf(self):
        if not hasattr(self, '_conf'):
            files = getattr(getattr(self.app, 'options', None),
                            'config_file', None)
            self._conf = load_conf(files or [])
        return self._conf

    def policy(self, strict=None):
        from migcompat_filter import conf as conf_mod
        return conf_mod.policy_from_conf(self.conf(), strict=strict)

    def actions(self):
        """The filter's actions for what it cannot judge (the [migcompat]
        *_action options), as placement/acceptance.py takes them.
        """
        from migcompat_filter.placement import acceptance
        return acceptance.Actions.from_options(self.conf().migcompat)

    def fleet(self, parsed_args):
        show_progress = parsed_args.progress
        if show_progress is None:
            show_progress = self.app.stderr.isatty()
        progress = (cmd_columns.progress_printer(self.app.stderr)
                    if show_progress else None)
        if osc_client(self.app) is not None:
            self._fleet = _osc_fleet(osc_client(self.app),
                                     parsed_args.workers, progress)
        else:
            self._fleet = connect(self.conf(), parsed_args.os_cloud,
                                  parsed_args.placement_url,
                                  parsed_args.nova_url,
                                  workers=parsed_args.workers,
                                  progress=progress)
        return self._fleet

    def warn_about_nova(self):
        f = getattr(self, '_fleet', None)
        if f is not None and f.nova_failed:
            self.app.stderr.write(
                'warning: nova\'s API is not usable (%s); hosts are named '
                'by their Placement resource providers\n' % f.nova_error)
