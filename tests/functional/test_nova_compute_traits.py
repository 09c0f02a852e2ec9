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

"""nova-compute's own trait writes on a host that carries our traits.

A real placement server under gunicorn with gunicorn's default limits
(``--limit-request-line`` 4,094, as a default deployment runs it; nova's
functional harness serves Placement in process, with no limit at all, so
it cannot see this), a compute node that nova 34's real report client
(``nova.scheduler.client.report.SchedulerReportClient``) created and gave
its own traits, then migcompat's reporter publishing the host's profile in
the schema ``migcompat report`` writes (codec.SCHEMA). Then nova's own
code changes nova's own traits, as it does in a cloud:

* ``openstack compute service set --disable``: nova-compute's
  ``ComputeVirtAPI.update_compute_provider_status(ctx, rp, enabled=False)``
  must set COMPUTE_STATUS_DISABLED;
* the ``update_available_resource`` periodic after a driver trait changed:
  ``get_provider_tree_and_ensure_root``, the new trait in the tree,
  ``update_from_provider_tree`` must write it.

Before each trait write nova lists the provider's whole trait set in one
``GET /traits?name=in:<every name>`` (``_ensure_traits``); schema 2's ~300
traits made that request line 11-14 KB, which gunicorn answers with 400
(nova raised TraitRetrievalFailed / ResourceProviderSyncFailed). Both paths
must succeed and leave every trait of ours in place.

nova's report client is given the adapter openstacksdk's Proxy is in nova:
an HTTP error comes back as a response, not an exception.
"""

import uuid

from nova.compute import manager
from nova import context as nova_context
from nova.scheduler.client import report
import testtools

from migcompat_filter.placement import client as placement
from migcompat_filter.placement import reporter
from migcompat_filter.traits import codec as traits
from tests.functional import nova_like
from tests.functional import placement_server

#: The issue's bound on nova's trait-listing request line (nova's own
#: traits take 1.4-1.7 KB of it; gunicorn refuses more than 4,094 bytes).
MAX_REQUEST_LINE = 3000
#: A driver trait nova-compute starts reporting (a vTPM enabled).
NEW_NOVA_TRAIT = 'COMPUTE_SECURITY_TPM_2_0'


class RecordingReportClient(report.SchedulerReportClient):
    """nova's report client, recording the requests it sends."""

    def __init__(self, adapter):
        super(RecordingReportClient, self).__init__(adapter=adapter)
        self.sent = []

    def get(self, url, version=None, global_request_id=None):
        resp = super(RecordingReportClient, self).get(
            url, version, global_request_id)
        self.sent.append(('GET', url, resp.status_code))
        return resp

    def put(self, url, data, version=None, global_request_id=None):
        resp = super(RecordingReportClient, self).put(
            url, data, version, global_request_id)
        self.sent.append(('PUT', url, resp.status_code))
        return resp

    def trait_listings(self):
        """The request lines of nova's ``GET /traits?name=in:`` (bytes)."""
        return [len('GET %s HTTP/1.1' % url) for method, url, _s in self.sent
                if method == 'GET' and url.startswith('/traits?name=in:')]

    def summary(self):
        return ', '.join('%s %s (%d B) -> %d' % (
            m, url[:40] + ('...' if len(url) > 40 else ''), len(url), s)
            for m, url, s in self.sent)


class _Compute(object):
    """What ComputeVirtAPI needs of nova's ComputeManager."""

    def __init__(self, reportclient):
        self.reportclient = reportclient


