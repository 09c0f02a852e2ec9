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

"""Guest domain XML for the tests: the real dumps under
tests/fixtures/guests and a builder for variants of one domain.
"""

import os

GUESTS = os.path.join(os.path.dirname(__file__), '..', 'fixtures', 'guests')
UUID = '3f0a7c1e-2b4d-4e8a-9c61-5d2f8e7a1b90'


def fixture(name):
    with open(os.path.join(GUESTS, name)) as f:
        return f.read()


LIVE = fixture('host-model-guest.live.xml')
MIGRATABLE = fixture('host-model-guest.migratable.xml')

#: A custom guest as libvirt 9.0 shows it running (nova writes no vendor;
#: libvirt adds check='full', fallback='forbid' and QEMU's changes).
CUSTOM_CPU = """<cpu mode='custom' match='exact' check='full'>
    <model fallback='forbid'>Opteron_G3</model>
    <feature policy='disable' name='svm'/>
    <feature policy='require' name='x2apic'/>
    <feature policy='require' name='pcid'/>
    <feature policy='disable' name='monitor'/>
  </cpu>"""


def domain(cpu=CUSTOM_CPU, clock="<clock offset='utc'/>", extra='',
           uuid=UUID, machine='pc-q35-7.2'):
    return """<domain type='kvm' id='3'>
  <name>instance-00000001</name>
  <uuid>%s</uuid>
  <memory unit='KiB'>65536</memory>
  <os><type arch='x86_64' machine='%s'>hvm</type></os>
  %s
  %s
  %s
  <devices><emulator>/usr/bin/qemu-system-x86_64</emulator></devices>
</domain>""" % (uuid, machine, cpu, clock, extra)


def passthrough(migratable=None):
    attr = '' if migratable is None else " migratable='%s'" % migratable
    return domain(cpu="<cpu mode='host-passthrough' check='none'%s/>" % attr)


def invtsc(clock):
    return domain(cpu="""<cpu mode='custom' match='exact' check='full'>
      <model fallback='forbid'>EPYC</model>
      <feature policy='require' name='invtsc'/></cpu>""", clock=clock)
