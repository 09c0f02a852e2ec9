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

"""``migcompat compare --guest`` on the live XML of a real running guest.

A tiny diskless KVM guest is started on qemu:///system
(tests/functional/guests.py; arch-capabilities disabled there because QEMU
aborts a plain host-model guest on this nested host), its live XML is
written as ``virsh dumpxml`` prints it, and the real ``migcompat`` CLI
judges it against this host's own live profile. Skipped only where no KVM
guest can run.
"""

import json
import os
import subprocess

import fixtures
import testtools

from tests import cli
from tests.functional import guests

URI = 'qemu:///system'


class TestCompareRealGuest(testtools.TestCase):

    def setUp(self):
        super(TestCompareRealGuest, self).setUp()
        self.conn = guests.open_or_skip(self)
        self.tmp = self.useFixture(fixtures.TempDir()).path
        proc = self.migcompat('profile', '--connect', URI, '-f', 'json')
        self.assertEqual(0, proc.returncode, proc.stderr)
        self.host = self.write('host.json', proc.stdout)

    def migcompat(self, *args):
        proc = subprocess.run(cli.command() + list(args), capture_output=True,
                              text=True, timeout=300, cwd=self.tmp)
        self.assertNotIn('Traceback', proc.stderr)
        return proc

    def write(self, name, text):
        path = os.path.join(self.tmp, name)
        with open(path, 'w') as f:
            f.write(text)
        return path

    def compare(self, guest_xml, dst=None):
        proc = self.migcompat('compare', self.host, dst or self.host,
                              '--guest', guest_xml, '-f', 'json')
        return proc, json.loads(proc.stdout) if proc.stdout else None

    def test_running_host_model_guest_to_its_own_host(self):
        guest = self.useFixture(guests.RunningGuest(self.conn))
        path = self.write('guest.xml', guest.live_xml())
        proc, out = self.compare(path)
        self.assertEqual(0, proc.returncode, proc.stdout + proc.stderr)
        self.assertEqual('host-model', out['mode'])
        # libvirt expanded q35 to the versioned type QEMU 7.2 runs.
        self.assertEqual(1, len(out['guest']['machine_types']))
        self.assertRegex(out['guest']['machine_types'][0], r'^pc-q35-\d')
        # The guest never has the non-migratable invtsc.
        self.assertNotIn('invtsc', out['guest']['required'])

    def test_running_guest_to_a_host_without_its_machine_type(self):
        guest = self.useFixture(guests.RunningGuest(self.conn))
        path = self.write('guest.xml', guest.live_xml())
        with open(self.host) as f:
            data = json.load(f)
        machine = self.compare(path)[1]['guest']['machine_types'][0]
        data['machine_types'] = [m for m in data['machine_types']
                                 if m != machine]
        dst = self.write('older.json', json.dumps(data))
        proc, out = self.compare(path, dst)
        self.assertEqual(1, proc.returncode, proc.stdout + proc.stderr)
        self.assertEqual('machine_types', out['findings'][0]['factor'])
        self.assertIn(machine, out['findings'][0]['message'])
