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
creates it, renames it in one request and changes nothing else, never
conflicts with a concurrent bump, never fails a report; the reporter bumps
only when it wrote.
"""

import threading

import testtools

from migcompat_filter.placement import change_marker
from migcompat_filter.placement import client as placement
from migcompat_filter.placement import reporter
from tests.functional import placement_server

OURS = ['CUSTOM_MIGCOMPAT_S2_ARCH_X86_64']


class _CreatedBetween(placement.PlacementClient):
    """A client that finds no marker, and before it can create one,
    another reporter does (the race, made certain).
    """

    def __init__(self, adapter, other):
        super().__init__(adapter)
        self.other = other
        self.other_result = None

    def _request(self, method, url, *args, **kwargs):
        answer = super()._request(method, url, *args, **kwargs)
        if method == 'PUT' and change_marker.UUID in url and \
                self.other_result is None:
            self.other_result = change_marker.bump(self.other)
        return answer


class _MarkerRefused(placement.PlacementClient):
    """Placement answers every write of the marker with an error."""

    def _request(self, method, url, *args, **kwargs):
        if method != 'GET' and change_marker.UUID in url:
            raise placement.PlacementError('%s %s: 503 (injected)'
                                           % (method, url))
        return super()._request(method, url, *args, **kwargs)


class ChangeMarkerTest(placement_server.ServerPerClass, testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.client = self._client()

    def _client(self, cls=placement.PlacementClient):
        return cls(placement.adapter_noauth(self.server.url))

    def _state(self):
        """(generation, name) of the marker, None when it does not exist."""
        resp = self.server.request(
            'GET', '/resource_providers/%s' % change_marker.UUID)
        if resp.status_code == 404:
            return None
        self.assertEqual(200, resp.status_code, resp.text)
        body = resp.json()
        self.assertTrue(body['name'].startswith(change_marker.NAME + '-'),
                        body['name'])
        return body['generation'], body['name']

    def _delete_marker(self):
        self.server.request('DELETE', '/resource_providers/%s'
                            % change_marker.UUID)

    def test_created_then_moved_in_one_request(self):
        self._delete_marker()
        self.assertIsNone(self._state())
        self.assertTrue(change_marker.bump(self.client))
        first = self._state()
        self.assertIsNotNone(first)
        before = self.client.requests
        self.assertTrue(change_marker.bump(self.client))
        self.assertEqual(1, self.client.requests - before)
        self.assertNotEqual(first, self._state())
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
        self.assertEqual(({'HW_CPU_X86_AVX2'}, gen + 1),
                         self.server.traits(change_marker.UUID))
        self.client.put_traits(change_marker.UUID, set(), gen + 1)

    def test_concurrent_bumps_all_succeed(self):
        change_marker.bump(self.client)
        before = self._state()
        results = []

        def bumps():
            client = self._client()
            results.extend(change_marker.bump(client) for _ in range(10))

        threads = [threading.Thread(target=bumps) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual([True] * 30, results)
        self.assertNotEqual(before, self._state())

    def test_two_concurrent_creations_both_succeed(self):
        self._delete_marker()
        racing = self._client(lambda a: _CreatedBetween(a, self._client()))
        # Both found no marker; the other created it first.
        self.assertTrue(change_marker.bump(racing))
        self.assertTrue(racing.other_result)
        self.assertIsNotNone(self._state())

    def test_a_failed_bump_never_fails_the_report(self):
        refused = self._client(_MarkerRefused)
        rp = self.server.create_provider()
        with self.assertLogs('migcompat_filter.placement.change_marker',
                             'WARNING') as logs:
            result = reporter.sync(refused, rp['uuid'], OURS)
        self.assertTrue(result.written)
        self.assertEqual(set(OURS), self.server.traits(rp['uuid'])[0])
        self.assertIn('profile_refresh_interval', logs.output[0])
        self.assertFalse(change_marker.bump(refused))

    def test_a_provider_named_like_the_marker_is_left_alone(self):
        # Identity is the UUID: a provider called migcompat-changes (an
        # older marker restored under another UUID) is neither renamed
        # nor in the way.
        self._delete_marker()
        other = self.server.create_provider(change_marker.NAME)
        self.addCleanup(self.server.request, 'DELETE',
                        '/resource_providers/%s' % other['uuid'])
        self.assertTrue(change_marker.bump(self.client))
        self.assertIsNotNone(self._state())
        resp = self.server.request('GET', '/resource_providers/%s'
                                   % other['uuid'])
        self.assertEqual(change_marker.NAME, resp.json()['name'])

    def test_the_reporter_bumps_only_when_it_wrote(self):
        change_marker.bump(self.client)
        rp = self.server.create_provider()
        before = self._state()
        reporter.sync(self.client, rp['uuid'], OURS)
        after_write = self._state()
        self.assertNotEqual(before, after_write)
        reporter.sync(self.client, rp['uuid'], OURS)  # unchanged host
        reporter.sync(self.client, rp['uuid'], [], dry_run=True)
        self.assertEqual(after_write, self._state())
