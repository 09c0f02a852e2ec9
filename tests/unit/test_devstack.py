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

"""The devstack plugin: valid bash, shellcheck-clean, and the nova.conf it
writes for a scheduler host is the one doc/source/scheduler.rst gives.

devstack itself is not installed here; its ini helpers (iniset, iniadd,
iniget) are stood in for by small functions over a real file, so what is
checked is the plugin's own logic and the file it leaves.
"""

import os
import shutil
import subprocess
import textwrap

import fixtures
import testtools

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))
PLUGIN = os.path.join(ROOT, 'devstack', 'plugin.sh')
SETTINGS = os.path.join(ROOT, 'devstack', 'settings')

# devstack's helpers, as far as the plugin uses them (inc/ini-config):
# iniset replaces an option's value, iniadd appends another line of a
# multi-valued option, iniget prints the first value.
_STUBS = textwrap.dedent(r'''
    function is_service_enabled {
        local s; for s in "$@"; do
            [[ ",$ENABLED_SERVICES," == *",$s,"* ]] && return 0
        done; return 1; }
    function enable_service { ENABLED_SERVICES="$ENABLED_SERVICES,$1"; }
    function trueorfalse { local v=${!2:-$1}
        [[ "$v" =~ ^(1|[Tt]rue|yes)$ ]] && echo True || echo False; }
    function echo_summary { echo "summary: $*"; }
    function setup_develop { echo "setup_develop $1" >> "$CALLS"; }
    function iniget { python3 "$INI" get "$@"; }
    function iniset { python3 "$INI" set "$@"; }
    function iniadd { python3 "$INI" add "$@"; }
''')

_INI = textwrap.dedent('''
    import sys
    verb, path, section, option = sys.argv[1:5]
    value = sys.argv[5] if len(sys.argv) > 5 else None
    try:
        lines = open(path).read().splitlines()
    except FileNotFoundError:
        lines = []
    head = '[%s]' % section
    if head not in lines:
        lines += [head]
    start = lines.index(head) + 1
    end = next((i for i in range(start, len(lines))
                if lines[i].startswith('[')), len(lines))
    mine = [i for i in range(start, end)
            if lines[i].split('=')[0].strip() == option]
    if verb == 'get':
        print(lines[mine[0]].split('=', 1)[1].strip() if mine else '')
        sys.exit(0)
    new = '%s = %s' % (option, value)
    if verb == 'set':
        for i in reversed(mine):
            del lines[i]
        end -= len(mine)
    lines.insert(end, new)
    open(path, 'w').write('\\n'.join(lines) + '\\n')
''')


class DevstackPluginTest(testtools.TestCase):

    def _run(self, services, *phases):
        tmp = self.useFixture(fixtures.TempDir()).path
        ini = os.path.join(tmp, 'ini.py')
        with open(ini, 'w') as f:
            f.write(_INI)
        conf = os.path.join(tmp, 'nova.conf')
        script = '\n'.join(
            [_STUBS, 'DEST=%s; source %s' % (tmp, SETTINGS)] +
            ['source %s %s %s' % (PLUGIN, mode, phase)
             for mode, phase in phases])
        env = dict(os.environ, NOVA_CONF=conf, INI=ini,
                   CALLS=os.path.join(tmp, 'calls'),
                   ENABLED_SERVICES=services, MIGCOMPAT_DIR=ROOT)
        proc = subprocess.run(['bash', '-c', script], env=env,
                              capture_output=True, text=True, timeout=60)
        self.assertEqual(0, proc.returncode, proc.stderr)
        with open(conf) if os.path.exists(conf) else open(os.devnull) as f:
            return f.read(), proc

    def test_bash_syntax(self):
        for path in (PLUGIN, SETTINGS):
            proc = subprocess.run(['bash', '-n', path], capture_output=True,
                                  text=True, timeout=30)
            self.assertEqual(0, proc.returncode, proc.stderr)

    def test_shellcheck_clean(self):
        if shutil.which('shellcheck') is None:
            if os.environ.get('CI'):
                self.fail('shellcheck is not installed (tools/setup-host.sh '
                          'installs it)')
            self.skipTest('shellcheck is not installed')
        proc = subprocess.run(['shellcheck', '-s', 'bash', PLUGIN, SETTINGS],
                              capture_output=True, text=True, timeout=60)
        self.assertEqual(0, proc.returncode, proc.stdout)

    def test_scheduler_host_gets_filter_and_weigher(self):
        text, _ = self._run('n-sch', ('stack', 'post-config'))
        self.assertIn('available_filters = nova.scheduler.filters.'
                      'all_filters\navailable_filters = migcompat_filter.'
                      'scheduler.all_filters', text)
        self.assertIn('enabled_filters = ComputeFilter,ComputeCapabilities'
                      'Filter,ImagePropertiesFilter,ServerGroupAntiAffinity'
                      'Filter,ServerGroupAffinityFilter,'
                      'MigrationCompatibilityFilter', text)
        # ONE weight_classes line, nova's weighers first.
        self.assertEqual(1, text.count('weight_classes'))
        self.assertIn('weight_classes = nova.scheduler.weights.all_weighers,'
                      'migcompat_filter.scheduler.all_weighers', text)

    def test_running_twice_adds_the_filter_once(self):
        tmp_text, _ = self._run('n-sch', ('stack', 'post-config'),
                                ('stack', 'post-config'))
        self.assertEqual(1, tmp_text.count('MigrationCompatibilityFilter'))

    def test_compute_only_host_leaves_the_scheduler_alone(self):
        # The reporter set-up needs systemd; only its absence from a
        # scheduler-less host's nova.conf is checked here.
        text, proc = self._run('n-api', ('stack', 'post-config'))
        self.assertNotIn('migcompat', text)
        self.assertNotIn('summary', proc.stdout)
