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

"""``migcompat demo`` end to end, as a newcomer runs it.

Each test runs the installed command in a subprocess: an in-process
Placement on sqlite, the bundled fleet plus this machine, the reporter, and
nova's HostManager with our filter and weigher. The assertions are what
the user reads: which host was chosen, which were refused and for which
factor, and that an unreadable machine is shown as unknown, not a crash.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

from defusedxml import ElementTree

import fixtures
import testtools

from migcompat_filter.demo import hosts as demo_hosts

TIMEOUT = 300


def run_demo(*args, **env_extra):
    """(exit status, stdout, stderr) of ``migcompat demo ARGS``."""
    env = dict(os.environ, PYTHONWARNINGS='ignore', **env_extra)
    proc = subprocess.run(
        [sys.executable, '-m', 'migcompat_filter.cmd.shell', 'demo'] +
        list(args),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
        timeout=TIMEOUT, universal_newlines=True)
    return proc.returncode, proc.stdout, proc.stderr


class DemoJsonTest(testtools.TestCase):
    """One full run (every mode, every host, this machine included)."""

    @classmethod
    def setUpClass(cls):
        super(DemoJsonTest, cls).setUpClass()
        cls.pictures = tempfile.mkdtemp(prefix='migcompat-demo-')
        cls.status, out, cls.err = run_demo('-f', 'json',
                                            '--pictures', cls.pictures)
        cls.rows = json.loads(out) if cls.status == 0 else []

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.pictures, ignore_errors=True)
        super(DemoJsonTest, cls).tearDownClass()

    def setUp(self):
        super(DemoJsonTest, self).setUp()
        self.assertEqual(0, self.status, self.err)

    def row(self, mode, source):
        found = [r for r in self.rows
                 if r['mode'].split(' ')[0] == mode and
                 r['source'] == source]
        self.assertEqual(1, len(found), (mode, source))
        return found[0]

    def refused(self, row):
        return {r['host']: r for r in row['refused']}

    def accepted(self, row):
        return [a['host'] for a in row['accepted']]

    def test_every_host_in_every_mode_is_a_source(self):
        fleet = [h.name for h in demo_hosts.load_fleet()]
        sources = {r['source'] for r in self.rows}
        self.assertTrue(set(fleet) <= sources, sources)
        live = sources - set(fleet)
        self.assertEqual(1, len(live), sources)  # this machine
        self.assertEqual(len(sources) * 3, len(self.rows))
        self.assertEqual({'host-model', 'host-passthrough', 'custom'},
                         {r['mode'].split(' ')[0] for r in self.rows})

    def test_each_candidate_is_accepted_or_refused_once(self):
        sources = {r['source'] for r in self.rows}
        for row in self.rows:
            accepted = self.accepted(row)
            refused = list(self.refused(row))
            self.assertEqual(sorted(sources - {row['source']}),
                             sorted(accepted + refused), row['source'])
            if accepted:
                self.assertEqual(accepted[0], row['chosen'])
            else:
                self.assertEqual('(no valid host)', row['chosen'])
            for r in row['refused']:
                # A refused host always comes with the factor and words.
                self.assertTrue(r['factors'], r)
                self.assertTrue(all(x['message'] for x in r['reasons']), r)

    def test_identical_twin_chosen_for_host_passthrough_only(self):
        # Similarity decides for host-passthrough guests; for host-model
        # guests it is only a tie-break, so nova's weighers (RAM spread)
        # choose among the accepted hosts, twin or not.
        row = self.row('host-passthrough', 'milan-a')
        self.assertEqual('milan-b', row['chosen'])
        row = self.row('host-model', 'milan-a')
        sims = {a['host']: a['similarity'] for a in row['accepted']}
        self.assertGreater(sims['milan-b'], sims['milan-c'])
        self.assertIn(row['chosen'], sims)
        self.assertGreater(sims['milan-b'], sims[row['chosen']])

    def test_older_qemu_refused_with_its_factor(self):
        row = self.row('host-model', 'milan-a')
        old = self.refused(row)['milan-old']
        self.assertIn('qemu_version', old['factors'])
        self.assertIn('libvirt_version', old['factors'])
        text = ' '.join(x['message'] for x in old['reasons'])
        self.assertIn('6.2.0', text)
        # The other way round the older host's guest may move up.
        self.assertIn('milan-a', self.accepted(
            self.row('host-model', 'milan-old')))

    def test_other_vendor_refused(self):
        row = self.row('host-model', 'milan-a')
        for intel in ('clx-8268', 'clx-4214r'):
            self.assertIn('cpu_model', self.refused(row)[intel]['factors'])

    def test_tsx_off_host_refused_for_passthrough_with_hint(self):
        row = self.row('host-passthrough', 'clx-8268')
        tsxoff = self.refused(row)['clx-8268-tsxoff']
        self.assertIn('cpu_features', tsxoff['factors'])
        reason = [x for x in tsxoff['reasons']
                  if x['factor'] == 'cpu_features'][0]
        self.assertIn('hle', reason['message'])
        self.assertIn('rtm', reason['message'])
        self.assertIn('tsx=off', reason['hint'])

    def test_tsx_off_host_refused_in_host_model_with_hint(self):
        # The README's headline case, in nova's default mode: the bundled
        # profiles carry a host-model CPU, so TSX going away blocks.
        row = self.row('host-model', 'clx-8268')
        tsxoff = self.refused(row)['clx-8268-tsxoff']
        self.assertEqual(['host_model'], tsxoff['factors'])
        reason = tsxoff['reasons'][0]
        self.assertIn('hle, rtm', reason['message'])
        self.assertIn('tsx=off', reason['hint'])
        # The other way round TSX appears, which is fine.
        self.assertIn('clx-8268', self.accepted(
            self.row('host-model', 'clx-8268-tsxoff')))

    def test_cpu_only_snapshots_are_refused_for_their_cpu(self):
        # clx-8268 and clx-4214r come from CPU-only snapshots; their
        # software factors were filled from one distribution stack, so
        # the refusal names the CPU difference, never a version unknown.
        for mode in ('host-model', 'host-passthrough'):
            row = self.row(mode, 'clx-8268')
            other = self.refused(row)['clx-4214r']
            for factor in ('qemu_version', 'libvirt_version',
                           'kernel_version', 'machine_types'):
                self.assertNotIn(factor, other['factors'], mode)
            self.assertTrue(set(other['factors']) &
                            {'host_model', 'cpu_features'}, other)
        self.assertIn('from a distribution stack', self.err)

    def picture(self, name):
        path = os.path.join(self.pictures, name)
        self.assertIn('wrote %s' % path, self.err)
        with open(path, 'rb') as f:
            return ElementTree.parse(f).getroot()

    def test_pictures_show_what_the_table_says(self):
        ns = '{http://www.w3.org/2000/svg}'
        heat = self.picture('demo-heatmap-host-model.svg')
        names = {t.get('data-group'): t.text for t in heat.iter(ns + 'text')
                 if t.get('class') == 'row'}
        by_name = {v.split(' (+')[0]: k for k, v in names.items()}
        self.assertEqual('milan-a (+1)', names[by_name['milan-a']])
        cells = {(r.get('data-source'), r.get('data-destination')): r
                 for r in heat.iter(ns + 'rect') if r.get('class') == 'cell'}
        src, dst = by_name['clx-8268'], by_name['clx-8268-tsxoff']
        self.assertEqual('refused', cells[(src, dst)].get('data-status'))
        self.assertEqual('host_model',
                         cells[(src, dst)].get('data-blocking'))
        self.assertEqual('n/a', cells[(src, src)].get('data-shown'))
        graph = self.picture('demo-graph-host-model.svg')
        edges = {(p.get('data-source'), p.get('data-destination')):
                 p.get('class').split() for p in graph.iter(ns + 'path')
                 if 'edge' in (p.get('class') or '').split()}
        # tsx=off -> TSX on is fine, not back: one way.
        self.assertNotIn((src, dst), edges)
        self.assertIn('one-way', edges[(dst, src)])
        # Every mode was drawn.
        for mode in ('host-passthrough', 'custom'):
            self.picture('demo-graph-%s.svg' % mode)

    def test_passthrough_prefers_identical_over_updated_host(self):
        row = self.row('host-passthrough', 'milan-a')
        accepted = self.accepted(row)
        self.assertEqual('milan-b', row['chosen'])
        # The microcode/kernel update only warns, so milan-c is accepted,
        # but ranked below the identical host.
        self.assertIn('milan-c', accepted)
        self.assertLess(accepted.index('milan-b'), accepted.index('milan-c'))

    def test_custom_model_not_usable_is_refused(self):
        row = self.row('custom', 'clx-8268')
        self.assertIn('Skylake-Server-noTSX-IBRS', row['mode'])
        self.assertIn('usable_models',
                      self.refused(row)['rome-q82']['factors'])
        row = self.row('custom', 'rome-q82')
        self.assertIn('rome-q90', self.accepted(row))
        self.assertIn(row['chosen'], self.accepted(row))

    def test_custom_twins_accept_each_other_with_a_model_they_run(self):
        # The nested L1 Milan hosts cannot run EPYC (libvirt lists 486 to
        # pentium3 as usable): their custom guests use pentium3, so the
        # identical twins accept each other, and stderr says why.
        row = self.row('custom', 'milan-a')
        self.assertEqual('custom (pentium3)', row['mode'])
        self.assertIn('milan-b', self.accepted(row))
        self.assertEqual('custom (EPYC)', self.row('custom', 'rome-q82')[
            'mode'])
        self.assertIn('custom mode: EPYC is not usable here (libvirt '
                      'lists: 486, pentium, pentium2, pentium3', self.err)

    def test_the_numbers_the_docs_quote_are_the_ones_printed(self):
        # demo.rst includes pictures.excerpt (written at docs build
        # time): its similarities and refusals must be what the demo
        # prints for the same guest.
        from migcompat_filter.demo import pictures
        fleet = {h.name for h in demo_hosts.load_fleet()}
        for mode in ('host-model', 'host-passthrough'):
            lines = pictures.excerpt('milan-a', mode)
            row = self.row(mode, 'milan-a')
            printed = ', '.join('%s %.2f' % (a['host'], a['similarity'])
                                for a in sorted(
                                    row['accepted'],
                                    key=lambda a: (-a['similarity'],
                                                   a['host']))
                                if a['host'] in fleet)
            self.assertEqual('  accepted (similarity): %s' % printed,
                             lines[1], mode)
            refused = {r['host']: sorted(r['factors'])
                       for r in row['refused'] if r['host'] in fleet}
            quoted = {name: sorted(factors.split(', '))
                      for name, factors in re.findall(
                          r'([\w-]+) \(([^)]*)\)', lines[2])}
            self.assertEqual(refused, quoted, mode)

    def test_progress_names_the_pieces(self):
        self.assertIn('placement: in process', self.err)
        # Where the fleet comes from, without this machine's paths, and
        # which host-model CPUs are approximations.
        self.assertIn('bundled with migcompat (migcompat_filter/demo/data)',
                      self.err)
        self.assertNotIn(demo_hosts.DATA, self.err)
        approximated = [line for line in self.err.splitlines()
                        if 'host-model CPU: approximated' in line]
        self.assertEqual(3, len(approximated))  # the three Intel hosts
        self.assertIn('MigrationCompatibilityFilter', self.err)
        self.assertIn('MigrationSimilarityWeigher', self.err)
        self.assertIn('reporter: cpu_mode = host-passthrough', self.err)
        # The reporter rewrote the traits three times and left nova's.
        n = len({r['source'] for r in self.rows})
        self.assertIn("nova's own COMPUTE_NODE kept on %d of %d providers"
                      % (n, n), self.err)


class DemoTableTest(testtools.TestCase):

    def test_busy_machine_at_nova_minimum_service_down_time(self):
        # nova raises a service_down_time below 2.5 report intervals to
        # 25 s, its minimum: publishing and scheduling the whole fleet on
        # a loaded machine takes longer, and the services must still be
        # up (the demo's heartbeat), every candidate judged by our filter.
        # The headline findings come last on stdout, with the tsx hint.
        tmp = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, tmp)
        conf = os.path.join(tmp, 'nova.conf')
        with open(conf, 'w') as f:
            f.write('[DEFAULT]\nservice_down_time = 1\n')
        proc = subprocess.run(
            [sys.executable, '-m', 'migcompat_filter.cmd.shell',
             '--config-file', conf, 'demo', '--no-live', '--source',
             'clx-8268', '--source', 'milan-a'],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env=dict(os.environ, PYTHONWARNINGS='ignore'),
            timeout=TIMEOUT, universal_newlines=True)
        self.assertEqual(0, proc.returncode, proc.stderr)
        self.assertIn('Setting service_down_time to: 25', proc.stderr)
        self.assertNotIn('refused before', proc.stdout)
        self.assertIn('milan-b', proc.stdout)
        tail = proc.stdout.rstrip().split('What this run shows:')
        self.assertEqual(2, len(tail), proc.stdout[-2000:])
        self.assertNotIn('+---', tail[1])  # last: after the table
        self.assertIn('tsx=off', tail[1])
        self.assertIn('1. clx-8268 -> clx-8268-tsxoff is refused', tail[1])
        self.assertIn('qemu_version', tail[1])
        self.assertIn('guests with a live-migration target:', tail[1])
        # nova's final weight beside our similarity (under the host
        # name in a narrow column).
        self.assertRegex(proc.stdout,
                         r'milan-b( | +\|[^\n]*\n[ |]*)'
                         r'\(-?\d+\.\d\d, \d\.\d\d\)')
        # Piped, the table and the findings fit 100 columns.
        widths = [len(line) for line in proc.stdout.splitlines()]
        self.assertLessEqual(max(widths), 100)
        self.assertIn("accepted: host (nova's final weight", proc.stdout)

    def test_table_shows_choice_and_reasons(self):
        status, out, err = run_demo('--no-live', '--mode', 'host-model',
                                    '--source', 'milan-a', '--long',
                                    '--max-width', '200')
        self.assertEqual(0, status, err)
        self.assertIn('| host-model', out)
        self.assertIn('milan-b', out)
        self.assertIn('milan-old: libvirt_version, qemu_version', out)
        self.assertIn('QEMU on the destination (6.2.0) is older', out)
        self.assertNotIn('(live)', out)

    def test_unreachable_libvirt_shows_unknown_and_carries_on(self):
        status, out, err = run_demo(
            '--connect', 'qemu+unix:///system?socket=/nonexistent/sock',
            '--mode', 'host-model', '-f', 'json')
        self.assertEqual(0, status, err)
        self.assertIn('unknown qemu_version', err)
        rows = json.loads(out)
        live = [r for r in rows if r['source'].endswith('(live)')]
        self.assertEqual(1, len(live))
        # Bundled hosts are still judged normally.
        milan = [r for r in rows if r['source'] == 'milan-a'][0]
        self.assertIn('milan-b', [a['host'] for a in milan['accepted']])
        self.assertIn('milan-old', [r['host'] for r in milan['refused']])

    def test_unusable_pictures_directory_fails_before_the_run(self):
        tmp = self.useFixture(fixtures.TempDir()).path
        blocker = os.path.join(tmp, 'a-file')
        with open(blocker, 'w') as f:
            f.write('x')
        status, out, err = run_demo('--no-live', '--pictures',
                                    os.path.join(blocker, 'pics'))
        self.assertEqual(2, status, err)
        self.assertIn('--pictures %s' % os.path.join(blocker, 'pics'), err)
        self.assertIn('cannot be created', err)
        self.assertNotIn('Traceback', err)
        self.assertNotIn('placement: in process', err)

    def test_unknown_source_is_an_input_error(self):
        status, out, err = run_demo('--no-live', '--source', 'nosuchhost')
        self.assertEqual(2, status)
        self.assertIn('nosuchhost', err)
        self.assertNotIn('Traceback', err)

    def test_without_nova_says_what_to_install(self):
        # A machine without nova: a package named nova that cannot be
        # imported shadows the real one.
        tmp = self.useFixture(fixtures.TempDir()).path
        os.mkdir(os.path.join(tmp, 'nova'))
        with open(os.path.join(tmp, 'nova', '__init__.py'), 'w') as f:
            f.write('raise ImportError("No module named nova")\n')
        status, out, err = run_demo('--no-live', PYTHONPATH=tmp)
        self.assertEqual(1, status, err)
        self.assertIn('not installed here', err)
        self.assertIn('tox -e demo', err)
        self.assertNotIn('Traceback', err)
        self.assertEqual('', out)
