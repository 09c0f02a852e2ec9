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
    """libvirt's <topology threads=>, else cpuinfo's siblings / cpu cores;
    an impossible number is Unknown naming its file (not a reason to
    trust the other file).
    """
    try:
        topo = host.host_cpu().find('topology')
        if topo is not None and topo.get('threads'):
            return base.bounded_int(
                topo.get('threads'), '%s: <topology threads=>'
                % host.libvirt_origin('capabilities'),
                kind='threads_per_core')
        caps_error = 'capabilities host CPU has no <topology threads=>'
    except base.FactorUnknown as e:
        if 'topology' in str(e):
            return Unknown(str(e))
        caps_error = str(e)
    try:
        info = host.cpuinfo()
    except base.FactorUnknown as e:
        return Unknown('%s; %s' % (caps_error, e))
    if 'siblings' not in info or 'cpu cores' not in info:
        return Unknown('%s; %s has no usable "siblings"/"cpu cores"'
                       % (caps_error, CPUINFO))
    try:
        siblings = base.bounded_int(info['siblings'],
                                    '%s: "siblings"' % CPUINFO, 1, 2 ** 20)
        cores = base.bounded_int(info['cpu cores'],
                                 '%s: "cpu cores"' % CPUINFO, 1, 2 ** 20)
        if siblings % cores:
            return Unknown('%s: "siblings" %d is not a multiple of "cpu '
                           'cores" %d' % (CPUINFO, siblings, cores))
        return base.bounded_int(
            str(siblings // cores), '%s: "siblings" / "cpu cores"'
            % CPUINFO, kind='threads_per_core')
    except base.FactorUnknown as e:
        return Unknown(str(e))


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
