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

"""Firmware factors: BIOS revision (DMI) and firmware settings."""

from migcompat_filter.factors import base
from migcompat_filter.host.source import CPUINFO
from migcompat_filter.profile import Unknown

SMT_CONTROL = 'sys/devices/system/cpu/smt/control'


class FirmwareVersionFactor(base.Factor):
    def read(self, host):
        value, errors = {}, []
        for key in ('vendor', 'version', 'date'):
            try:
                value[key] = host.dmi('bios_%s' % key)
            except base.FactorUnknown as e:
                value[key] = Unknown(str(e))
                errors.append(str(e))
        if len(errors) == 3:
            raise base.FactorUnknown('no DMI data: %s' % '; '.join(errors))
        return value


def _threads_per_core(host):
    try:
        topo = host.host_cpu().find('topology')
        if topo is not None and topo.get('threads'):
            return int(topo.get('threads'))
        caps_error = 'capabilities host CPU has no <topology threads=>'
    except (base.FactorUnknown, ValueError) as e:
        caps_error = str(e)
    try:
        info = host.cpuinfo()
        siblings = int(info['siblings'])
        cores = int(info['cpu cores'])
        if cores > 0 and siblings % cores == 0:
            return siblings // cores
    except base.FactorUnknown as e:
        return Unknown('%s; %s' % (caps_error, e))
    except (KeyError, ValueError):
        pass
    return Unknown('%s; %s has no usable "siblings"/"cpu cores"'
                   % (caps_error, CPUINFO))


def _virtualization(host):
    try:
        flags = set(host.cpuinfo_flags())
    except base.FactorUnknown as e:
        try:
            cpu = host.host_cpu()
        except base.FactorUnknown as e2:
            return Unknown('%s; %s' % (e, e2))
        flags = {f.get('name') for f in cpu.findall('feature')}
    for name in ('vmx', 'svm'):
        if name in flags:
            return name
    return 'none'


class FirmwareSettingsFactor(base.Factor):
    def read(self, host):
        try:
            smt = host.read_value(SMT_CONTROL)
        except base.FactorUnknown as e:
            smt = Unknown(str(e))
        value = {'smt': smt,
                 'threads_per_core': _threads_per_core(host),
                 'virtualization': _virtualization(host)}
        if all(isinstance(v, Unknown) for v in value.values()):
            raise base.FactorUnknown('; '.join(v.reason
                                               for v in value.values()))
        return value
