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

"""migcompat's CPU verdicts against libvirt's, on this machine.

A real qemu:///system libvirtd (compareHypervisorCPU), a real placement
server and the reporter: ``host verify`` over the bundled snapshots and
guests agrees with libvirt wherever both can judge; the reporter publishes
its counts and ``fleet verify``, ``host list --long`` and ``host show``
read them back; a wrong rule planted here is caught as a disagreement.
"""

import glob
import io
import json
import logging
import os
import shutil

import fixtures
import testtools

from migcompat_filter.cmd import common
from migcompat_filter.cmd import shell
from migcompat_filter.placement import client as placement
from migcompat_filter.placement import reporter
from migcompat_filter.rules import host_model
from migcompat_filter.traits import codec as traits
from tests.functional import guests
from tests.functional import placement_server

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
HOSTS = os.path.join(ROOT, 'tests', 'fixtures', 'hosts')
#: The fleet published in Placement: an AMD host like this one (libvirt
#: agrees it fits), an AMD host with more features (it does not) and an
#: Intel host (another vendor).
FLEET = ('epyc-milan-nested-l1', 'libvirt-cpuid-epyc-7502-32-core-host',
         'libvirt-cpuid-xeon-platinum-8268-host')
ME = 'verifier'


def _inputs():
    return (sorted(glob.glob(os.path.join(HOSTS, '*'))) +
            sorted(glob.glob(os.path.join(ROOT, 'migcompat_filter', 'demo',
                                          'data', 'hosts', '*.json'))) +
            sorted(glob.glob(os.path.join(ROOT, 'tests', 'fixtures',
                                          'guests', '*.xml'))))


