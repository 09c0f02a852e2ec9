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

"""Host kernel factors: release and the CPU/virtualization settings."""

from migcompat_filter.factors import base
from migcompat_filter.factors import catalogue
from migcompat_filter.profile import Unknown

OSRELEASE = 'proc/sys/kernel/osrelease'
CMDLINE = 'proc/cmdline'
MODPROBE_DIR = 'etc/modprobe.d'
MODULE_DIR = 'sys/module'
VULN_DIR = 'sys/devices/system/cpu/vulnerabilities'

#: Kernel parameters that change what the CPU offers to guests or how KVM
#: runs them (the catalogue's list).
CPU_PARAMS = frozenset(catalogue.CPU_KERNEL_PARAMETERS)
#: Parameter name prefixes that are all relevant (noxsave, noxsaveopt,
#: noxsaves, ...; every kvm module parameter).
CPU_PARAM_PREFIXES = ('noxsave', 'kvm.', 'kvm_')

#: Modules whose modprobe.d options and sysfs parameters are read.
KVM_MODULES = ('kvm', 'kvm_intel', 'kvm_amd')

#: sysfs module parameters read from /sys/module/kvm*/parameters.
MODULE_PARAMS = frozenset(catalogue.KVM_MODULE_PARAMETERS)


def split_kernel_args(text):
    """Split a command line the way the kernel does (lib/cmdline.c).

    Double quotes group (and are removed around a value); an unbalanced
    quote runs to the end of the line. Returns [(name, value or True)].
    Parsing stops at "--": what follows goes to init, not the kernel.
    """
    out = []
    i, n = 0, len(text)
    while i < n:
        while i < n and text[i].isspace():
            i += 1
        if i >= n:
            break
        start = i
        in_quote = False
        while i < n:
            c = text[i]
            if c.isspace() and not in_quote:
                break
            if c == '"':
                in_quote = not in_quote
            i += 1
        word = text[start:i]
        quoted = word.startswith('"')
        if quoted:
            word = word[1:]
        equals = word.find('=')
        if equals < 0:
            name, value = word, True
            if quoted and name.endswith('"'):
                name = name[:-1]
        else:
            name, value = word[:equals], word[equals + 1:]
            strip = quoted
            if value.startswith('"'):
                value, strip = value[1:], True
            if strip and value.endswith('"'):
                value = value[:-1]
        if name == '--':
            break
        out.append((name, value))
    return out


def param_name(name):
    """Canonical kernel parameter name: the kernel reads '-' as '_'."""
    return name.replace('-', '_')


def relevant_param(name):
    return name in CPU_PARAMS or name.startswith(CPU_PARAM_PREFIXES)


def parse_cmdline(text):
    params = {}
    for name, value in split_kernel_args(text):
        name = param_name(name)
        if relevant_param(name):
            params[name] = value  # the last one wins, as in the kernel
    return params


def parse_modprobe(text):
    """{module: {option: value}} of "options" lines for the kvm modules."""
    result = {}
    joined = text.replace('\\\n', ' ')
    for line in joined.splitlines():
        line = line.split('#', 1)[0].strip()
        words = split_kernel_args(line)
        if len(words) < 2 or words[0] != ('options', True):
            continue
        module = param_name(words[1][0])
        if module not in KVM_MODULES:
            continue
        opts = result.setdefault(module, {})
        for name, value in words[2:]:
            opts[name] = value
    return result


def _cmdline(host):
    try:
        text = host.read_text(CMDLINE, errors='backslashreplace')
    except base.FactorUnknown as e:
        return Unknown(str(e))
    if not text.strip():
        return Unknown('%s: is empty' % CMDLINE)
    return parse_cmdline(text.strip())


def _modprobe(host):
    if not host.exists(MODPROBE_DIR):
        if host.missing_is_empty(MODPROBE_DIR):
            return {}
        return Unknown('%s: not in the snapshot' % MODPROBE_DIR)
    try:
        names = host.listdir(MODPROBE_DIR)
    except base.FactorUnknown as e:
        return Unknown(str(e))
    result = {}
    for name in names:
        if not name.endswith('.conf'):
            continue
        path = '%s/%s' % (MODPROBE_DIR, name)
        try:
            text = host.read_text(path, errors='backslashreplace')
        except base.FactorUnknown as e:
            return Unknown(str(e))
        for module, opts in parse_modprobe(text).items():
            result.setdefault(module, {}).update(opts)
    return result


def _module_parameters(host):
    if not host.exists(MODULE_DIR):
        if host.missing_is_empty(MODULE_DIR):
            return {}
        return Unknown('%s: not in the snapshot' % MODULE_DIR)
    try:
        modules = [m for m in host.listdir(MODULE_DIR)
                   if m.startswith('kvm')]
    except base.FactorUnknown as e:
        return Unknown(str(e))
    result = {}
    for module in modules:
        pdir = '%s/%s/parameters' % (MODULE_DIR, module)
        if not host.exists(pdir):
            continue
        try:
            names = [p for p in host.listdir(pdir) if p in MODULE_PARAMS]
        except base.FactorUnknown as e:
            result[module] = Unknown(str(e))
            continue
        params = {}
        for name in names:
            try:
                params[name] = host.read_text('%s/%s' % (pdir, name)).strip()
            except base.FactorUnknown as e:
                params[name] = Unknown(str(e))
        if params:
            result[module] = params
    return result


def _vulnerabilities(host):
    try:
        names = host.listdir(VULN_DIR)
    except base.FactorUnknown as e:
        return Unknown(str(e))
    result = {}
    for name in names:
        try:
            result[name] = host.read_value('%s/%s' % (VULN_DIR, name))
        except base.FactorUnknown as e:
            result[name] = Unknown(str(e))
    return result


class KernelVersionFactor(base.Factor):
    def read(self, host):
        return host.read_value(OSRELEASE)


class KernelSettingsFactor(base.Factor):
    def read(self, host):
        value = {'cmdline': _cmdline(host),
                 'modprobe': _modprobe(host),
                 'module_parameters': _module_parameters(host),
                 'vulnerabilities': _vulnerabilities(host)}
        if all(isinstance(v, Unknown) for v in value.values()):
            raise base.FactorUnknown('; '.join(v.reason
                                               for v in value.values()))
        return value
