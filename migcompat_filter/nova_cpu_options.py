"""nova-compute's [libvirt] cpu_mode and cpu_models, read from nova.conf.

Only the [libvirt] section, only these options (and virt_type, for the
default mode), with configparser; nothing else of the file (it holds
passwords) is kept or quoted. A snapshot carries the two values as
``nova/cpu_mode`` and ``nova/cpu_models`` (MODE_FILE, MODELS_FILE).
"""

import configparser
import os

from migcompat_filter.cpu_modes import NOVA_CPU_MODES
from migcompat_filter.exception import FactorUnknown
from migcompat_filter import safefile

DEFAULT_NOVA_CONFIG = '/etc/nova/nova.conf'
MODE_FILE = 'nova/cpu_mode'
MODELS_FILE = 'nova/cpu_models'
#: Every value nova's [libvirt] cpu_mode accepts.
MODES = NOVA_CPU_MODES


def read_nova_cpu_options(path):
    """(cpu_mode, cpu_models) from a nova config file.

    cpu_mode gets nova's default when unset: host-model for virt_type kvm
    or qemu (the default virt_type is kvm), none otherwise. Raises
    FactorUnknown naming the file when it cannot be read or parsed.
    """
    parser = configparser.RawConfigParser(strict=False,
                                          interpolation=None)
    if not os.path.exists(path):
        raise FactorUnknown(
            'no nova config: %s does not exist (pass --nova-config FILE)'
            % path)
    try:
        # Through safefile: a FIFO or a device here must not hang us.
        data = safefile.read_regular(path)
        parser.read_string(data.decode('utf-8'), source=path)
    except safefile.FileRefused as e:
        raise FactorUnknown(str(e)) from None
    except (OSError, UnicodeDecodeError, configparser.Error) as e:
        # The message of a parse error may quote a line: keep only the
        # kind, as the file holds passwords; "from None", or --debug's
        # chained traceback would print the original message (review D10).
        raise FactorUnknown('%s: cannot be parsed as an ini file (%s)'
                            % (path, type(e).__name__)) from None

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


def split_models(text):
    return [m.strip() for m in text.replace('\n', ',').split(',')
            if m.strip()]
