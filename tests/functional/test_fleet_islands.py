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

"""``migcompat fleet islands`` on a real placement server (gunicorn,
sqlite) with the bundled demo fleet (migcompat_filter/demo/data), each
host published by the reporter, and running guests on three of them:

* clx-8268 after a late microcode update removed TSX: the host offers
  no hle/rtm any more, its host-model guest booted before still runs with
  them (as in innogames/igvm #193);
* genoa-q10, the newest QEMU (10.0): its guest runs machine type
  pc-q35-10.0, which no other host's QEMU has;
* milan-a, a guest its twin milan-b takes (not stranded).
"""

import io
import json
import uuid

import testtools

from migcompat_filter.cmd import shell
from migcompat_filter.cpu import map_migratable
from migcompat_filter.demo import hosts as demo_hosts
from migcompat_filter.placement import client as placement
from migcompat_filter.placement import reporter
from migcompat_filter import profile as profile_mod
from migcompat_filter.traits import codec as traits
from tests.functional import placement_server

TSX = ('hle', 'rtm')


def running_guests(prof, machine, count=1, features=None,
                   mode='host-model'):
    """A running-guests record as the reporter publishes it: count guests
    of mode running with features (default: what prof's host-model
    offers and libvirt migrates) and machine.
    """
    if features is None:
        features = (set(prof['host_model']['features']) -
                    map_migratable.non_migratable(prof['arch']))
    record = {'count': count, 'modes': {mode: count},
              'host_model_features': [], 'custom_features': [],
              'unexpanded': [], 'machine_types': [machine],
              'invtsc_frequencies': [], 'invtsc_unpinned': 0,
              'phys_bits': [], 'passthrough_extra': []}
    record['host_model_features' if mode == 'host-model'
           else 'custom_features'] = sorted(features)
    return record


def _without(value, names):
    value = dict(value)
    value['features'] = sorted(set(value['features']) - set(names))
    return value


def fleet_profiles():
    """{name: Profile}: the bundled fleet in host-model mode, TSX gone
    from clx-8268, and the running guests.
    """
    out = {}
    for host in demo_hosts.load_fleet():
        out[host.name] = host.in_mode('host-model')
    clx = out['clx-8268']
    booted = running_guests(clx, 'pc-q35-8.2')
    self_factors = dict(clx.factors)
    # The late microcode update: the same host, hle and rtm gone.
    self_factors['host_model'] = _without(clx['host_model'], TSX)
    self_factors['cpu_features'] = _without(clx['cpu_features'], TSX)
    self_factors['running_guests'] = booted
    out['clx-8268'] = profile_mod.Profile(self_factors)
    # A custom-mode guest on the newest QEMU: a CPU every AMD host offers
    # (their common host-model features), the newest machine type.
    amd = [p for p in out.values() if p['cpu_model']['vendor'] == 'AMD']
    common = set.intersection(*(set(p['host_model']['features'])
                                for p in amd))
    common -= map_migratable.non_migratable('x86_64')
    factors = dict(out['genoa-q10'].factors)
    factors['running_guests'] = running_guests(
        out['genoa-q10'], 'pc-q35-10.0', features=common, mode='custom')
    out['genoa-q10'] = profile_mod.Profile(factors)
    factors = dict(out['milan-a'].factors)
    factors['running_guests'] = running_guests(out['milan-a'],
                                               'pc-q35-7.2')
    out['milan-a'] = profile_mod.Profile(factors)
    return out