class NovaComputeTraitsTest(placement_server.ServerPerClass,
                            testtools.TestCase):

    def setUp(self):
        super(NovaComputeTraitsTest, self).setUp()
        self.ctx = nova_context.get_admin_context()
        self.ours_client = placement.PlacementClient(
            placement.adapter_noauth(self.server.url))

    def nova_client(self):
        # As nova's own (openstacksdk's Proxy): an HTTP error comes back
        # as a response, not an exception.
        adapter = placement.adapter_noauth(self.server.url)
        adapter.raise_exc = False
        return RecordingReportClient(adapter)

    def start_host(self, label, prof):
        """nova-compute creates its provider and publishes its traits,
        then ``migcompat report`` publishes ours. Returns (nova's client,
        the provider's UUID, our traits on it).
        """
        name = '%s-%s' % (label, self.id().rsplit('.', 1)[-1])
        rp_uuid = str(uuid.uuid4())
        client = self.nova_client()
        tree = client.get_provider_tree_and_ensure_root(
            self.ctx, rp_uuid, name=name)
        tree.update_traits(rp_uuid, nova_like.nova_traits(prof))
        client.update_from_provider_tree(self.ctx, tree)
        # What ``migcompat report`` writes: the schema of codec.SCHEMA.
        reporter.sync(self.ours_client, rp_uuid,
                      traits.encode(prof, traits.SCHEMA))
        current, _gen = self.server.traits(rp_uuid)
        ours = {t for t in current if traits.is_ours(t)}
        self.assertTrue(ours, 'the reporter published nothing')
        return client, rp_uuid, name, ours

    def disable(self, client, rp_uuid):
        """``openstack compute service set --disable``, nova's own code."""
        del client.sent[:]
        virtapi = manager.ComputeVirtAPI(_Compute(client))
        virtapi.update_compute_provider_status(self.ctx, rp_uuid,
                                               enabled=False)

    def test_disable_sets_status_disabled_and_keeps_ours(self):
        label, prof = nova_like.demo_profiles()[3]
        client, rp_uuid, _name, ours = self.start_host(label, prof)
        try:
            self.disable(client, rp_uuid)
        except Exception as e:
            self.fail('nova-compute could not disable %s (%s): %s; '
                      'requests: %s' % (label, type(e).__name__, e,
                                        client.summary()))
        current, _gen = self.server.traits(rp_uuid)
        self.assertIn('COMPUTE_STATUS_DISABLED', current)
        self.assertEqual(ours, {t for t in current if traits.is_ours(t)})
        self.assertTrue(nova_like.nova_traits(prof) <= current)

    def test_periodic_writes_changed_nova_trait_and_keeps_ours(self):
        label, prof = nova_like.demo_profiles()[3]
        _client, rp_uuid, name, ours = self.start_host(label, prof)
        # nova-compute's next update_available_resource (a fresh provider
        # cache, as after its start or a cleared cache) finds a new driver
        # trait.
        client = self.nova_client()
        tree = client.get_provider_tree_and_ensure_root(
            self.ctx, rp_uuid, name=name)
        self.assertTrue(ours <= tree.data(rp_uuid).traits,
                        'nova did not read our traits back')
        tree.add_traits(rp_uuid, NEW_NOVA_TRAIT)
        del client.sent[:]
        try:
            client.update_from_provider_tree(self.ctx, tree)
        except Exception as e:
            self.fail('nova-compute could not write its trait %s on %s '
                      '(%s): %s; requests: %s' % (
                          NEW_NOVA_TRAIT, label, type(e).__name__, e,
                          client.summary()))
        current, _gen = self.server.traits(rp_uuid)
        self.assertIn(NEW_NOVA_TRAIT, current)
        self.assertEqual(ours, {t for t in current if traits.is_ours(t)})

    def test_trait_listing_request_line_of_each_demo_profile(self):
        # The request line nova really sends (recorded from its client)
        # before it disables each bundled demo host; and the disable works.
        lines = {}
        for label, prof in nova_like.demo_profiles():
            client, rp_uuid, _name, _ours = self.start_host(label, prof)
            try:
                self.disable(client, rp_uuid)
                outcome = 'ok'
            except Exception as e:
                outcome = type(e).__name__
            listing = client.trait_listings()
            self.assertEqual(1, len(listing), client.summary())
            lines[label] = (listing[0], outcome)
        too_long = {label: line for label, line in lines.items()
                    if line[0] > MAX_REQUEST_LINE or line[1] != 'ok'}
        self.assertEqual({}, too_long,
                         'nova\'s GET /traits?name=in: request line (bytes) '
                         'and the disable\'s outcome per demo profile, '
                         'bound %d' % MAX_REQUEST_LINE)
