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

"""Fleet commands against a real placement server process.

The fleet is built from real host profiles (tests/fixtures/hosts/*): each
snapshot is read with the reader, encoded with the codec and published by
the reporter on its own resource provider of a real placement server
(gunicorn on loopback, sqlite, noauth2).

A nova API cannot run here, so a small fake nova (a WSGI app on loopback
serving the four read-only calls the fleet makes: hypervisors, servers,
aggregates) stands in for it where nova is unavoidable: ``check SERVER``,
host-name lookups by service host and nova aggregates. Everything else
is tested without it, from Placement alone.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import uuid

from defusedxml import ElementTree

import migcompat_filter
from migcompat_filter.placement import reporter
from migcompat_filter import rules
from migcompat_filter.traits import codec as traits
from tests.functional import fleet_base
from tests.functional.fleet_base import FakeNova
from tests.functional.fleet_base import FLEET
from tests.functional.fleet_base import SVG_NS
from tests.functional.fleet_base import UNTRAITED
from tests.functional import placement_server


class TestHostCommands(fleet_base.FleetTestBase):

    def test_host_list_shows_every_compute_node(self):
        rows = {r['name']: r
                for r in self.cli_json('host', 'list', '--long')}
        self.assertEqual(set(FLEET) | {UNTRAITED}, set(rows))
        milan = self.profiles['milan-1']
        self.assertEqual(milan['microcode_version'],
                         rows['milan-1']['microcode'])
        self.assertEqual(milan['kernel_version'], rows['milan-1']['kernel'])
        self.assertEqual(milan['qemu_version'], rows['milan-1']['qemu'])
        self.assertEqual(milan['libvirt_version'],
                         rows['milan-1']['libvirt'])
        self.assertEqual(milan['cpu_mode'], rows['milan-1']['mode'])
        self.assertTrue(rows['milan-1']['nested'].startswith('yes'))
        self.assertIn(milan['cpu_model']['model_name'],
                      rows['milan-1']['cpu'])
        self.assertEqual('reported', rows['milan-1']['profile'])
        # A factor the host could not read says so, not a blank.
        self.assertEqual('unknown', rows['gold-6148']['microcode'])
        self.assertEqual('no migcompat traits',
                         rows[UNTRAITED]['profile'])
        self.assertIsNone(rows[UNTRAITED]['cpu'])
        # When the traits last changed: at or before the newest change
        # of its profile group, from the group's listing.
        self.assertRegex(rows['milan-1']['changed'],
                         r'^by 20\d\d-\d\d-\d\dT\d\d:\d\d:\d\dZ$')
        # Nothing of ours to have changed.
        self.assertIsNone(rows[UNTRAITED]['changed'])

    def test_host_list_table_and_csv(self):
        status, out, err = self.run_cli('host', 'list', '--placement-url',
                                        self.placement.url, '-f', 'csv')
        self.assertEqual(0, status, err)
        self.assertEqual(len(FLEET) + 2, len(out.strip().splitlines()))
        status, out, err = self.run_cli('host', 'list', '--placement-url',
                                        self.placement.url)
        self.assertEqual(0, status, err)
        self.assertIn('no migcompat traits', out)

    def test_host_list_progress_on_request(self):
        status, out, err = self.run_cli('host', 'list', '--placement-url',
                                        self.placement.url, '--progress',
                                        '-f', 'value')
        self.assertEqual(0, status, err)
        self.assertIn('reading profile groups:', err)
        self.assertIn('100%', err)
        status, out, err = self.run_cli('host', 'list', '--placement-url',
                                        self.placement.url, '-f', 'value')
        self.assertNotIn('reading', err)  # not a terminal

    def test_host_show_decodes_factors_and_keeps_raw_traits(self):
        data = self.cli_json('host', 'show', 'rome-90')
        self.assertEqual(self.uuids['rome-90'], data['uuid'])
        expected = self.profiles['rome-90']
        self.assertEqual(expected['host_model'],
                         data['factor:host_model'])
        self.assertEqual(expected['qemu_version'],
                         data['factor:qemu_version'])
        self.assertEqual(traits.encode(expected), data['migcompat_traits'])
        self.assertEqual(['COMPUTE_NODE', 'CUSTOM_GOLD'],
                         data['other_traits'])
        # Unknown factors keep their reason.
        self.assertTrue(data['factor:kernel_version']['unknown'])

    def test_host_show_by_uuid_and_unknown_host(self):
        data = self.cli_json('host', 'show', self.uuids['genoa'])
        self.assertEqual('genoa', data['name'])
        status, out, err = self.run_cli('host', 'show', 'no-such-host',
                                        '--placement-url',
                                        self.placement.url)
        self.assertEqual(2, status)
        self.assertIn("no compute node named 'no-such-host'", err)
        self.assertNotIn('Traceback', err)

    def test_unreachable_nova_falls_back_to_placement_names(self):
        port = placement_server.free_port()
        status, out, err = self.run_cli(
            'host', 'list', '-f', 'json', '--placement-url',
            self.placement.url, '--nova-url', 'http://127.0.0.1:%d' % port)
        self.assertEqual(0, status, err)
        self.assertEqual(set(FLEET) | {UNTRAITED},
                         {r['name'] for r in json.loads(out)})
        self.assertIn('nova\'s API is not usable', err)

    def test_unreachable_placement_is_a_clear_error(self):
        port = placement_server.free_port()
        status, out, err = self.run_cli(
            'host', 'list', '--placement-url', 'http://127.0.0.1:%d' % port)
        self.assertEqual(1, status)
        self.assertIn('cannot connect to placement', err)
        self.assertNotIn('Traceback', err)


class TestMatrix(fleet_base.FleetTestBase):

    def expected(self, src, dst, mode=None):
        return rules.evaluate(self.profiles[src], self.profiles[dst],
                              mode=mode)

    def test_pairs_match_the_rules_engine_for_every_host_pair(self):
        for mode in (None, 'host-passthrough'):
            argv = ('matrix', '--pairs') + (('--mode', mode) if mode else ())
            pairs = self.cli_json(*argv)
            by_host = {}
            for row in pairs:
                for s in row['source_hosts']:
                    for d in row['destination_hosts']:
                        by_host[(s, d)] = row
            traited = sorted(FLEET)
            self.assertEqual(len(traited) ** 2, len(by_host))
            for s in traited:
                for d in traited:
                    verdict = self.expected(s, d, mode)
                    row = by_host[(s, d)]
                    self.assertEqual(verdict.compatible, row['compatible'],
                                     (s, d, mode))
                    self.assertEqual(verdict.factors('block'),
                                     row['blocking'], (s, d, mode))

    def test_identical_hosts_collapse_into_one_group(self):
        rows = self.cli_json('fleet', 'matrix', '--grid')
        groups = {r['group']: r['hosts'] for r in rows}
        self.assertIn(['milan-1', 'milan-2'], groups.values())
        self.assertEqual(len(FLEET) - 1, len(groups))
        self.assertNotIn(UNTRAITED, sum(groups.values(), []))
        # A refused pair names its blocking factor in the grid.
        cells = [v for r in rows for k, v in r.items()
                 if k.startswith('to ')]
        self.assertTrue(any(c.startswith('NO: ') for c in cells))
        self.assertTrue(any(c.startswith('yes') for c in cells))
        # Columns are named by their hosts, not G1..Gn; a one-host group
        # against itself is n/a, the two-host group against itself not.
        self.assertIn('to milan-1 (+1)', rows[0])
        for r in rows:
            own = 'to %s%s' % (r['hosts'][0], ' (+%d)' % (len(r['hosts']) - 1)
                               if len(r['hosts']) > 1 else '')
            self.assertEqual(len(r['hosts']) == 1,
                             r[own].startswith('n/a'), r)

    def test_placement_aggregate_without_nova(self):
        agg = str(uuid.uuid4())
        for name in ('rome-82', 'rome-90'):
            rp = self.uuids[name]
            gen = self.placement.request(
                'GET', '/resource_providers/%s' % rp).json()[
                    'generation']
            resp = self.placement.request(
                'PUT', '/resource_providers/%s/aggregates' % rp,
                json={'aggregates': [agg],
                      'resource_provider_generation': gen})
            self.assertEqual(200, resp.status_code, resp.text)
        rows = self.cli_json('matrix', '--aggregate', agg)
        self.assertEqual({'rome-82', 'rome-90'},
                         set(sum((r['hosts'] for r in rows), [])))
        status, out, err = self.run_cli(
            'matrix', '--aggregate', 'by-name', '--placement-url',
            self.placement.url)
        self.assertEqual(2, status)
        self.assertIn('only a Placement aggregate UUID', err)

    def test_left_out_hosts_are_named(self):
        status, out, err = self.run_cli('matrix', '--placement-url',
                                        self.placement.url)
        self.assertEqual(0, status, err)
        self.assertIn('not in the matrix: %s: no migcompat traits'
                      % UNTRAITED, err)

    def test_svg_is_valid_and_its_cells_match_the_table(self):
        path = os.path.join(self.useFixture(
            __import__('fixtures').TempDir()).path, 'm.svg')
        status, out, err = self.run_cli(
            'matrix', '--pairs', '--output', path, '-f', 'json',
            '--placement-url', self.placement.url)
        self.assertEqual(0, status, err)
        pairs = json.loads(out)
        with open(path, 'rb') as f:
            root = ElementTree.parse(f).getroot()
        self.assertEqual(SVG_NS + 'svg', root.tag)
        cells = {(r.get('data-source'), r.get('data-destination')): r
                 for r in root.iter(SVG_NS + 'rect')
                 if r.get('class') == 'cell'}
        self.assertEqual(len(pairs), len(cells))
        for row in pairs:
            rect = cells[(row['source'], row['destination'])]
            self.assertEqual(row['status'], rect.get('data-status'))
            self.assertEqual(','.join(row['blocking']),
                             rect.get('data-blocking'))
        legend = {t.get('data-group'): t.text
                  for t in root.iter(SVG_NS + 'text')
                  if t.get('class') in ('group', 'row')}
        for row in pairs:
            # A group's hosts in the legend; a one-host group's on its
            # axis.
            self.assertIn(', '.join(row['source_hosts']),
                          legend[row['source']])

    def test_png_without_cairosvg_is_a_clear_error(self):
        try:
            import cairosvg  # noqa
            self.skipTest('cairosvg is installed')
        except ImportError:
            pass
        status, out, err = self.run_cli(
            'matrix', '--output', '/tmp/x-%s.png' % uuid.uuid4().hex,
            '--placement-url', self.placement.url)
        self.assertEqual(2, status)
        self.assertIn('cairosvg', err)


class TestBaseline(fleet_base.FleetTestBase):

    def test_baseline_of_amd_hosts(self):
        data = self.cli_json('baseline', 'rome-82', 'rome-90', 'genoa')
        common = set(data['common_features'])
        for name in ('rome-82', 'rome-90', 'genoa'):
            hm = self.profiles[name]['host_model']
            offered = set(hm['features']) - set(hm.get('disabled') or ())
            self.assertTrue(common <= offered, name)
        self.assertEqual('AMD', data['vendor'])
        # The model is usable on every host, and the lines use it.
        for name in ('rome-82', 'rome-90', 'genoa'):
            self.assertIn(data['cpu_model'],
                          self.profiles[name]['usable_models'])
        self.assertIn('cpu_mode = custom', data['nova_conf'])
        self.assertIn('cpu_models = %s' % data['cpu_model'],
                      data['nova_conf'])
        self.assertTrue(set(data['extra_flags']) <= common)
        self.assertTrue(data['libvirt_check'].startswith('test:///default'),
                        data['libvirt_check'])

    def test_baseline_explains_the_nested_hosts_that_pull_it_down(self):
        # milan-1/milan-2 are nested L1 guests with a reduced host-model:
        # the baseline says so, once for their group, and what it would
        # be without them.
        data = self.cli_json('baseline', 'milan-1', 'milan-2', 'rome-82',
                             'rome-90', 'genoa')
        why = ' '.join(data['explanation'])
        self.assertIn('milan-1 (+1) pulls the baseline down', why)
        self.assertNotIn('milan-2 pulls', why)
        self.assertIn('nested', why)
        self.assertIn('Without milan-1 (+1) the baseline of', why)
        rich = self.cli_json('baseline', 'rome-82', 'rome-90', 'genoa')
        self.assertIn('cpu_models = %s' % rich['cpu_model'], why)

    def test_baseline_across_vendors_is_refused(self):
        status, out, err = self.run_cli(
            'baseline', 'rome-90', 'gold-6148', '--placement-url',
            self.placement.url)
        self.assertEqual(2, status)
        self.assertIn('gold-6148', err)
        self.assertNotIn('Traceback', err)

    def test_baseline_needs_hosts(self):
        status, out, err = self.run_cli('baseline', '--placement-url',
                                        self.placement.url)
        self.assertEqual(2, status)
        self.assertIn('<host>... or --aggregate', err)


class TestCompareByHostName(fleet_base.FleetTestBase):

    def test_compare_two_hosts_by_name(self):
        env = {'MIGCOMPAT_PLACEMENT_URL': self.placement.url}
        verdict = self.expected = rules.evaluate(self.profiles['rome-82'],
                                                 self.profiles['rome-90'])
        status, out, err = self.run_cli('compare', 'rome-82', 'rome-90',
                                        '-f', 'json', env=env)
        self.assertEqual(0 if verdict.compatible else 1, status, err)
        data = json.loads(out)
        self.assertEqual(verdict.compatible, data['compatible'])
        self.assertIn('host rome-82', data['source'])
        status, out, err = self.run_cli('compare', 'rome-82', UNTRAITED,
                                        env=env)
        self.assertEqual(2, status)
        self.assertIn('no migcompat traits', err)


class TestWithNova(fleet_base.FleetTestBase):
    """The parts that need nova's API, against a fake nova on loopback."""

    @classmethod
    def setUpClass(cls):
        super(TestWithNova, cls).setUpClass()
        hyps = []
        for name in sorted(FLEET) + [UNTRAITED]:
            hyps.append({'id': cls.uuids[name], 'hypervisor_hostname': name,
                         'state': 'up', 'status': 'enabled',
                         'service': {'host': 'svc-' + name,
                                     'disabled_reason': None}})
        hyps[[h['hypervisor_hostname'] for h in hyps].index('rome-90')][
            'status'] = 'disabled'
        cls.server_id = str(uuid.uuid4())
        servers = [{'id': cls.server_id, 'name': 'web-1',
                    'status': 'ACTIVE',
                    'OS-EXT-SRV-ATTR:host': 'svc-milan-1',
                    'OS-EXT-SRV-ATTR:hypervisor_hostname': 'milan-1'}]
        aggs = [{'id': 1, 'name': 'amd-rome', 'uuid': str(uuid.uuid4()),
                 'hosts': ['svc-rome-82', 'svc-rome-90']}]
        cls.nova = FakeNova(hyps, servers, aggs).start()

    @classmethod
    def tearDownClass(cls):
        cls.nova.stop()
        super(TestWithNova, cls).tearDownClass()

    def nova_json(self, *argv):
        return self.cli_json(*argv + ('--nova-url', self.nova.url))

    def test_check_server_lists_accepted_and_refused_hosts(self):
        for server in ('web-1', self.server_id):
            rows = {r['host']: r for r in self.nova_json('check', server)}
            self.assertNotIn('milan-1', rows)  # the source itself
            self.assertEqual((set(FLEET) | {UNTRAITED}) - {'milan-1'},
                             set(rows))
            src = self.profiles['milan-1']
            for name in FLEET:
                if name in ('milan-1', 'rome-90'):
                    continue
                verdict = rules.evaluate(src, self.profiles[name])
                self.assertEqual(verdict.compatible,
                                 rows[name]['accepted'], name)
                if not verdict.compatible:
                    for factor in verdict.factors():
                        self.assertIn(factor, rows[name]['reason'])
            self.assertTrue(rows['milan-2']['accepted'])
            self.assertFalse(rows['rome-90']['accepted'])
            self.assertIn('disabled', rows['rome-90']['reason'])
            self.assertIn('no migcompat traits', rows[UNTRAITED]['reason'])

    def test_check_says_what_stands_in_for_the_servers_cpu(self):
        status, out, err = self.run_cli(
            'check', 'web-1', '-f', 'json', '--placement-url',
            self.placement.url, '--nova-url', self.nova.url)
        self.assertEqual(0, status, err)
        # nova's API shows no vcpu_model: the mode is the source's, and
        # these snapshots captured no running guests.
        self.assertIn("judged as a host-model guest (the source's "
                      "cpu_mode; nova's API does not show the guest's "
                      "own)", err)
        self.assertIn("CPU: milan-1's host CPU profile (no running-guests "
                      "record", err)
        status, out, err = self.run_cli(
            'check', 'web-1', '--mode', 'host-passthrough', '-f', 'json',
            '--placement-url', self.placement.url, '--nova-url',
            self.nova.url)
        self.assertIn('judged as a host-passthrough guest (--mode)', err)

    def test_check_judges_the_sources_running_guests(self):
        # milan-1's reporter now publishes its running guests: two
        # host-model guests that still have a feature milan-2 lacks.
        src = self.profiles['milan-1']
        hm = src['host_model']
        record = {'count': 2, 'modes': {'host-model': 2},
                  'host_model_features': sorted(
                      set(hm['features']) - {'invtsc'} | {'avx512f'}),
                  'custom_features': [], 'unexpanded': [],
                  'machine_types': ['pc-q35-7.2'], 'invtsc_frequencies': [],
                  'invtsc_unpinned': 0, 'phys_bits': [],
                  'passthrough_extra': []}
        uuid_ = self.uuids['milan-1']
        with_guests = dict(src.factors, running_guests=record)
        from migcompat_filter import profile as profile_mod
        reporter.sync(self.client, uuid_,
                      traits.encode(profile_mod.Profile(with_guests)))
        self.addCleanup(reporter.sync, self.client, uuid_,
                        traits.encode(src))
        status, out, err = self.run_cli(
            'check', 'web-1', '-f', 'json', '--placement-url',
            self.placement.url, '--nova-url', self.nova.url)
        self.assertEqual(0, status, err)
        self.assertIn('CPU: the union of the running host-model guests '
                      'on milan-1', err)
        self.assertIn('avx512f', err)
        rows = {r['host']: r for r in json.loads(out)}
        # milan-2 has the same digest, but not the guests' avx512f.
        self.assertFalse(rows['milan-2']['accepted'])
        self.assertIn('host_model', rows['milan-2']['reason'])

    def test_check_follows_the_filter_options(self):
        conf = os.path.join(self.useFixture(
            __import__('fixtures').TempDir()).path, 'migcompat.conf')
        with open(conf, 'w') as f:
            f.write('[migcompat]\nuntraited_host_action = refuse\n'
                    'strict = true\n')
        status, out, err = self.run_cli(
            '--config-file', conf, 'check', 'web-1', '-f', 'json',
            '--placement-url', self.placement.url, '--nova-url',
            self.nova.url)
        self.assertEqual(0, status, err)
        rows = {r['host']: r for r in json.loads(out)}
        self.assertFalse(rows[UNTRAITED]['accepted'])
        self.assertIn('refuses', rows[UNTRAITED]['reason'])
        from migcompat_filter.rules.policy import Policy
        for name in ('milan-2', 'this-host'):
            verdict = rules.evaluate(self.profiles['milan-1'],
                                     self.profiles[name],
                                     policy=Policy(strict=True))
            self.assertEqual(verdict.compatible, rows[name]['accepted'])

    def test_check_unknown_server(self):
        status, out, err = self.run_cli(
            'check', 'nope', '--placement-url', self.placement.url,
            '--nova-url', self.nova.url)
        self.assertEqual(2, status)
        self.assertIn("no server named or with ID 'nope'", err)

    def test_check_without_nova_says_it_needs_nova(self):
        status, out, err = self.run_cli('check', 'web-1', '--placement-url',
                                        self.placement.url)
        self.assertEqual(2, status)
        self.assertIn('needs nova', err)

    def test_service_host_names_and_nova_aggregates(self):
        data = self.nova_json('host', 'show', 'svc-genoa')
        self.assertEqual('genoa', data['name'])
        self.assertEqual('svc-genoa', data['service_host'])
        rows = self.nova_json('host', 'list', '--aggregate', 'amd-rome',
                              '--long')
        self.assertEqual(['rome-82', 'rome-90'],
                         sorted(r['name'] for r in rows))
        status, out, err = self.run_cli(
            'matrix', '--aggregate', 'no-such-agg', '--placement-url',
            self.placement.url, '--nova-url', self.nova.url)
        self.assertEqual(2, status)
        self.assertIn('amd-rome', err)  # the known aggregates are named