class FleetIslandsTest(testtools.TestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.server = placement_server.PlacementServer()
        cls.server.setUp()
        client = placement.PlacementClient(
            placement.adapter_noauth(cls.server.url))
        cls.profiles = fleet_profiles()
        for name, prof in sorted(cls.profiles.items()):
            rp = cls.server.create_provider(name)
            client.put_traits(rp['uuid'], {'COMPUTE_NODE'}, 0)
            reporter.sync(client, rp['uuid'], traits.encode(prof))

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanUp()
        super().tearDownClass()

    def run_cli(self, *argv):
        app = shell.MigcompatApp()
        app.stdout, app.stderr = io.StringIO(), io.StringIO()
        status = app.run(list(argv) + ['-f', 'json', '--placement-url',
                                       self.server.url])
        out = app.stdout.getvalue()
        return status, json.loads(out) if out.strip() else [], \
            app.stderr.getvalue()

    def _by_kind(self, rows, kind, mode=None):
        return [r for r in rows if r['kind'] == kind and
                (mode is None or r['mode'] == mode)]

    def test_stranded_guests_and_islands(self):
        status, rows, err = self.run_cli('fleet', 'islands')
        self.assertEqual(1, status, err)   # a guest is stranded
        stranded = {(r['hosts'][0], r['mode']): r
                    for r in self._by_kind(rows, 'stranded')}
        # The guest of milan-a can go to its twin: not listed.
        self.assertEqual({('clx-8268', 'host-model'),
                          ('genoa-q10', 'custom')}, set(stranded))
        tsx = stranded[('clx-8268', 'host-model')]
        # Held by its host-model CPU (hle, rtm); a cold restart
        # re-baselines it to the TSX-less CPU its host offers now.
        self.assertEqual(['host_model'], tsx['factors'])
        self.assertTrue(tsx['action'].startswith('cold restart'), tsx)
        self.assertIn('may move to clx-4214r, clx-8268-tsxoff',
                      tsx['action'])
        self.assertIn('clx-8268-tsxoff: host_model', tsx['why'])
        newest = stranded[('genoa-q10', 'custom')]
        # Held by QEMU 10.0 (its machine type): upgrading the host with
        # the newest QEMU below it frees it.
        self.assertEqual(['libvirt_version', 'machine_types',
                          'qemu_version'], newest['factors'])
        self.assertEqual("upgrade rome-q90 to at least genoa-q10's "
                         "versions (QEMU 10.0.0, libvirt 11.3.0)",
                         newest['action'])
        self.assertIn('rome-q90: libvirt_version, machine_types, '
                      'qemu_version', newest['why'])

        islands = [r['hosts'] for r in
                   self._by_kind(rows, 'island', 'host-model')]
        self.assertIn(['milan-a', 'milan-b', 'milan-c'], islands)
        self.assertIn(['clx-8268', 'clx-8268-tsxoff'], islands)
        self.assertIn(['milan-old'], islands)
        # Every host is in exactly one island per mode.
        for mode in ('host-model', 'host-passthrough', 'custom'):
            hosts = sum((r['hosts'] for r in self._by_kind(
                rows, 'island', mode)), [])
            self.assertEqual(sorted(self.profiles), sorted(hosts), mode)
        one_way = {(tuple(r['hosts']), tuple(r['to'])): r for r in
                   self._by_kind(rows, 'one-way', 'host-model')}
        up = one_way[(('milan-old',), ('milan-a', 'milan-b', 'milan-c'))]
        self.assertEqual(['libvirt_version', 'qemu_version'],
                         up['factors'])
        self.assertIn('not back: libvirt on the destination (8.0.0) is '
                      'older', up['why'])
        self.assertNotIn((('milan-a', 'milan-b', 'milan-c'),
                          ('milan-old',)), one_way)

    def test_one_mode_without_stranded_guests_exits_0(self):
        status, rows, err = self.run_cli('fleet', 'islands', '--mode',
                                         'host-passthrough')
        self.assertEqual(0, status, err)
        self.assertEqual({'host-passthrough'}, {r['mode'] for r in rows})
        self.assertEqual([], self._by_kind(rows, 'stranded'))

    def test_aggregate(self):
        agg = str(uuid.uuid4())
        for name in ('rome-q82', 'rome-q90', 'genoa-q10'):
            rp = self.server.request('GET', '/resource_providers?name=%s'
                                     % name).json()['resource_providers'][0]
            resp = self.server.request(
                'PUT', '/resource_providers/%s/aggregates' % rp['uuid'],
                json={'aggregates': [agg],
                      'resource_provider_generation': rp['generation']})
            self.assertEqual(200, resp.status_code, resp.text)
        status, rows, err = self.run_cli('fleet', 'islands', '--aggregate',
                                         agg, '--mode', 'custom')
        self.assertEqual(1, status, err)
        self.assertEqual({'rome-q82', 'rome-q90', 'genoa-q10'},
                         set(sum((r['hosts'] for r in rows), [])))
        [stranded] = self._by_kind(rows, 'stranded')
        self.assertEqual(['genoa-q10'], stranded['hosts'])

    def test_bad_input_exits_2(self):
        for argv, words in (
                (('--aggregate', 'by-name'),
                 ['only a Placement aggregate UUID']),
                (('--aggregate', str(uuid.uuid4())),
                 ['has no compute node'])):
            status, rows, err = self.run_cli('fleet', 'islands', *argv)
            self.assertEqual(2, status, (argv, err))
            for word in words:
                self.assertIn(word, err)
            self.assertNotIn('Traceback', err)

    def test_default_table_fits_and_keeps_the_action(self):
        # A table without --long folds "to" and "action" into "why", so
        # that it fits 100 columns piped; --long shows them as columns.
        app = shell.MigcompatApp()
        app.stdout, app.stderr = io.StringIO(), io.StringIO()
        status = app.run(['fleet', 'islands', '--mode', 'host-model',
                          '--placement-url', self.server.url])
        out = app.stdout.getvalue()
        self.assertEqual(1, status, app.stderr.getvalue())
        self.assertLessEqual(max(len(line) for line in out.splitlines()),
                             100, out)
        self.assertEqual(['kind', 'mode', 'hosts', 'factors', 'why'],
                         [c.strip() for c in out.splitlines()[1].split('|')
                          if c.strip()])
        text = ' '.join(out.split())
        self.assertIn('Smallest action: cold restart', text.replace(
            ' | ', ' ').replace('| ', ''))
        app = shell.MigcompatApp()
        app.stdout, app.stderr = io.StringIO(), io.StringIO()
        app.run(['fleet', 'islands', '--mode', 'host-model', '--long',
                 '--placement-url', self.server.url])
        self.assertIn('| action', app.stdout.getvalue().splitlines()[1])
