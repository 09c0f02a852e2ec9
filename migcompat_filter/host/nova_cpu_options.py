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

"""nova-compute's [libvirt] cpu_mode and cpu_models, read as nova reads them.

nova-compute reads its options with oslo.config from one or more config
files and config directories (``--config-file /etc/nova/nova.conf
--config-file /etc/nova/nova-compute.conf``, ``--config-dir
/etc/nova/nova.conf.d``; later files win). So do we, with a private
``ConfigOpts`` that registers only [libvirt] cpu_mode, cpu_models and
virt_type (for the default mode): nothing else of the files (they hold
passwords) is kept or quoted. A snapshot carries the two values as
``nova/cpu_mode`` and ``nova/cpu_models`` (MODE_FILE, MODELS_FILE).
"""

import argparse
import collections
import glob
import os

from migcompat_filter.cpu_modes import NOVA_CPU_MODES
from migcompat_filter.exception import FactorUnknown
from migcompat_filter.exception import InputError
from migcompat_filter.host import safefile

DEFAULT_NOVA_CONFIG = '/etc/nova/nova.conf'
#: nova's own default config directory (oslo.config: <project>.conf.d).
DEFAULT_NOVA_CONFIG_DIR = '/etc/nova/nova.conf.d'
MODE_FILE = 'nova/cpu_mode'
MODELS_FILE = 'nova/cpu_models'
#: Every value nova's [libvirt] cpu_mode accepts.
MODES = NOVA_CPU_MODES


def _opts():
    # oslo.config costs ~40 ms to import: only when nova.conf is read.
    from oslo_config import cfg
    return cfg, [cfg.StrOpt('cpu_mode'),
                 cfg.ListOpt('cpu_models', default=[]),
                 cfg.StrOpt('virt_type', default='kvm')]


class NovaConfig(collections.namedtuple('NovaConfig', 'files dirs')):
    """The config files and directories nova-compute is started with."""

    @classmethod
    def default(cls):
        """What nova-compute reads when started without options (the
        files that exist).
        """
        return cls(tuple(f for f in (DEFAULT_NOVA_CONFIG,)
                         if os.path.exists(f)),
                   tuple(d for d in (DEFAULT_NOVA_CONFIG_DIR,)
                         if os.path.isdir(d)))

    @property
    def explicit(self):
        return bool(self.files or self.dirs)

    def describe(self):
        return ', '.join(self.files + tuple(d + '/' for d in self.dirs))


def as_config(spec):
    """A NovaConfig from spec: None (nova's defaults), a path, or one."""
    if spec is None:
        return NovaConfig.default()
    if isinstance(spec, NovaConfig):
        return spec
    return NovaConfig((spec,), ())


class NovaConfigAction(argparse.Action):
    """``--nova-config FILE`` / ``--nova-config-dir DIR``, repeatable: one
    NovaConfig in the order given (files, then dirs), as nova-compute's
    own ``--config-file`` / ``--config-dir``.
    """

    def __call__(self, parser, namespace, value, option_string=None):
        current = getattr(namespace, self.dest, None) or NovaConfig((), ())
        if option_string == '--nova-config-dir':
            current = current._replace(dirs=current.dirs + (value,))
        else:
            current = current._replace(files=current.files + (value,))
        setattr(namespace, self.dest, current)


def check_given(spec):
    """InputError for a --nova-config file or dir that is not there."""
    config = as_config(spec)
    for path in config.files:
        if not os.path.isfile(path):
            raise InputError('--nova-config %s: %s' % (
                path, 'no such file' if not os.path.lexists(path)
                else 'is not a regular file'))
    for path in config.dirs:
        if not os.path.isdir(path):
            raise InputError('--nova-config-dir %s: %s' % (
                path, 'no such directory' if not os.path.lexists(path)
                else 'is not a directory'))


def _check_readable(config):
    """Refuse what is not a regular file before oslo.config opens it (a
    FIFO or a device there must not hang us).
    """
    for path in config.files + tuple(
            p for d in config.dirs
            for p in sorted(glob.glob(os.path.join(d, '*.conf')))):
        try:
            safefile.read_regular(path)
        except safefile.FileRefused as e:
            raise FactorUnknown(str(e)) from None
        except OSError as e:
            raise FactorUnknown('%s: cannot be read (%s)'
                                % (path, e.strerror or e)) from None
    for d in config.dirs:
        if not os.path.isdir(d):
            raise FactorUnknown('%s: nova config directory does not exist'
                                % d)


def read_nova_cpu_options(spec=None):
    """(cpu_mode, cpu_models) from nova-compute's config files.

    spec: a NovaConfig, one file path, or None for nova's defaults
    (/etc/nova/nova.conf and /etc/nova/nova.conf.d/). cpu_mode gets
    nova's default when unset: host-model for virt_type kvm or qemu (the
    default virt_type is kvm), none otherwise. Raises FactorUnknown naming
    the file when it cannot be read or parsed.
    """
    config = as_config(spec)
    if not config.explicit:
        raise FactorUnknown(
            'no nova config: %s does not exist (pass --nova-config FILE)'
            % DEFAULT_NOVA_CONFIG)
    for path in config.files:
        if not os.path.exists(path):
            raise FactorUnknown('no nova config: %s does not exist (pass '
                                '--nova-config FILE)' % path)
    _check_readable(config)
    cfg, opts = _opts()
    conf = cfg.ConfigOpts()
    conf.register_opts(opts, group='libvirt')
    try:
        conf(args=[], project='nova', default_config_files=list(
            config.files), default_config_dirs=list(config.dirs),
            validate_default_values=False)
    except (cfg.ConfigFileParseError, cfg.ConfigFileValueError,
            cfg.ConfigFilesNotFoundError, cfg.Error, OSError,
            UnicodeDecodeError) as e:
        # A parse error's message may quote a line: keep only the file and
        # the kind, as the files hold passwords; "from None", or --debug's
        # chained traceback would print the original message.
        where = getattr(e, 'config_file', None) or config.describe()
        raise FactorUnknown('%s: cannot be parsed as an ini file (%s)'
                            % (where, type(e).__name__)) from None
    group = conf.libvirt
    mode = (group.cpu_mode or '').strip().lower()
    if not mode:
        virt_type = (group.virt_type or 'kvm').strip().lower()
        mode = 'host-model' if virt_type in ('kvm', 'qemu') else 'none'
    models = [m.strip() for m in group.cpu_models or () if m.strip()]
    return mode, models


def split_models(text):
    return [m.strip() for m in text.replace('\n', ',').split(',')
            if m.strip()]
