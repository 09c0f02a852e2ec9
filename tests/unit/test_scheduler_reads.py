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

"""scheduler/reads.py: every read goes through the client's public get,
whatever was patched before the module was imported (when it
was imported after nova's harness patched SchedulerReportClient.get, the old
module took the patched function for nova's own and sent the GET through
the private ``_client`` adapter, which had no auth).
"""

import importlib.util
import threading
import time

import fixtures
import testtools

from migcompat_filter.scheduler import reads


class _Resp(object):
    status_code = 200

    def __init__(self, body):
        self.body = body

    def json(self):
        return self.body


class _NoPrivate(object):
    """A private adapter that fails the test when used."""

    def __getattr__(self, name):
        raise AssertionError('the private _client adapter was used (%s)'
                             % name)


def _fresh_reads():
    """reads.py imported anew, as when nova loads the filter late."""
    spec = importlib.util.spec_from_file_location(
        'migcompat_reads_fresh', reads.__file__)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class PublicGetTest(testtools.TestCase):

    def _patched_report_client(self):
        from nova.scheduler.client import report
        seen = []

        def get(client, url, version=None, global_request_id=None):
            seen.append((url, version, global_request_id))
            return _Resp({'traits': ['CUSTOM_X']})
        # What nova's PlacementFixture does before the scheduler starts.
        self.useFixture(fixtures.MonkeyPatch(
            'nova.scheduler.client.report.SchedulerReportClient.get', get))
        client = report.SchedulerReportClient.__new__(
            report.SchedulerReportClient)
        client._client = _NoPrivate()
        return client, seen

    def test_imported_after_the_harness_patched_get(self):
        client, seen = self._patched_report_client()
        late = _fresh_reads()  # imported now, after the patch
        body = late.timed_get(client, '/traits', '1.6',
                              time.monotonic() + 5, 'req-1')
        self.assertEqual({'traits': ['CUSTOM_X']}, body)
        self.assertEqual([('/traits', '1.6', 'req-1')], seen)

    def test_imported_before_the_harness_patched_get(self):
        early = _fresh_reads()  # imported first, then the patch
        client, seen = self._patched_report_client()
        early.timed_get(client, '/traits', '1.6', time.monotonic() + 5)
        self.assertEqual(1, len(seen))

    def test_hung_calls_are_bounded_in_number(self):
        gate = threading.Event()
        self.addCleanup(gate.set)

        class Hung(object):
            def get(self, url, version=None, global_request_id=None):
                gate.wait(30)
                return _Resp({})
        late = _fresh_reads()
        late.MAX_IN_FLIGHT = 2
        for _ in range(2):
            e = self.assertRaises(late.PlacementFailure, late.timed_get,
                                  Hung(), '/x', '1.6', time.monotonic() + 0.05)
            self.assertIn('did not answer within', str(e))
        self.assertEqual(2, late.in_flight())
        # A third call is not sent at all while two still hang.
        e = self.assertRaises(late.PlacementFailure, late.timed_get,
                              Hung(), '/x', '1.6', time.monotonic() + 5)
        self.assertIn('2 earlier Placement calls have not returned', str(e))
        gate.set()
