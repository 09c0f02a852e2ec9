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

"""Diagnostics that name the failing component:
keystone, placement, libvirt or nova.conf, with consistent exit statuses.
"""

import os
import shutil
import socket
import tempfile

import testtools

from tests import cli


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


class DiagnosticsTest(testtools.TestCase):

    def setUp(self):
        super(DiagnosticsTest, self).setUp()
        self.tmp = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.tmp)
        # No cloud from the environment of whoever runs the tests.
        self.env = {k: '' for k in os.environ
                    if k.startswith(('OS_', 'MIGCOMPAT_'))}
        self.env['HOME'] = self.tmp

    def run_cli(self, *args):
        return cli.run(*args, env=self.env, cwd=self.tmp)

    def test_a_missing_config_file_is_refused_by_every_command(self):
        missing = os.path.join(self.tmp, 'nonexistent.conf')
        for command in (('factor', 'list'), ('host', 'list')):
            rc, out, err = self.run_cli('--config-file', missing, *command)
            self.assertEqual(2, rc, (command, err))
            self.assertIn('--config-file %s: no such file' % missing, err)

    def test_keystone_down_is_named_keystone(self):
        conf = os.path.join(self.tmp, 'nova.conf')
        with open(conf, 'w') as f:
            f.write('[placement]\nauth_type = password\n'
                    'auth_url = http://127.0.0.1:%d/v3\nusername = nova\n'
                    'password = x\nproject_name = service\n'
                    'user_domain_name = Default\n'
                    'project_domain_name = Default\n' % _free_port())
        rc, out, err = self.run_cli('--config-file', conf, 'host', 'list')
        self.assertEqual(1, rc, err)
        self.assertIn('cannot connect to keystone', err)
        self.assertNotIn('cannot connect to placement', err)

    def test_no_nova_conf_says_no_cloud_is_configured(self):
        if os.path.exists('/etc/nova/nova.conf'):
            self.skipTest('this machine has a nova.conf')
        rc, out, err = self.run_cli('host', 'list')
        self.assertEqual(2, rc, err)
        self.assertIn('no cloud configured', err)
        self.assertNotIn('auth_type is not set', err)

    def test_libvirt_down_fails_profile_show(self):
        uri = 'qemu+tcp://127.0.0.1:%d/system' % _free_port()
        rc, out, err = self.run_cli('profile', 'show', '--connect', uri)
        self.assertEqual(1, rc, err)
        self.assertIn('cannot connect to libvirt at %s' % uri, err)
        self.assertNotIn('Traceback', err)
