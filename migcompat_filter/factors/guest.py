"""Guest CPU mode factors: nova-compute's [libvirt] cpu_mode / cpu_models.

A snapshot carries them as nova/cpu_mode and nova/cpu_models (written by
``migcompat snapshot``; never nova.conf itself). On the live host they are
read from nova's config file (``host.nova_config``, default
/etc/nova/nova.conf) with configparser: only the [libvirt] section, only
these two options.
"""

import configparser

from migcompat_filter.factors import base
from migcompat_filter import hostsource

DEFAULT_NOVA_CONFIG = '/etc/nova/nova.conf'
MODE_FILE = 'nova/cpu_mode'
MODELS_FILE = 'nova/cpu_models'
MODES = ('host-model', 'host-passthrough', 'custom', 'none')


def nova_config_path(host):
    return getattr(host, 'nova_config', None) or DEFAULT_NOVA_CONFIG


def read_nova_cpu_options(path):
    """(cpu_mode, cpu_models) from a nova config file.

    cpu_mode gets nova's default when unset: host-model for virt_type kvm
    or qemu (the default virt_type is kvm), none otherwise. Raises
    FactorUnknown naming the file when it cannot be read or parsed.
    """
    parser = configparser.RawConfigParser(strict=False,
                                          interpolation=None)
    try:
        with open(path, encoding='utf-8') as f:
            parser.read_file(f, source=path)
    except FileNotFoundError:
        raise base.FactorUnknown(
            'no nova config: %s does not exist (pass --nova-config FILE)'
            % path)
    except PermissionError:
        raise base.FactorUnknown('%s: permission denied' % path)
    except (OSError, UnicodeDecodeError, configparser.Error) as e:
        # The message of a parse error may quote a line: keep only the
        # kind, as the file holds passwords.
        raise base.FactorUnknown('%s: cannot be parsed as an ini file (%s)'
                                 % (path, type(e).__name__))

    def opt(name):
        if parser.has_option('libvirt', name):
            return parser.get('libvirt', name).strip()
        return None
    mode = (opt('cpu_mode') or '').lower()
    if not mode:
        virt_type = (opt('virt_type') or 'kvm').lower()
        mode = 'host-model' if virt_type in ('kvm', 'qemu') else 'none'
    models = [m.strip() for m in (opt('cpu_models') or '').split(',')
              if m.strip()]
    return mode, models


def _live(host):
    return isinstance(host, hostsource.LiveSource)


def _split_models(text):
    return [m.strip() for m in text.replace('\n', ',').split(',')
            if m.strip()]


class CpuModeFactor(base.Factor):
    def read(self, host):
        if _live(host):
            return read_nova_cpu_options(nova_config_path(host))[0]
        if not host.exists(MODE_FILE):
            raise base.FactorUnknown('%s: not in the snapshot (no nova '
                                     'config was captured)' % MODE_FILE)
        mode = host.read_value(MODE_FILE).lower()
        if mode not in MODES:
            raise base.FactorUnknown('%s: %r is not a nova cpu_mode (one '
                                     'of %s)' % (MODE_FILE, mode,
                                                 ', '.join(MODES)))
        return mode


class CpuModelsFactor(base.Factor):
    def read(self, host):
        if _live(host):
            return read_nova_cpu_options(nova_config_path(host))[1]
        if host.exists(MODELS_FILE):
            return _split_models(host.read_text(MODELS_FILE))
        if host.exists(MODE_FILE):
            return []  # mode captured without models: nova's default []
        raise base.FactorUnknown('%s: not in the snapshot (no nova config '
                                 'was captured)' % MODELS_FILE)
