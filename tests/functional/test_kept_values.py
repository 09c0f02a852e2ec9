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

"""A libvirtd restart between two reports never wipes the host's profile.

A real (private) libvirtd is stopped and restarted between reports to a
real placement server: the report with libvirt down keeps every trait it
published before, adds no unknown, names the factors and the cause on
stderr and exits 1; the next report after the restart is clean (exit 0,
the same traits). After ``kept_value_max_runs`` reports the factors are
published as unknown (the documented rule for libvirt really gone).
"""

import json
import os

import testtools

from migcompat_filter.placement import client as placement
from migcompat_filter.placement import store
from migcompat_filter import profile as profile_mod
from migcompat_filter.traits import codec
from tests import cli
from tests.functional import placement_server
from tests.functional import private_libvirtd

NOTE = 'CUSTOM_MIGCOMPAT_NOTE_'


def profile_traits(traits):
    """The traits that say the host's profile: all but its note (which
    carries the kept values' ages, so it changes while values are kept).
    """
    return {t for t in traits if not t.startswith(NOTE)}


class TestLibvirtdRestart(placement_server.ServerPerClass,
                          testtools.TestCase):

    def setUp(self):
        super().setUp()
        if not private_libvirtd.available():
            self.skipTest('libvirtd is not installed')
        self.libvirtd = self.useFixture(private_libvirtd.PrivateLibvirtd())
        self.tmp = self.libvirtd.dir
        self.kept = os.path.join(self.tmp, 'state', 'last-good.json')
        self.rp = self.server.create_provider()

    def conf(self, max_runs=24):
        path = os.path.join(self.tmp, 'migcompat-%d.conf' % max_runs)
        with open(path, 'w') as f:
            f.write('[migcompat]\nkept_values_file = %s\n'
                    'kept_value_max_runs = %d\n' % (self.kept, max_runs))
        return path

    def report(self, *args, max_runs=24):
        env = {k: v for k, v in os.environ.items()
               if not k.startswith('OS_')}
        env['MIGCOMPAT_PLACEMENT_URL'] = self.server.url
        # No nova.conf of this machine's: only libvirt's factors change.
        return cli.run('--config-file', self.conf(max_runs), 'report',
                       '--connect', self.libvirtd.uri,
                       '--provider', self.rp['name'], *args, env=env)

    def traits(self):
        return self.server.traits(self.rp['uuid'])[0]

    def decoded(self):
        """(profile, note) as the scheduler reads them (schema 3: the
        traits and the migcompat store's records).
        """
        client = placement.PlacementClient(
            placement.adapter_noauth(self.server.url))
        names = self.traits()
        parsed = codec.parse(names, store.read(
            store.client_get(client)).records)
        return parsed.profile, getattr(parsed, 'note', {}) or {}

    def unknowns(self):
        """The factors published as unknown (this machine has some for
        good: no nova.conf, no DMI).
        """
        prof, _note = self.decoded()
        return {f for f, v in prof.factors.items()
                if profile_mod.is_unknown(v)}

    def test_restart_between_two_reports_keeps_the_profile(self):
        rc, out, err = self.report()
        self.assertEqual(0, rc, err)
        good = profile_traits(self.traits())
        good_unknown = self.unknowns()
        self.assertTrue(any(t.startswith('CUSTOM_MIGCOMPAT_') for t in good))

        self.libvirtd.stop()
        rc, out, err = self.report()
        self.assertEqual(1, rc, out + err)
        self.assertNotIn('Traceback', err)
        self.assertEqual(good, profile_traits(self.traits()))
        self.assertEqual(good_unknown, self.unknowns())
        # The host's note says which values are kept, and since when.
        self.assertIn('qemu_version', self.decoded()[1].get('kept', {}))
        # Each factor libvirt gives is named, with the cause.
        for factor in ('libvirt_version', 'qemu_version'):
            self.assertIn('factor %s: not read (' % factor, err)
        self.assertIn('cannot connect to libvirt at %s' % self.libvirtd.uri,
                      err)
        self.assertIn('published the value read at', err)
        self.assertIn('kept: ', out)
        with open(self.kept) as f:
            state = json.load(f)['factors']
        self.assertEqual(1, state['qemu_version']['misses'])

        self.libvirtd.start()
        rc, out, err = self.report()
        self.assertEqual(0, rc, err)
        self.assertNotIn('not read', err)
        self.assertEqual(good, profile_traits(self.traits()))
        self.assertNotIn('kept', self.decoded()[1])
        with open(self.kept) as f:
            self.assertEqual(0, json.load(f)['factors']['qemu_version'][
                'misses'])

    def test_really_gone_after_the_documented_number_of_runs(self):
        rc, out, err = self.report(max_runs=1)
        self.assertEqual(0, rc, err)
        good = profile_traits(self.traits())
        good_unknown = self.unknowns()
        self.libvirtd.stop()
        rc, out, err = self.report(max_runs=1)
        self.assertEqual(1, rc, err)
        self.assertEqual(good, profile_traits(self.traits()))
        rc, out, err = self.report(max_runs=1)
        self.assertEqual(1, rc, err)
        self.assertIn('kept for 1 reports in a row', err)
        self.assertIn('qemu_version', self.unknowns() - good_unknown)

    def test_forget_kept_publishes_what_is_read(self):
        rc, out, err = self.report()
        self.assertEqual(0, rc, err)
        good_unknown = self.unknowns()
        self.libvirtd.stop()
        rc, out, err = self.report('--forget-kept')
        self.assertEqual(1, rc, err)
        self.assertIn('report --forget-kept', err)
        self.assertIn('qemu_version', self.unknowns() - good_unknown)