class TestOpenStackClientPlugin(fleet_base.FleetTestBase):
    """``openstack migcompat ...`` loads the plugin and its commands."""

    def setUp(self):
        super(TestOpenStackClientPlugin, self).setUp()
        self.openstack = os.path.join(os.path.dirname(sys.executable),
                                      'openstack')
        if not os.path.exists(self.openstack):
            self.skipTest('python-openstackclient is not installed')

    def test_commands_are_listed_and_have_help(self):
        env = {k: v for k, v in os.environ.items()
               if not k.startswith('OS_')}
        env['HOME'] = tempfile.mkdtemp()  # no clouds.yaml
        out = subprocess.run([self.openstack, 'command', 'list', '--group',
                              'migcompat', '-f', 'json'],
                             capture_output=True, text=True, env=env,
                             timeout=120)
        self.assertEqual(0, out.returncode, out.stderr)
        commands = sum((g['Commands'] for g in json.loads(out.stdout)), [])
        for cmd in ('migcompat host list', 'migcompat host show',
                    'migcompat fleet matrix', 'migcompat server check',
                    'migcompat fleet baseline', 'migcompat profile compare',
                    'migcompat host drain', 'migcompat trait prune',
                    # the names before 2026.2, for one release
                    'migcompat matrix', 'migcompat check',
                    'migcompat baseline'):
            self.assertIn(cmd, commands)
        # openstack --help lists the current names only, whole.
        out = subprocess.run([self.openstack, '--help'], capture_output=True,
                             text=True, env=env, timeout=120)
        self.assertEqual(0, out.returncode, out.stderr)
        listed = [line.strip().split('  ')[0] for line in
                  out.stdout.splitlines()
                  if line.startswith('  migcompat ')]
        self.assertIn('migcompat fleet matrix', listed)
        for old in ('migcompat matrix', 'migcompat check',
                    'migcompat baseline'):
            self.assertNotIn(old, listed)
        self.assertNotIn('--os-migcompat-api-version', out.stdout)
        out = subprocess.run([self.openstack, 'help', 'migcompat', 'matrix'],
                             capture_output=True, text=True, env=env,
                             timeout=120)
        self.assertEqual(0, out.returncode, out.stderr)
        self.assertIn('--aggregate', out.stdout)
        # Inside openstack the OSC session is used: no own connection
        # options.
        self.assertNotIn('--placement-url', out.stdout)

    def test_openstack_session_reaches_placement(self):
        # OSC's own auth (here its admin_token plugin on the noauth2
        # placement); its endpoint answers nova's calls with 404, so the
        # commands fall back to Placement's names, and say so.
        env = {k: v for k, v in os.environ.items()
               if not k.startswith('OS_')}
        env['HOME'] = tempfile.mkdtemp()
        out = subprocess.run(
            [self.openstack, '--os-auth-type', 'admin_token',
             '--os-endpoint', self.placement.url, '--os-token', 'admin',
             'migcompat', 'matrix', '--pairs', '-f', 'json'],
            capture_output=True, text=True, env=env, timeout=120)
        self.assertEqual(0, out.returncode, out.stderr)
        self.assertIn('nova\'s API is not usable', out.stderr)
        self.assertEqual(self.cli_json('matrix', '--pairs'),
                         json.loads(out.stdout))

    def osc(self, *args):
        env = {k: v for k, v in os.environ.items()
               if not k.startswith('OS_')}
        env['HOME'] = tempfile.mkdtemp()
        return subprocess.run(
            [self.openstack, '--os-auth-type', 'admin_token',
             '--os-endpoint', self.placement.url, '--os-token', 'admin',
             'migcompat'] + list(args),
            capture_output=True, text=True, env=env, timeout=120)

    def test_exit_statuses_are_the_same_as_standalone(self):
        # OSC maps every error to 1; migcompat's contract is 2 for bad
        # input (here an aggregate that is not there), under both.
        out = self.osc('fleet', 'matrix', '--aggregate', 'no-such-agg')
        self.assertEqual(2, out.returncode, out.stderr)
        self.assertIn('no-such-agg', out.stderr)
        self.assertNotIn('Traceback', out.stderr)
        status, _out, err = self.run_cli(
            'fleet', 'matrix', '--aggregate', 'no-such-agg',
            '--placement-url', self.placement.url)
        self.assertEqual(2, status, err)

    def test_profile_compare_in_the_plugin(self):
        # compare's verdict statuses: 0 compatible, 1 not, 2 bad input.
        prof = os.path.join(tempfile.mkdtemp(), 'p.json')
        shutil.copy(os.path.join(os.path.dirname(migcompat_filter.__file__),
                                 'demo', 'data', 'hosts', 'rome-q90.json'),
                    prof)
        same = self.osc('profile', 'compare', prof, prof)
        self.assertEqual(0, same.returncode, same.stderr)
        self.assertIn('COMPATIBLE', same.stdout)
        bad = self.osc('profile', 'compare', prof, prof + '.missing')
        self.assertEqual(2, bad.returncode, bad.stderr)
        self.assertIn('p.json.missing', bad.stderr)

    def test_host_names_honour_the_cloud_options(self):
        # profile compare HOST HOST looks the hosts up as every other
        # command reaches the cloud: OSC's --os-cloud and session, and
        # migcompat's global --os-cloud and --config-file.
        home = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, home)
        os.makedirs(os.path.join(home, '.config', 'openstack'))
        with open(os.path.join(home, '.config', 'openstack',
                               'clouds.yaml'), 'w') as f:
            f.write('clouds:\n  local:\n    auth_type: admin_token\n'
                    '    auth:\n      endpoint: %s\n      token: admin\n'
                    % self.placement.url)
        conf = os.path.join(home, 'nova.conf')
        with open(conf, 'w') as f:
            f.write('[placement]\nauth_type = admin_token\nendpoint = %s\n'
                    'token = admin\n' % self.placement.url)
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(('OS_', 'MIGCOMPAT_'))}
        env['HOME'] = home
        migcompat = os.path.join(os.path.dirname(self.openstack),
                                 'migcompat')
        for argv, status in (
                ([self.openstack, '--os-cloud', 'local', 'migcompat'], 0),
                ([migcompat, '--os-cloud', 'local'], 0),
                ([migcompat, '--config-file', conf], 0),
                ([migcompat], 2)):
            out = subprocess.run(
                argv + ['profile', 'compare', 'milan-1', 'milan-2', '-f',
                        'json'], capture_output=True, text=True, env=env,
                timeout=120, cwd=home)
            self.assertEqual(status, out.returncode, (argv, out.stderr))
            if status == 0:
                data = json.loads(out.stdout)
                self.assertTrue(data['compatible'])
                self.assertIn(self.uuids['milan-1'], data['source'])
            else:
                self.assertIn('no cloud configured', out.stderr)
        # Inside openstack, its session (no --os-cloud at all).
        out = self.osc('profile', 'compare', 'milan-1', 'rome-90')
        self.assertIn(out.returncode, (0, 1), out.stderr)
        self.assertIn(self.uuids['rome-90'], out.stdout)
