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

"""The live profile of this machine through a real qemu:///system libvirtd.

Every value is checked against what the test reads itself from /proc and
``virsh``. CI starts libvirtd; the tests skip only when libvirtd is not
installed at all.
"""

import json
import os
import re
import shutil
import subprocess
import tempfile
import xml.etree.ElementTree as ET

import testtools

from tests import cli

URI = 'qemu:///system'


run = cli.run


def virsh(*args):
    return subprocess.run(['virsh', '-c', URI] + list(args), check=True,
                          capture_output=True, text=True,
                          timeout=300).stdout


def cpuinfo():
    fields = {}
    with open('/proc/cpuinfo') as f:
        for line in f:
            if not line.strip():
                break
            key, _, value = line.partition(':')
            fields[key.strip()] = value.strip()
    return fields


class LiveTestCase(testtools.TestCase):

    @classmethod
    def setUpClass(cls):
        super(LiveTestCase, cls).setUpClass()
        if not (shutil.which('libvirtd') or shutil.which('virtqemud')):
            raise testtools.TestCase.skipException(
                'libvirtd is not installed on this machine (CI installs '
                'and starts it: .ci/run)')
        if not shutil.which('virsh'):
            raise testtools.TestCase.skipException(
                'virsh (libvirt-clients) is not installed')

    def setUp(self):
        super(LiveTestCase, self).setUp()
        self.tmp = tempfile.mkdtemp(prefix='migcompat-live-')
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def profile(self, *args):
        rc, out, err = run('profile', '-f', 'json', *args)
        self.assertEqual(0, rc, err)
        self.assertNotIn('Traceback', err)
        return json.loads(out)


class TestLiveProfile(LiveTestCase):

    def test_values_match_proc_and_virsh(self):
        p = self.profile('--connect', URI)
        info = cpuinfo()
        vendor = {'GenuineIntel': 'Intel', 'AuthenticAMD': 'AMD'}.get(
            info['vendor_id'], info['vendor_id'])
        self.assertEqual(vendor, p['cpu_model']['vendor'])
        self.assertEqual(int(info['cpu family']), p['cpu_model']['family'])
        self.assertEqual(int(info['model']), p['cpu_model']['model'])
        self.assertEqual(info['model name'], p['cpu_model']['model_name'])
        if 'microcode' in info:
            self.assertEqual(info['microcode'], p['microcode_version'])
        with open('/proc/sys/kernel/osrelease') as f:
            self.assertEqual(f.read().strip(), p['kernel_version'])
        self.assertEqual('hypervisor' in info['flags'].split(),
                         p['nested_virt']['nested'])

        version = virsh('version')
        self.assertEqual(
            re.search(r'Using library: libvirt (\S+)', version).group(1),
            p['libvirt_version'])
        self.assertEqual(
            re.search(r'Running hypervisor: QEMU (\S+)', version).group(1),
            p['qemu_version'])

        caps = ET.fromstring(virsh('capabilities'))
        cpu = caps.find('host/cpu')
        self.assertEqual(cpu.findtext('arch'), p['arch'])
        self.assertEqual(cpu.findtext('model'),
                         p['cpu_model']['libvirt_model'])
        counter = cpu.find("counter[@name='tsc']")
        if counter is not None:
            self.assertEqual(int(counter.get('frequency')),
                             p['tsc']['frequency'])
        phys = cpu.find('maxphysaddr')
        if phys is not None:
            self.assertEqual(int(phys.get('bits')), p['phys_bits'])

        virt = 'kvm' if os.path.exists('/dev/kvm') else 'qemu'
        dom = ET.fromstring(virsh('domcapabilities', '--virttype', virt))
        mode = dom.find("cpu/mode[@name='host-model']")
        if mode is not None and mode.get('supported') == 'yes':
            hm = p['host_model']
            self.assertEqual(mode.findtext('model'), hm['model'])
            self.assertIs(True, hm['expanded'])
            for f in mode.findall('feature'):
                if f.get('policy') == 'require':
                    self.assertIn(f.get('name'), hm['features'])
                elif f.get('policy') == 'disable':
                    self.assertNotIn(f.get('name'), hm['features'])
            usable = sorted({m.text for m in dom.iterfind(
                "cpu/mode[@name='custom']/model[@usable='yes']")})
            self.assertEqual(usable, p['usable_models'])

    def test_nova_default_mode(self):
        conf = os.path.join(self.tmp, 'nova.conf')
        with open(conf, 'w') as f:
            f.write('[DEFAULT]\nhost = compute1\n[libvirt]\nvirt_type = kvm\n')
        p = self.profile('--nova-config', conf)
        self.assertEqual('host-model', p['cpu_mode'])
        self.assertEqual([], p['cpu_models'])

    def test_snapshot_round_trip(self):
        conf = os.path.join(self.tmp, 'nova.conf')
        with open(conf, 'w') as f:
            f.write('[libvirt]\ncpu_mode = host-passthrough\n'
                    '[database]\nconnection = mysql://n:PW0rd@db\n')
        snap = os.path.join(self.tmp, 'snap')
        rc, out, err = run('snapshot', snap, '--nova-config', conf)
        self.assertEqual(0, rc, err)
        live = self.profile('--nova-config', conf)
        offline = self.profile('--root', snap)
        # Other tests start and stop guests in parallel, so the running
        # guests may differ between the two reads (test_running_guest
        # checks them); everything else must not.
        live.pop('running_guests')
        self.assertIn('count', offline.pop('running_guests'))
        self.assertEqual(live, offline)
        self.assertEqual('host-passthrough', offline['cpu_mode'])
        with open(os.path.join(snap, 'libvirt/domcapabilities.xml')) as f:
            self.assertIn("expanded", f.read())
