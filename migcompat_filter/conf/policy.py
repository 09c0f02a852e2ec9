"""Compatibility policy: which differences and unknowns block a migration.

The rules themselves (migcompat_filter.rules) are fixed by what libvirt and
QEMU require; these options only decide how hard to treat the things that
are *recommended* rather than required, and what to do when a factor could
not be read. The same options serve ``migcompat compare --config-file`` and
the nova scheduler filter (group ``[migcompat]``).
"""

from oslo_config import cfg

from migcompat_filter import cpu_modes
from migcompat_filter.rules.policy import DEFAULTS
from migcompat_filter.rules.policy import passthrough_identical_factors
from migcompat_filter.rules.policy import Policy

#: Factors that host-passthrough wants identical on both hosts (derived
#: from the factor catalogue).
PASSTHROUGH_IDENTICAL_FACTORS = passthrough_identical_factors()
# TODO(migcompat): callers move to cpu_modes.MODES; then drop this alias.
MODES = cpu_modes.MODES

strict = cfg.BoolOpt(
    'strict',
    default=DEFAULTS['strict'],
    help='Treat every recommendation as a requirement. When true, a '
         'difference that would only warn blocks instead (for example a '
         'different microcode, firmware or kernel between host-passthrough '
         'hosts, or a machine type the destination lacks), and a factor '
         'that cannot be read on either host blocks in every mode. Use it '
         'where a failed or subtly broken live migration costs more than '
         'a destination that is refused. The CLI flag "compare --strict" '
         'sets it for one comparison.')

passthrough_blocking_factors = cfg.ListOpt(
    'passthrough_blocking_factors',
    default=list(DEFAULTS['passthrough_blocking_factors']),
    item_type=cfg.types.String(choices=PASSTHROUGH_IDENTICAL_FACTORS),
    help='For host-passthrough guests, the factors whose difference blocks '
         'a migration instead of only warning. The guest of a '
         'host-passthrough host sees the host CPU as it is, so libvirt '
         'strongly recommends that source and destination be identical in '
         'CPU signature (cpu_model), microcode_version, firmware_version, '
         'firmware_settings, kernel_version, kernel_settings, qemu_version, '
         'libvirt_version, nested_virt and phys_bits. By default a '
         'difference in any of them warns (and the similarity weigher '
         'ranks such a host lower); name a factor here to make its '
         'difference block. Missing CPU features always block, whatever '
         'this option says.')

unknown_action_host_model = cfg.StrOpt(
    'unknown_action_host_model',
    default=DEFAULTS['unknown_action'][cpu_modes.HOST_MODEL],
    choices=[('warn', 'report the unknown factor and let the migration '
                      'go ahead'),
             ('block', 'refuse the destination')],
    help='What an unknown CPU factor (vendor, host-model CPU features, TSC) '
         'does for host-model guests: a factor that cannot be read on '
         'either host is never treated as equal. The default warns, '
         'because for host-model guests nova still asks the destination '
         'to compare the source CPU (compareHypervisorCPU) at migration '
         'time, so an incompatible CPU is still refused, only later. '
         'Unknown QEMU or libvirt versions follow unknown_version_action.')

unknown_action_host_passthrough = cfg.StrOpt(
    'unknown_action_host_passthrough',
    default=DEFAULTS['unknown_action'][
        cpu_modes.HOST_PASSTHROUGH],
    choices=[('warn', 'report the unknown factor and let the migration '
                      'go ahead'),
             ('block', 'refuse the destination')],
    help='What unknown host CPU features (or vendor, or TSC) do for '
         'host-passthrough guests. The default blocks, because nothing '
         'else checks a host-passthrough guest: a destination lacking a '
         'feature the guest uses lets the migration succeed and the guest '
         'crash or misbehave later. Unknown values of the factors that are '
         'only recommended identical (microcode, firmware, kernel, ...) '
         'are treated like a difference of that factor.')

unknown_action_custom = cfg.StrOpt(
    'unknown_action_custom',
    default=DEFAULTS['unknown_action'][cpu_modes.CUSTOM],
    choices=[('warn', 'report the unknown factor and let the migration '
                      'go ahead'),
             ('block', 'refuse the destination')],
    help='What unknown usable CPU models (or unknown guest models) do for '
         'custom-mode guests. The default warns: libvirt on the destination '
         'refuses to start a guest whose named model is not usable there, '
         'so the failure is clean, only late.')

unknown_version_action = cfg.StrOpt(
    'unknown_version_action',
    default=DEFAULTS['unknown_version_action'],
    choices=[('warn', 'report the unknown version and let the migration '
                      'go ahead'),
             ('block', 'refuse the destination')],
    help='What an unknown QEMU or libvirt version does for host-model and '
         'custom guests, whose rules require the destination not to be '
         'older than the source. The default blocks: nova checks only the '
         'QEMU version and nothing checks libvirt, and an older libvirt or '
         'QEMU may not know the guest\'s CPU model or features.')

tsc_tolerance_ppm = cfg.IntOpt(
    'tsc_tolerance_ppm',
    default=DEFAULTS['tsc_tolerance_ppm'],
    min=0,
    help='For guests that see an invariant TSC (the invtsc CPU feature), '
         'how far apart in parts per million the two hosts\' TSC '
         'frequencies may be and still count as equal when the destination '
         'cannot scale the TSC. 250 ppm is the tolerance QEMU applies '
         'itself (and KubeVirt uses). A destination that scales its TSC '
         'accepts any source frequency.')

ALL_OPTS = [
    strict,
    passthrough_blocking_factors,
    unknown_action_host_model,
    unknown_action_host_passthrough,
    unknown_action_custom,
    unknown_version_action,
    tsc_tolerance_ppm,
]


def register_opts(conf):
    conf.register_opts(ALL_OPTS, group='migcompat')


def list_opts():
    return [('migcompat', ALL_OPTS)]


def policy_from_conf(conf, strict=None):
    """A rules.policy.Policy from ``conf.migcompat``.

    ``strict`` overrides the configured value when not None (the CLI's
    ``--strict``). The options must be registered (migcompat_filter.conf.
    register_opts).
    """
    try:
        group = conf.migcompat
        group.strict
    except (cfg.NoSuchOptError, AttributeError):
        # TODO(migcompat): one idempotent registration path (conf package).
        from migcompat_filter import conf as conf_mod
        conf_mod.register_opts(conf)
        group = conf.migcompat
    return Policy(
        strict=group.strict if strict is None else strict,
        passthrough_blocking_factors=group.passthrough_blocking_factors,
        unknown_action={
            cpu_modes.HOST_MODEL: group.unknown_action_host_model,
            cpu_modes.HOST_PASSTHROUGH: group.unknown_action_host_passthrough,
            cpu_modes.CUSTOM: group.unknown_action_custom,
        },
        unknown_version_action=group.unknown_version_action,
        tsc_tolerance_ppm=group.tsc_tolerance_ppm,
    )
