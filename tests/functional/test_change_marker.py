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

"""The change marker against a real placement server (gunicorn): bump
creates it, moves its generation and changes nothing else, counts a 409 from a
concurrent bump as success, never fails a report; the reporter bumps only
when it wrote.
"""

import testtools

from migcompat_filter.placement import change_marker
from migcompat_filter.placement import client as placement
from migcompat_filter.placement import reporter
from tests.functional import placement_server

OURS = ['CUSTOM_MIGCOMPAT_S2_ARCH_X86_64']


class _BumpedBetween(placement.PlacementClient):
    """A client whose first read of the marker is followed, before it can
    write, by another reporter's bump (the race, made certain).
    """

    def __init__(self, adapter, other):
        super().__init__(adapter)
        self.other = other
        self.other_result = None

    def _request(self, method, url, *args, **kwargs):
        answer = super()._request(method, url, *args, **kwargs)
        if method == 'GET' and change_marker.UUID in url and \
                self.other_result is None:
            self.other_result = change_marker.bump(self.other)
        return answer


class ChangeMarkerTest(placement_server.ServerPerClass, testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.client = self._client()

    def _client(self):
        return placement.PlacementClient(
            placement.adapter_noauth(self.server.url))

    def _generation(self):
        resp = self.server.request(
            'GET', '/resource_providers/%s' % change_marker.UUID)
        if resp.status_code == 404:
            return None
        self.assertEqual(200, resp.status_code, resp.text)
        self.assertEqual(change_marker.NAME, resp.json()['name'])
        return resp.json()['generation']

    def _delete_marker(self):
        self.server.request('DELETE', '/resource_providers/%s'
                            % change_marker.UUID)

    def test_created_then_moved(self):
        self._delete_marker()
        self.assertIsNone(self._generation())
        self.assertTrue(change_marker.bump(self.client))
        first = self._generation()
        self.assertIsNotNone(first)
        self.assertTrue(change_marker.bump(self.client))
        self.assertEqual(first + 1, self._generation())
        # No inventory: nothing can be scheduled on it.
        resp = self.server.request(
            'GET', '/resource_providers/%s/inventories' % change_marker.UUID)
        self.assertEqual({}, resp.json()['inventories'])

    def test_nothing_else_on_the_marker_changes(self):
        change_marker.bump(self.client)
        traits, gen = self.client.get_traits(change_marker.UUID)
        self.client.put_traits(change_marker.UUID, {'HW_CPU_X86_AVX2'},
                               gen)
        self.assertTrue(change_marker.bump(self.client))
        self.assertEqual(({'HW_CPU_X86_AVX2'}, gen + 2),
                         self.server.traits(change_marker.UUID))
        self.client.put_traits(change_marker.UUID, set(), gen + 2)

    def test_two_concurrent_bumps_both_succeed(self):
        change_marker.bump(self.client)
        before = self._generation()
        racing = _BumpedBetween(placement.adapter_noauth(self.server.url),
                                self._client())
        # racing read the generation, the other bumped, racing's write
        # gets Placement's 409: both count as a bump.
        self.assertTrue(change_marker.bump(racing))
        self.assertTrue(racing.other_result)
        self.assertEqual(before + 1, self._generation())

    def test_two_concurrent_creations_both_succeed(self):
        self._delete_marker()
        racing = _BumpedBetween(placement.adapter_noauth(self.server.url),
                                self._client())
        # Both found no marker; the other created it first.
        self.assertTrue(change_marker.bump(racing))
        self.assertTrue(racing.other_result)
        self.assertIsNotNone(self._generation())

    def test_a_failed_bump_never_fails_the_report(self):
        # The name is taken by a provider with another UUID: the marker
        # cannot be created, the report is written all the same.
        self._delete_marker()
        imposter = self.server.create_provider(change_marker.NAME)
        self.addCleanup(self.server.request, 'DELETE',
                        '/resource_providers/%s' % imposter['uuid'])
        rp = self.server.create_provider()
        with self.assertLogs('migcompat_filter.placement.change_marker',
                             'WARNING') as logs:
            result = reporter.sync(self.client, rp['uuid'], OURS)
        self.assertTrue(result.written)
        self.assertEqual(set(OURS), self.server.traits(rp['uuid'])[0])
        self.assertIn('another UUID', logs.output[0])
        self.assertFalse(change_marker.bump(self.client))

    def test_the_reporter_bumps_only_when_it_wrote(self):
        change_marker.bump(self.client)
        rp = self.server.create_provider()
        before = self._generation()
        reporter.sync(self.client, rp['uuid'], OURS)
        after_write = self._generation()
        self.assertEqual(before + 1, after_write)
        reporter.sync(self.client, rp['uuid'], OURS)  # unchanged host
        reporter.sync(self.client, rp['uuid'], [], dry_run=True)
        self.assertEqual(after_write, self._generation())
