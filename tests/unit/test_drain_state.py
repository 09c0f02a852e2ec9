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

"""The drain state file is input and one drain of a host runs at a
time: shapes, IDs, size, the lock against a real second process,
and every ID quoted in nova's URLs.
"""

import json
import os
import signal

import fixtures
import testtools

from migcompat_filter.exception import InputError
from migcompat_filter.fleet import drain_state
from migcompat_filter.fleet import nova_api
from tests import drain_lock

S1 = '3f0a7c1e-2b4d-4e8a-9c61-5d2f8e7a1b90'
EVIL = 'x&migration_type=evacuation&all_tenants=1'


class StateInputTest(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.dir = self.useFixture(fixtures.TempDir()).path
        self.path = os.path.join(self.dir, 'drain-src.json')

    def load_doc(self, **sections):
        with open(self.path, 'w') as f:
            json.dump(dict({'version': 1, 'host': 'src'}, **sections), f)
        return self.assertRaises(InputError, drain_state.State.load,
                                 self.path, 'src')

    def test_keys_must_be_server_ids(self):
        for key in (EVIL, '../os-services', 's1', ''):
            e = self.load_doc(in_flight={key: {'target': 't', 'after': 0}})
            self.assertIn('is not a nova server ID (a UUID)', str(e))
            self.assertIn(self.path, str(e))

    def test_entry_shapes(self):
        for flight, word in ((5, 'expected {"target"'),
                             ({'target': 't'}, '"after": expected'),
                             ({'target': 't', 'after': '3'},
                              '"after": expected'),
                             ({'target': 5, 'after': 0}, '"target": expected'),
                             ({'target': 't', 'after': 0, 'x': 1},
                              "unknown key(s) 'x'")):
            e = self.load_doc(in_flight={S1: flight})
            self.assertIn('in_flight[%s]: %s' % (S1, word), str(e))
        e = self.load_doc(migrated={S1: ['twin']})
        self.assertIn('migrated[%s]: expected a string' % S1, str(e))

    def test_size_is_capped(self):
        with open(self.path, 'w') as f:
            f.write(' ' * (drain_state.MAX_STATE_BYTES + 1))
        e = self.assertRaises(InputError, drain_state.State.load,
                              self.path, 'src')
        self.assertIn('larger than', str(e))

    def test_state_file_under_a_regular_file_names_the_option(self):
        blocker = os.path.join(self.dir, 'file')
        open(blocker, 'w').close()
        path = os.path.join(blocker, 'x.json')
        e = self.assertRaises(InputError, drain_state.State.load, path,
                              'src')
        self.assertIn('--state-file %s: its directory' % path, str(e))
        self.assertIn('is a file, not a directory', str(e))
        self.assertNotIn('Errno', str(e))


class LockTest(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.path = os.path.join(self.useFixture(fixtures.TempDir()).path,
                                 'drain-src.json')

    def test_second_drain_is_refused_until_the_first_dies(self):
        holder = drain_lock.hold(self, self.path)
        e = self.assertRaises(InputError, drain_state.DrainLock(
            self.path, 'src').__enter__)
        self.assertIn('another drain of src is running (pid %d)'
                      % holder.pid, str(e))
        holder.send_signal(signal.SIGKILL)
        holder.wait()
        with drain_state.DrainLock(self.path, 'src'):
            pass


class _Recorder(object):
    """A compute adapter that records the URLs it is asked for."""

    def __init__(self):
        self.urls = []

    def request(self, url, method, json=None, raise_exc=False):
        self.urls.append(url)

        class Resp(object):
            status_code = 202 if method == 'POST' else 200
            text = ''

            def json(self):
                return {'migrations': [], 'server': {}}
        return Resp()


class QuotingTest(testtools.TestCase):

    def test_every_id_is_one_quoted_url_part(self):
        rec = _Recorder()
        nova = nova_api.NovaClient(rec)
        nova.live_migrations(EVIL)
        nova.server_by_id('../os-services')
        nova.live_migrate('a/b?c', 'twin')
        self.assertEqual(
            ['/os-migrations?instance_uuid=x%26migration_type%3Devacuation'
             '%26all_tenants%3D1&migration_type=live-migration',
             '/servers/..%2Fos-services', '/servers/a%2Fb%3Fc/action'],
            rec.urls)
