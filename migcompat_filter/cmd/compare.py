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

"""``migcompat profile compare SRC DST``: can a guest live-migrate from SRC
to DST?

SRC and DST may each be a snapshot directory, a profile JSON file written by
``migcompat profile show -f json``, or a trait list (one CUSTOM_MIGCOMPAT_*
trait a line, as ``migcompat trait list -f value`` prints them). ``--guest
DOMAIN.xml`` judges that one guest (``virsh dumpxml`` of a running guest)
instead of whatever SRC's profile says of its guests. Exit status follows
``diff``: 0 compatible, 1 not compatible, 2 bad input or usage; 3 an
internal error (never 1, which would read as "not compatible").
"""

from cliff import columns
from cliff import show
from oslo_config import cfg

from migcompat_filter.cmd import columns as cmd_columns
from migcompat_filter.cmd import common
from migcompat_filter.cmd import FastEpilog
from migcompat_filter.cmd import ResultStatus
from migcompat_filter import cpu_modes
from migcompat_filter import exception
from migcompat_filter.profile import is_unknown
from migcompat_filter import rules

EXIT_COMPATIBLE = 0
EXIT_INCOMPATIBLE = 1
#: Anything else that goes wrong inside compare: never 1, which would
#: read as a verdict (doc/source/cli.rst).
EXIT_INTERNAL_ERROR = 3


def load_policy(config_files, strict=None):
    """The [migcompat] policy from oslo.config files (InputError if bad)."""
    conf = cfg.ConfigOpts()
    from migcompat_filter import conf as conf_mod
    conf_mod.register_opts(conf)
    conf_mod.register_nova_workarounds(conf)
    common.check_config_files(config_files)
    try:
        conf(args=[], project='migcompat',
             default_config_files=list(config_files or ()))
        return conf_mod.policy_from_conf(conf, strict=strict)
    except (cfg.Error, ValueError) as e:
        raise exception.InputError('configuration: %s' % e)


def load_guest(path):
    """(GuestCPU, arch) of one running guest's domain XML (InputError if
    bad).

    Its named model is expanded with the local libvirt CPU map (QEMU's
    definitions for a model the map does not know); a model neither knows,
    or a host-model CPU libvirt has not expanded (an inactive XML), is bad
    input: the guest's CPU could not be known.
    """
    from migcompat_filter.host import domains
    from migcompat_filter.rules import guest_cpu
    record = domains.parse_domain(_read_domain(path), path)
    if record.nova_mode == cpu_modes.HOST_MODEL and not record.model:
        raise exception.InputError(
            "%s: <cpu mode='host-model'> is not expanded: this is not the "
            'live XML of a running guest (virsh dumpxml of a running '
            'domain shows the CPU libvirt started it with)' % path)
    how = []
    guest = guest_cpu.from_domain(record,
                                  _model_expander(path, record.arch, how))
    if how:
        # Say in the verdict which definitions expanded the guest's model.
        guest.origin = '%s (%s)' % (guest.origin, '; '.join(how))
    return guest, record.arch


def _read_domain(path):
    # A regular file under the common cap, never blocking on a FIFO;
    # parse_domain refuses what is too large for a domain or not XML.
    return common.read_input_file(path)


def _model_expander(path, arch, how=None):
    """expand(model) -> features, through libvirt's CPU map (or the newer
    map migcompat carries, or QEMU); ``how`` gets one line per model
    saying which expanded it.
    """
    from migcompat_filter.host import cpu_expansion
    from migcompat_filter.host import qemu_cpu_models
    import xml.etree.ElementTree as ET  # only for building XML

    def expand(model):
        cpu = ET.Element('cpu')
        ET.SubElement(cpu, 'arch').text = arch or 'x86_64'
        ET.SubElement(cpu, 'model').text = model
        try:
            found = cpu_expansion.expand(ET.tostring(cpu, encoding='unicode'),
                                         qemu_cpu_models.find_binary)
            if how is not None:
                how.append('%s expanded by %s' % (
                    model, found.detail or "this machine's libvirt CPU map"))
            return found.features
        except exception.SourceError as e:
            raise exception.InputError(
                '%s: the guest CPU model %s is known neither to the local '
                "libvirt CPU map nor to QEMU: %s" % (path, model, e))
    return expand


def _memo(make):
    """make(), called once at most (one cloud connection for both hosts)."""
    made = []

    def once():
        if not made:
            made.append(make())
        return made[0]
    return once


def _arch(profile):
    value = profile['arch']
    return None if is_unknown(value) else value


def _check_arch(src_name, src, dst_name, dst):
    """InputError when the hosts have different CPU architectures."""
    src_arch, dst_arch = _arch(src), _arch(dst)
    if src_arch and dst_arch and src_arch != dst_arch:
        raise exception.InputError(
            'cannot compare %s (%s) with %s (%s): hosts of different CPU '
            'architectures; a guest never live-migrates between them'
            % (src_name, src_arch, dst_name, dst_arch))


def _check_guest_arch(guest_name, arch, dst_name, dst):
    """InputError when the guest's arch is not the destination's."""
    dst_arch = _arch(dst)
    if arch and dst_arch and arch != dst_arch:
        raise exception.InputError(
            '%s is an %s guest and %s an %s host: a guest never '
            'live-migrates across CPU architectures'
            % (guest_name, arch, dst_name, dst_arch))


def _verdict_fields(verdict, src_desc, dst_desc, guest=None):
    names = ('compatible', 'mode', 'source', 'destination', 'findings')
    fields = (VerdictColumn((verdict.compatible, len(verdict.blocking),
                             len(verdict.warnings))),
              verdict.mode, src_desc, dst_desc,
              FindingsColumn(verdict.findings))
    if guest is not None:
        names += ('guest',)
        fields += (GuestColumn(guest),)
    return names, fields


