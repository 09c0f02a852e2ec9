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

"""A host with a running guest that cannot be judged says so in ``host
list`` and ``host show`` (its note, published by the reporter to a real
placement server), and stops saying so once the guest's XML is fixed.
"""

import json
import os

import fixtures

from tests import cli
from tests.functional import placement_server
from tests.unit import test_unjudged_guests as unjudged


class UnjudgedHostListTest(placement_server.ServerPerClass,
                           unjudged._Snapshot):

    def setUp(self):
        super().setUp()
        self.rp = self.server.create_provider()
        self.useFixture(fixtures.EnvironmentVariable('MIGCOMPAT_CACHE_DIR',
                                                     self.tmp))

    def publish(self):
        env = {k: v for k, v in os.environ.items()
               if not k.startswith('OS_')}
        env['MIGCOMPAT_PLACEMENT_URL'] = self.server.url
        rc, out, err = cli.run('report', '--root', self.snap,
                               '--provider', self.rp['name'], env=env)
        self.assertNotIn('Traceback', err)
        self.assertIn(rc, (0, 1), err)
        return err

    def drift_column(self):
        rc, out, err = cli.run('host', 'list', '-f', 'json',
                               '--placement-url', self.server.url)
        self.assertEqual(0, rc, err)
        rows = {r['name']: r for r in json.loads(out)}
        listed = rows[self.rp['name']]['drift']
        rc, out, err = cli.run('host', 'show', self.rp['name'], '-f',
                               'json', '--placement-url', self.server.url)
        self.assertEqual(0, rc, err)
        self.assertEqual(listed, json.loads(out)['drift'])
        return listed

    def test_unjudged_guests_are_flagged_until_fixed(self):
        path = self.write(unjudged.UUID, unjudged.guest_xml(
            unjudged.INVTSC, unjudged.TSC[1]))
        err = self.publish()
        self.assertIn('running guest not judged', err)
        self.assertIn('unjudged guests', self.drift_column())
        # Fixed (a plausible value): the next report clears the flag.
        with open(path, 'w') as f:
            f.write(unjudged.guest_xml(unjudged.INVTSC, unjudged.TSC[0]))
        self.publish()
        self.assertNotIn('unjudged', self.drift_column())
