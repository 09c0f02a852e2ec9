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

"""Output that fits, on the bundled demo fleet
published in a real placement server (and a fake nova for the commands
that need one, as in test_fleet).

Every command's default table is at most 100 columns when piped; on a
terminal it fits the terminal without words cut in the middle; -f
value/csv never print Python reprs; an empty listing says so.
"""

import glob
import io
import json
import os
import re
import shutil
import tempfile
import uuid

import testtools

from migcompat_filter.cmd import columns as cmd_columns
from migcompat_filter.cmd import shell
from migcompat_filter.placement import client as placement
from migcompat_filter.placement import reporter
from migcompat_filter.profile import Profile
from migcompat_filter.traits import codec as traits
from tests.functional import fleet_base
from tests.functional import placement_server

ROOT = os.path.join(os.path.dirname(__file__), '..', '..')
DEMO = os.path.join(ROOT, 'migcompat_filter', 'demo', 'data', 'hosts')
SNAPSHOT = os.path.join(ROOT, 'tests', 'fixtures', 'hosts',
                        'epyc-milan-nested-l1')
GUEST = os.path.join(ROOT, 'tests', 'fixtures', 'guests',
                     'host-model-guest.live.xml')
#: SNAPSHOT with one running guest (set up by the test class).
WITH_GUEST = os.path.join(tempfile.gettempdir(),
                          'migcompat-width-%s' % uuid.uuid4().hex[:8])


def _h(name):
    # Relative, as a user types it (the suite runs from the tree's root).
    return os.path.relpath(os.path.join(DEMO, name + '.json'))


#: (label, argv, needs nova): every command's default output, on the
#: bundled fleet. (``snapshot create`` prints no table; ``demo`` has its
#: own test (test_demo, the busy-machine case); ``profile publish`` is
#: shown as its table, its default being "+ TRAIT" lines; ``host verify``
#: asks this machine's libvirt.)
COMMANDS = (
    ('profile show', ('profile', 'show', '--root', SNAPSHOT), False),
    ('profile compare', ('profile', 'compare', _h('milan-a'),
                         _h('milan-old')), False),
    ('profile compare tsx', ('profile', 'compare', _h('clx-8268'),
                             _h('clx-8268-tsxoff'), '--mode',
                             'host-passthrough'), False),
    ('profile publish', ('profile', 'publish', '--root', SNAPSHOT,
                         '--dry-run', '-f', 'table'), False),
    ('factor list', ('factor', 'list'), False),
    ('trait list', ('trait', 'list', '--profile', _h('milan-a')), False),
    ('guest list', ('guest', 'list', '--root', WITH_GUEST, '--hosts',
                    _h('milan-old')), False),
    ('trait prune', ('trait', 'prune', '--dry-run', '@placement'), False),
    ('host list', ('host', 'list', '@placement'), False),
    ('host show', ('host', 'show', 'milan-a', '@placement'), False),
    ('fleet matrix', ('fleet', 'matrix', '@placement'), False),
    ('fleet baseline', ('fleet', 'baseline', 'milan-a', 'rome-q82',
                        'genoa-q10', '@placement'), False),
    ('fleet what-if', ('fleet', 'what-if', '--set', 'qemu_version=6.2.0',
                       '--host', 'milan-a', 'milan-b', '@placement'), False),
    ('server check', ('server', 'check', 'web-1', '@placement'), True),
    ('host drain', ('host', 'drain', 'milan-a', '@placement'), True),
    ('fleet islands', ('fleet', 'islands', '@placement'), False),
    ('fleet verify', ('fleet', 'verify', '@placement'), False),
    ('host verify', ('host', 'verify', '--from-placement', '@placement'),
     False),
    # Host names looked up in the command's own --placement-url.
    ('migration explain', ('migration', 'explain', '--error-text',
                           "guest CPU doesn't match specification: missing "
                           "features: hle,rtm", '--source', 'clx-8268',
                           '--destination', 'clx-8268-tsxoff',
                           '@placement'), False),
    ('fleet upgrade-plan', ('fleet', 'upgrade-plan', '--set',
                            'qemu_version=9.0.0', '--aggregate', 'amd',
                            '@placement'), True),
)