class GuestColumn(columns.FormattableColumn):
    """The judged guest: its record for machines, a line for people."""

    def human_readable(self):
        g = self._value
        return '%s: %s%s, %d CPU features, machine %s' % (
            g.origin, g.mode, ' %s' % g.model if g.model else '',
            len(g.required or ()), ', '.join(sorted(g.machine_types or ()))
            or 'unknown')

    def machine_readable(self):
        return self._value.to_dict()


class VerdictColumn(columns.FormattableColumn):
    """true/false for machines; a sentence for people."""

    def human_readable(self):
        compatible, blocking, warnings = self._value
        if compatible:
            return 'COMPATIBLE%s' % (
                ' (%d warning%s)' % (warnings, 's' if warnings != 1 else '')
                if warnings else '')
        return 'NOT COMPATIBLE (%d blocking finding%s, %d warning%s)' % (
            blocking, 's' if blocking != 1 else '', warnings,
            's' if warnings != 1 else '')

    def machine_readable(self):
        return self._value[0]


class FindingsColumn(cmd_columns.Wrappable):
    """The findings as dicts for machines; block, then warn, as text
    (wrapped to the table's column, hanging under the severity).
    """

    def wrapped(self, width):
        if not self._value:
            return cmd_columns.wrap_item(
                'none: every factor compared equal or compatible', width)
        lines = []
        for f in self._value:
            lines.extend(cmd_columns.wrap_item(
                '%s: %s' % (f.factor, ' '.join(f.message.split())), width,
                '%-6s' % f.severity.upper()))
            if f.hint:
                lines.extend(cmd_columns.wrap_item(
                    ' '.join(f.hint.split()), width, ' ' * 6 + 'hint: '))
        return lines

    def machine_readable(self):
        return plain([f.to_dict() for f in self._value])


def plain(value):
    """value as JSON/YAML-ready data: sets (a rule's set of CPU models or
    features) become sorted lists, tuples lists, recursively, so that no
    formatter meets a type it cannot write (and stops half-way).
    """
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (set, frozenset)):
        return sorted((plain(v) for v in value), key=_sort_key)
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def _sort_key(value):
    # Mixed types never compare; order by type name, then by text.
    return (type(value).__name__, str(value))


class Compare(FastEpilog, ResultStatus, show.ShowOne):
    """Judge a live migration from SRC to DST, with reasons.

    SRC and DST are each a snapshot directory, a profile JSON file
    ("migcompat profile show -f json") or a trait list. --guest DOMAIN.xml
    judges that one running guest (virsh dumpxml). The guest CPU mode is
    --mode, else the guest's, else the source's nova cpu_mode, else
    host-model. Hosts of
    different CPU architectures are refused as bad input (exit 2): the
    rules compare CPUs of one architecture. Exit status: 0 compatible,
    1 not compatible, 2 bad input or usage, 3 an internal error (no
    verdict).
    """

    EXIT_DEFAULT = EXIT_COMPATIBLE

    #: cmd.shell.exit_status: an error that is not bad input is no verdict.
    internal_error_status = EXIT_INTERNAL_ERROR

    def get_parser(self, prog_name):
        parser = super(Compare, self).get_parser(prog_name)
        parser.add_argument(
            'source', metavar='<source>',
            help='source host: snapshot directory, profile JSON, trait '
                 'list or, with a cloud configured, a compute node\'s name')
        parser.add_argument(
            'destination', metavar='<destination>',
            help='destination host: snapshot directory, profile JSON, '
                 'trait list or, with a cloud configured, a compute node\'s '
                 'name')
        parser.add_argument(
            '--mode', choices=cpu_modes.MODES,
            help='guest CPU mode to judge (default: the source\'s nova '
                 'cpu_mode, else host-model)')
        parser.add_argument(
            '--strict', action='store_true', default=None,
            help='every recommendation blocks (overrides [migcompat] '
                 'strict)')
        parser.add_argument(
            '--cpu-model', metavar='<name>', action='append',
            dest='cpu_models',
            help='a named CPU model of the guest (custom mode; may be '
                 'repeated; default: the guest\'s own, else the source\'s '
                 'nova cpu_models)')
        parser.add_argument(
            '--guest', metavar='DOMAIN.xml',
            help='judge this one guest: its live domain XML as "virsh '
                 'dumpxml GUEST" prints it for a running guest (its CPU '
                 'mode, model, features, machine type and TSC); SRC then '
                 'supplies the source\'s versions')
        return parser

    def take_action(self, parsed_args):
        policy = load_policy(
            getattr(self.app.options, 'config_file', None),
            strict=parsed_args.strict)
        # Host names are looked up as the fleet commands reach the cloud
        # (global --os-cloud, --config-file, OpenStackClient's session).
        cloud = _memo(common.app_cloud(self.app))
        src, src_desc = common.load_profile(parsed_args.source, cloud)
        dst, dst_desc = common.load_profile(parsed_args.destination, cloud)
        _check_arch(parsed_args.source, src, parsed_args.destination, dst)
        guest = None
        if parsed_args.guest:
            guest, arch = load_guest(parsed_args.guest)
            _check_guest_arch(parsed_args.guest, arch,
                              parsed_args.destination, dst)
        verdict = rules.evaluate(src, dst, mode=parsed_args.mode,
                                 policy=policy,
                                 cpu_models=parsed_args.cpu_models,
                                 guest=guest)
        self._exit_status = (EXIT_COMPATIBLE if verdict.compatible
                             else EXIT_INCOMPATIBLE)
        return _verdict_fields(verdict, src_desc, dst_desc, guest)
