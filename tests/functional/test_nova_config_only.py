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

"""tests/functional/nova_config_only.py in a fresh process, where nova's
harness loads the plugin only from nova.conf.
"""

import os
import subprocess
import sys

import testtools

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))


def run_child(test_id, timeout=600):
    """(exit status, output) of ``python -m testtools.run test_id``."""
    env = dict(os.environ)
    env.setdefault('OS_TEST_TIMEOUT', '400')
    proc = subprocess.run(
        [sys.executable, '-m', 'testtools.run', test_id], cwd=ROOT, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)
    return proc.returncode, proc.stdout.decode('utf-8', 'replace')


class ConfigOnlyTest(testtools.TestCase):

    def test_enabled_by_nova_conf_only(self):
        status, out = run_child(
            'tests.functional.nova_config_only.ConfigOnlyLiveMigrationTest'
            '.test_live_migration_lands_on_the_compatible_host')
        self.assertEqual(0, status, out[-6000:])
        self.assertIn('OK', out)
