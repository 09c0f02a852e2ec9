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

"""migcompat's configuration options, one module per concern.

All options live in the ``[migcompat]`` group (:data:`GROUP`), so the same
config file (or nova.conf itself) serves the CLI, the reporter and the
scheduler filter. Each module holds a ``<concern>_opts`` list and a
``list_opts()`` returning ``{GROUP: opts}``; this package is the one place
that registers them (:func:`register_opts`) and that builds the rules
engine's Policy from them (:func:`policy_from_conf`). ``list_opts()`` here
feeds oslo-config-generator (etc/migcompat-config-generator.conf).
"""

from oslo_config import cfg

from migcompat_filter.conf import group
from migcompat_filter.conf import policy
from migcompat_filter.conf import reporter
from migcompat_filter.conf import scheduler
from migcompat_filter.conf import verify
from migcompat_filter import cpu_modes
from migcompat_filter.rules.policy import Policy

GROUP = group.GROUP

# In the order the sample config and the configuration reference list them.
_MODULES = (policy, reporter, scheduler, verify)


def register_opts(conf):
    """Register every [migcompat] option on conf; idempotent.

    Every caller (nova loading the filter, the CLI, a test) may call it
    without first asking whether someone else did.
    """
    for module in _MODULES:
        for opt_group, opts in module.list_opts().items():
            if not _registered(conf, opt_group, opts):
                conf.register_group(opt_group)
                conf.register_opts(opts, group=opt_group)


def _registered(conf, opt_group, opts):
    # Registering the same options again would be harmless, but it empties
    # conf's value cache, and nova-scheduler's CONF is read on every request.
    if opt_group.name not in conf:
        return False
    options = conf[opt_group.name]
    return all(opt.dest in options for opt in opts)


def list_opts():
    """[(GROUP, every option)], as oslo-config-generator wants it."""
    opts = []
    for module in _MODULES:
        opts.extend(module.list_opts()[GROUP])
    return [(GROUP, opts)]


#: nova's [workarounds] options the policy follows -> Policy argument.
#: nova registers them in nova-scheduler; the CLI registers them on its
#: own private ConfigOpts (register_nova_workarounds). They are
#: never registered here: nova owns them.
WORKAROUNDS = (
    ('skip_hypervisor_version_check_on_lm', 'skip_hypervisor_version_check'),
    ('skip_cpu_compare_on_dest', 'skip_cpu_compare_on_dest'),
)


def _workarounds(conf):
    """{Policy argument: value} of nova's [workarounds] that conf has."""
    if 'workarounds' not in conf:
        return {}
    group_ = conf.workarounds
    return {arg: bool(getattr(group_, name)) for name, arg in WORKAROUNDS
            if name in group_}


def policy_from_conf(conf, strict=None):
    """The rules engine's Policy from ``conf.migcompat``.

    Registers the options first (see :func:`register_opts`). ``strict``
    overrides the configured value when not None (the CLI's ``--strict``).
    nova's ``[workarounds] skip_hypervisor_version_check_on_lm`` and
    ``skip_cpu_compare_on_dest`` are followed when conf has them
    registered (nova-scheduler does; so does the CLI's ConfigOpts).
    """
    register_opts(conf)
    options = conf.migcompat
    return Policy(
        strict=options.strict if strict is None else strict,
        passthrough_blocking_factors=options.passthrough_blocking_factors,
        unknown_action={
            cpu_modes.HOST_MODEL: options.unknown_action_host_model,
            cpu_modes.HOST_PASSTHROUGH:
                options.unknown_action_host_passthrough,
            cpu_modes.CUSTOM: options.unknown_action_custom,
        },
        unknown_version_action=options.unknown_version_action,
        tsc_tolerance_ppm=options.tsc_tolerance_ppm,
        **_workarounds(conf)
    )


def register_nova_workarounds(conf):
    """nova's two [workarounds] options the policy follows, on a private
    ConfigOpts, with nova's names and defaults (so ``--config-file
    /etc/nova/nova.conf`` honours them). Never on nova's own CONF: nova
    registers them there itself.
    """
    opts = [
        cfg.BoolOpt('skip_hypervisor_version_check_on_lm', default=False,
                    help="nova's option (read, not owned): nova does not "
                         'refuse an older destination hypervisor; '
                         'migcompat then warns instead of blocking.'),
        cfg.BoolOpt('skip_cpu_compare_on_dest', default=False,
                    help="nova's option (read, not owned): nova does not "
                         'compare the CPU on the destination; migcompat '
                         'then blocks a host-model comparison it cannot '
                         'complete.'),
    ]
    if 'workarounds' in conf and all(
            o.dest in conf.workarounds for o in opts):
        return
    conf.register_opts(opts, group='workarounds')
