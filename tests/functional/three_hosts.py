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

"""Three published hosts in a real placement behind a misbehaving proxy
(test_placement_faults, test_refresher_placement).

One placement server (gunicorn, sqlite) per class holds three compute
providers the reporter published: ``src`` and ``twin`` (the same AMD
Milan profile) and ``intel`` (an Intel Xeon: not a live-migration
destination for src). Each test reaches it through its own
tests/functional/fault_proxy.py (``self.proxy``).
"""

import uuid

import testtools

from migcompat_filter.placement import client as placement
from migcompat_filter.placement import reporter
from migcompat_filter.traits import codec as traits
from tests.functional import fault_proxy
from tests.functional import nova_fixtures as mc
from tests.functional import placement_server

MILAN = 'epyc-milan-nested-l1'
INTEL = 'libvirt-cpuid-xeon-gold-6148-host'


class ThreeHostsTestCase(testtools.TestCase):
    """cls.server, cls.writer (a client straight to it), cls.uuids (host
    name -> provider UUID), self.proxy.
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.server = placement_server.PlacementServer()
        cls.server.setUp()
        cls.writer = placement.PlacementClient(
            placement.adapter_noauth(cls.server.url))
        cls.uuids = {}
        for name, prof in (('src', MILAN), ('twin', MILAN),
                           ('intel', INTEL)):
            rp = cls.server.create_provider('%s-%s' % (
                name, uuid.uuid4().hex[:6]))
            cls.uuids[name] = rp['uuid']
            reporter.sync(cls.writer, rp['uuid'],
                          traits.encode(mc.real_profile(prof)))

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanUp()
        super().tearDownClass()

    def setUp(self):
        super().setUp()
        self.proxy = self.useFixture(fault_proxy.FaultProxy(self.server.url))