class _Terminal(io.StringIO):
    def isatty(self):
        return True


class OutputWidthTest(testtools.TestCase):

    @classmethod
    def setUpClass(cls):
        super(OutputWidthTest, cls).setUpClass()
        shutil.copytree(SNAPSHOT, WITH_GUEST)
        os.makedirs(os.path.join(WITH_GUEST, 'libvirt', 'domains'))
        shutil.copy(GUEST, os.path.join(WITH_GUEST, 'libvirt', 'domains',
                                        'guest.xml'))
        cls.server = placement_server.PlacementServer()
        cls.server.setUp()
        client = placement.PlacementClient(
            placement.adapter_noauth(cls.server.url))
        hyps = []
        for path in sorted(glob.glob(os.path.join(DEMO, '*.json'))):
            name = os.path.basename(path)[:-len('.json')]
            with open(path) as f:
                profile = Profile.from_json(f.read(), origin=path)
            rp = cls.server.create_provider(name)
            client.put_traits(rp['uuid'], {'COMPUTE_NODE'}, 0)
            reporter.sync(client, rp['uuid'], traits.encode(profile))
            hyps.append({'id': rp['uuid'], 'hypervisor_hostname': name,
                         'state': 'up', 'status': 'enabled',
                         'service': {'host': name,
                                     'disabled_reason': None}})
        servers = [{'id': str(uuid.uuid4()), 'name': 'web-1',
                    'status': 'ACTIVE', 'OS-EXT-SRV-ATTR:host': 'milan-a',
                    'OS-EXT-SRV-ATTR:hypervisor_hostname': 'milan-a'}]
        aggregates = [{'id': 1, 'name': 'amd', 'uuid': str(uuid.uuid4()),
                       'hosts': [h['hypervisor_hostname'] for h in hyps
                                 if h['hypervisor_hostname'].startswith(
                                     ('milan', 'rome', 'genoa'))]}]
        cls.nova = fleet_base.FakeNova(hyps, servers, aggregates).start()

    @classmethod
    def tearDownClass(cls):
        cls.nova.stop()
        cls.server.cleanUp()
        shutil.rmtree(WITH_GUEST, ignore_errors=True)
        super(OutputWidthTest, cls).tearDownClass()

    def run_cli(self, argv, nova=False, stdout=None, env=None):
        args = []
        for a in argv:
            if a == '@placement':
                args += ['--placement-url', self.server.url]
                if nova:
                    args += ['--nova-url', self.nova.url]
            else:
                args.append(a)
        app = shell.MigcompatApp()
        app.stdout = stdout if stdout is not None else io.StringIO()
        app.stderr = io.StringIO()
        old = {k: os.environ.get(k) for k in (env or {})}
        os.environ.update(env or {})
        try:
            status = app.run(args)
        except SystemExit as e:  # argparse: a usage error
            status = e.code
        finally:
            for k, v in old.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        return status, app.stdout.getvalue(), app.stderr.getvalue()

    def test_every_piped_default_table_is_at_most_100_columns(self):
        widths = {}
        for label, argv, nova in COMMANDS:
            status, out, err = self.run_cli(argv, nova)
            self.assertIn(status, (0, 1), (label, err))
            self.assertNotIn('Traceback', err)
            widths[label] = max([len(line) for line in out.splitlines()]
                                or [0])
        too_wide = {k: w for k, w in widths.items()
                    if w > cmd_columns.PIPED_WIDTH}
        self.assertEqual({}, too_wide, widths)

    def test_the_wide_grid_stays_behind_an_option(self):
        status, out, err = self.run_cli(
            ('fleet', 'matrix', '--grid', '-f', 'json', '@placement'))
        self.assertEqual(0, status, err)
        self.assertIn('"to milan-a (+1)"', out)
        status, out, err = self.run_cli(
            ('fleet', 'matrix', '-f', 'json', '@placement'))
        self.assertEqual(0, status, err)
        self.assertIn('"refused_by"', out)
        self.assertIn('"milan-old: libvirt_version, qemu_version"', out)

    def test_a_terminal_table_fits_without_cut_words(self):
        argv = ('profile', 'compare', _h('milan-a'), _h('milan-old'))
        status, text, err = self.run_cli(argv, stdout=io.StringIO(),
                                         env={'COLUMNS': '1000'})
        # Words, not paths (a path may be cut after a "/").
        words = {w for w in re.findall(r'[A-Za-z][\w.()/-]{3,}', text)
                 if '/' not in w}
        for columns in (80, 100):
            status, out, err = self.run_cli(
                argv, stdout=_Terminal(), env={'COLUMNS': str(columns)})
            self.assertEqual(1, status, err)
            lines = out.splitlines()
            self.assertLessEqual(max(len(line) for line in lines), columns)
            # Every word of the unwrapped table is whole in this one (no
            # word cut at a line end by a second wrapping).
            for word in words:
                self.assertIn(word, out, (columns, word))
            # A finding's continuation lines hang under its text.
            cells = [line.split('|')[2] for line in lines
                     if line.startswith('|') and line.count('|') == 3]
            for cell in cells:
                if cell.strip() and not cell.startswith(
                        (' BLOCK', ' WARN', ' INFO', ' NOT', ' host-',
                         ' profile', ' Value', ' COMP')):
                    self.assertTrue(cell.startswith('       '), cell)

    def test_every_terminal_table_fits_the_terminal(self):
        # On a TTY the default table is fitted to COLUMNS, whatever the
        # command: nothing wider than the terminal at 80 or 100 columns.
        wide = {}
        for columns in (80, 100):
            for label, argv, nova in COMMANDS:
                status, out, err = self.run_cli(
                    argv, nova, stdout=_Terminal(),
                    env={'COLUMNS': str(columns)})
                self.assertIn(status, (0, 1), (label, err))
                width = max([len(line) for line in out.splitlines()]
                            or [0])
                if width > columns:
                    wide['%s @%d' % (label, columns)] = width
        self.assertEqual({}, wide)

    def test_value_and_csv_print_no_python_repr(self):
        for label, argv, nova in COMMANDS:
            if label == 'profile publish':
                continue  # -f is given already; its rows are plain text
            for fmt in ('value', 'csv'):
                status, out, err = self.run_cli(argv + ('-f', fmt), nova)
                if fmt == 'csv' and status == 2:
                    continue  # a "show" command has no csv
                self.assertIn(status, (0, 1), (label, fmt, err))
                self.assertNotRegex(out, r"[\[{]'|\bNone\b",
                                    (label, fmt))

    def test_an_empty_listing_says_so(self):
        tmp = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, tmp)
        snap = os.path.join(tmp, 'snap')
        shutil.copytree(SNAPSHOT, snap)
        os.makedirs(os.path.join(snap, 'libvirt', 'domains'))
        status, out, err = self.run_cli(('guest', 'list', '--root', snap))
        self.assertEqual(0, status, err)
        self.assertEqual('', out.strip())
        self.assertIn('no running guests', err)

    def test_columns_follow_one_convention(self):
        # osc-placement's: lower-case snake_case names.
        for label, argv, nova in COMMANDS:
            if label == 'profile publish':
                continue
            status, out, err = self.run_cli(argv + ('-f', 'json'), nova)
            self.assertIn(status, (0, 1), (label, err))
            data = json.loads(out)
            names = set(data) if isinstance(data, dict) else set(
                k for row in data for k in row)
            for name in names:
                self.assertRegex(name, r'^[a-z][a-z0-9_:]*$', label)