class VerifyTest(placement_server.ServerPerClass, testtools.TestCase):

    @classmethod
    def setUpClass(cls):
        if not (shutil.which('libvirtd') or shutil.which('virtqemud')):
            raise testtools.TestCase.skipException(
                'libvirtd is not installed on this machine (CI installs '
                'and starts it: .ci/run)')
        super(VerifyTest, cls).setUpClass()
        cls.client = placement.PlacementClient(
            placement.adapter_noauth(cls.server.url))
        for name in FLEET:
            rp = cls.server.create_provider(name)
            cls.client.put_traits(rp['uuid'], {'COMPUTE_NODE'}, 0)
            profile = common.load_profile(os.path.join(HOSTS, name))[0]
            reporter.sync(cls.client, rp['uuid'], traits.encode(profile))
        rp = cls.server.create_provider(ME)
        cls.client.put_traits(rp['uuid'], {'COMPUTE_NODE'}, 0)

    def setUp(self):
        super(VerifyTest, self).setUp()
        self.useFixture(fixtures.EnvironmentVariable('MIGCOMPAT_CACHE_DIR',
                                                     ''))
        self.tmp = self.useFixture(fixtures.TempDir()).path
        self.state = os.path.join(self.tmp, 'verify-state.json')
        self.conf = os.path.join(self.tmp, 'migcompat.conf')
        with open(self.conf, 'w') as f:
            f.write('[migcompat]\nverify_state_file = %s\n' % self.state)

    def run_cli(self, *argv):
        app = shell.MigcompatApp()
        app.stdout, app.stderr = io.StringIO(), io.StringIO()
        status = app.run(list(argv))
        return status, app.stdout.getvalue(), app.stderr.getvalue()

    def report(self):
        status, out, err = self.run_cli(
            '--config-file', self.conf, 'report', '--placement-url',
            self.server.url, '--provider', ME)
        self.assertEqual(0, status, err)
        return out

    def fleet_counts(self):
        status, out, err = self.run_cli('fleet', 'verify', '-f', 'json',
                                        '--placement-url', self.server.url)
        self.assertEqual(0, status, err)
        return {r['host']: r for r in json.loads(out)}

    def test_host_verify_agrees_on_bundled_snapshots_and_guests(self):
        status, out, err = self.run_cli('host', 'verify', '-f', 'json',
                                        *_inputs())
        rows = json.loads(out)
        self.assertEqual(0, status, err + out)
        checked = [r for r in rows if r['agree'] != '-']
        self.assertEqual([], [r for r in checked if r['agree'] != 'yes'])
        # Both answers exist on this machine: fits and does not fit.
        self.assertIn(('yes', 'yes'), {(r['ours'], r['libvirt'])
                                       for r in checked})
        self.assertIn(('no', 'no'), {(r['ours'], r['libvirt'])
                                     for r in checked})
        for row in rows:
            if row['agree'] == '-':
                # Never a silent skip: the reason is given.
                self.assertIn('not checkable', row['detail'])
        guests = [r for r in rows if r['source'].endswith('.xml')]
        self.assertEqual(3, len(guests))
        # Every fixture guest ran on a machine like this one.
        self.assertEqual({'yes'}, {r['libvirt'] for r in guests})

    def test_guests_running_here_fit_here_by_both_judges(self):
        conn = guests.open_or_skip(self)
        paths = []
        for i, cpu in enumerate((guests.HOST_MODEL_CPU, guests.CUSTOM_CPU)):
            guest = self.useFixture(guests.RunningGuest(conn, cpu_xml=cpu))
            paths.append(os.path.join(self.tmp, 'guest-%d.xml' % i))
            with open(paths[-1], 'w') as f:
                f.write(guest.live_xml())
        status, out, err = self.run_cli('host', 'verify', '-f', 'json',
                                        *paths)
        self.assertEqual(0, status, out + err)
        rows = json.loads(out)
        self.assertEqual([('yes', 'yes', 'yes')] * 2,
                         [(r['ours'], r['libvirt'], r['agree'])
                          for r in rows])
        self.assertEqual(['host-model', 'custom'],
                         [r['guest_cpu'].split()[0] for r in rows])
        # A snapshot of this host with them running: its host-model CPU,
        # its running guests' CPU class (their published union) and each
        # guest's own CPU.
        snap = os.path.join(self.tmp, 'snap')
        status, out, err = self.run_cli('snapshot', 'create', snap)
        self.assertEqual(0, status, err)
        status, out, err = self.run_cli('host', 'verify', '-f', 'json', snap)
        self.assertEqual(0, status, out + err)
        rows = {r['source'].rpartition('(')[2]: r for r in json.loads(out)}
        union = rows['running guests)']
        self.assertEqual(('yes', 'yes'), (union['ours'], union['libvirt']))
        self.assertEqual('yes', rows['host-model CPU)']['agree'])

    def test_machine_type_this_qemu_lacks_is_not_checkable(self):
        with open(os.path.join(ROOT, 'tests', 'fixtures', 'guests',
                               'host-model-guest.live.xml')) as f:
            xml = f.read().replace("machine='pc-q35-7.2'",
                                   "machine='pc-q35-99.0'")
        path = os.path.join(self.tmp, 'future-guest.xml')
        with open(path, 'w') as f:
            f.write(xml)
        status, out, err = self.run_cli('host', 'verify', '-f', 'json', path)
        self.assertEqual(0, status, err)
        row, = json.loads(out)
        self.assertEqual(('unchecked', '-'), (row['libvirt'], row['agree']))
        self.assertIn('no machine type pc-q35-99.0', row['detail'])

    def test_reporter_publishes_counts_read_back(self):
        # A round runs before its report's write (so the write carries its
        # counts): the first report's round sees the fleet without this
        # host, the second sees this host's own host-model CPU too.
        self.report()
        self.report()
        counts = self.fleet_counts()
        mine = counts[ME]
        # At least four distinct guest CPUs: the three hosts' host-model
        # CPUs and this host's own (plus its running guests' class when
        # other tests run guests here).
        self.assertGreaterEqual(mine['checked'] + mine['unchecked'], 4)
        self.assertGreaterEqual(mine['checked'], 3)
        self.assertEqual(0, mine['disagree'])
        self.assertEqual('100.0%', counts['(fleet)']['agreement'])
        status, out, err = self.run_cli(
            'host', 'list', '--long', '-f', 'json', '--placement-url',
            self.server.url)
        rows = {r['name']: r for r in json.loads(out)}
        self.assertIn('%d of %d agree with libvirt' % (
            mine['agree'], mine['checked']), rows[ME]['verify'])
        self.assertIsNone(rows[FLEET[0]]['verify'])
        status, out, err = self.run_cli(
            'host', 'show', ME, '-f', 'json', '--placement-url',
            self.server.url)
        self.assertIn('0 disagree', json.loads(out)['verify'])
        # Nothing changed: the next round is skipped (state file kept).
        # Other tests on this machine start and stop guests, which changes
        # this host's profile (its running guests); and a round runs before
        # its report's write, so the first report after a change still
        # sees the fleet's trait names of before it. Try until a report
        # that follows an unchanged one finds the profile unchanged too.
        unchanged_before = False
        for _attempt in range(8):
            with open(self.state) as f:
                before = f.read()
            stamp = os.stat(self.state).st_mtime_ns
            unchanged = 'unchanged:' in self.report()
            if unchanged and unchanged_before:
                break
            unchanged_before = unchanged
        else:
            self.fail('this host\'s profile changed in 8 reports')
        self.assertEqual(stamp, os.stat(self.state).st_mtime_ns)
        with open(self.state) as f:
            self.assertEqual(before, f.read())

    def test_planted_wrong_rule_is_caught(self):
        # The planted bug: the host-model rule lets every CPU through.
        self.useFixture(fixtures.MockPatchObject(
            host_model.HostModelFeaturesRule, 'check',
            lambda rule, ctx: []))
        log = self.useFixture(fixtures.FakeLogger(level=logging.WARNING))
        self.report()
        mine = self.fleet_counts()[ME]
        self.assertGreaterEqual(mine['disagree'], 1)
        self.assertIn('migcompat says yes, libvirt says no', log.output)
        self.assertIn('epyc-7502', log.output)
        # Once per guest CPU and host change: a changed fleet re-runs the
        # round, but the same disagreement is not logged again.
        rome = '(from %s (host-model CPU))' % FLEET[1]
        self.assertEqual(1, log.output.count(rome))
        with open(self.state) as f:
            state = json.load(f)
        state['key'] = state['quick'] = 'the fleet changed'
        with open(self.state, 'w') as f:
            json.dump(state, f)
        self.report()
        with open(self.state) as f:
            self.assertNotEqual('the fleet changed', json.load(f)['key'])
        self.assertEqual(1, log.output.count(rome))
        # host verify says so too, with exit status 1.
        status, out, err = self.run_cli(
            'host', 'verify', '-f', 'json',
            os.path.join(HOSTS, 'libvirt-cpuid-epyc-7502-32-core-host'))
        self.assertEqual(1, status)
        row, = json.loads(out)
        self.assertEqual(('yes', 'no', 'NO'),
                         (row['ours'], row['libvirt'], row['agree']))
        self.assertIn('does not provide required features', row['detail'])
