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

"""Run the real ``migcompat`` console script, as a user would."""

import json
import os
import subprocess
import sys

import fixtures
import testtools


def command():
    """The console script next to this interpreter (the venv's).

    Falls back to running the shell module with this interpreter, which
    is the same code when the script is not installed (a source tree).
    """
    script = os.path.join(os.path.dirname(sys.executable), 'migcompat')
    if os.path.exists(script):
        return [script]
    return [sys.executable, '-m', 'migcompat_filter.cmd.shell']


def run(*args, env=None, cwd=None, timeout=300):
    """(exit status, stdout, stderr) of ``migcompat ARGS``."""
    proc = subprocess.run(command() + list(args), capture_output=True,
                          text=True, timeout=timeout, cwd=cwd,
                          env=dict(os.environ, **(env or {})))
    return proc.returncode, proc.stdout, proc.stderr


class CLITestBase(testtools.TestCase):
    """Running ``migcompat compare`` and reading what it says."""

    def setUp(self):
        super(CLITestBase, self).setUp()
        self.tmp = self.useFixture(fixtures.TempDir()).path

    def write(self, name, text):
        path = os.path.join(self.tmp, name)
        with open(path, 'w') as f:
            f.write(text)
        return path

    def profile_file(self, name, profile):
        return self.write(name + '.json', profile.to_json())

    def run_cli(self, *args):
        env = dict(os.environ, COLUMNS='120')
        proc = subprocess.run(command() + ['compare'] + list(args),
                              capture_output=True, text=True, env=env,
                              cwd=self.tmp, timeout=300)
        self.assertNotIn('Traceback', proc.stderr)
        self.assertNotIn('Traceback', proc.stdout)
        return proc

    def compare_json(self, *args):
        proc = self.run_cli(*(args + ('-f', 'json')))
        return proc, (json.loads(proc.stdout) if proc.stdout else None)

    def assert_bad_input(self, proc, *words):
        self.assertEqual(2, proc.returncode, proc.stdout + proc.stderr)
        self.assertEqual('', proc.stdout)
        for word in words:
            self.assertIn(word, proc.stderr)
