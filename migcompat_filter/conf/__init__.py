"""migcompat's configuration options, one module per concern.

All options live in the ``[migcompat]`` group, so the same config file (or
nova.conf itself) serves the CLI, the reporter and the scheduler filter.
``list_opts()`` feeds oslo-config-generator
(etc/migcompat-config-generator.conf).
"""

from oslo_config import cfg

GROUP = cfg.OptGroup(
    'migcompat',
    title='Live-migration compatibility',
    help='Options of the migcompat live-migration compatibility policy, '
         'reporter and nova scheduler filter.')

# Modules that define options; each has ALL_OPTS and list_opts().
_MODULES = ('policy', 'reporter', 'scheduler')


def _modules():
    import importlib
    return [importlib.import_module('migcompat_filter.conf.' + name)
            for name in _MODULES]


def register_opts(conf):
    conf.register_group(GROUP)
    for mod in _modules():
        conf.register_opts(mod.ALL_OPTS, group=GROUP)


def list_opts():
    opts = []
    for mod in _modules():
        opts.extend(mod.ALL_OPTS)
    return [(GROUP, opts)]
