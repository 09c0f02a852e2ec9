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

"""An in-process Placement for the demo, and the filter's view of it."""

import os
import shutil
import tempfile
import uuid

#: Traits nova-compute sets on every compute node provider; the reporter
#: must leave them alone.
NOVA_TRAITS = ('COMPUTE_NODE',)


class EmbeddedPlacement(object):
    """An in-process Placement on a sqlite file in a private directory."""

    def __init__(self):
        self.tmp = None
        self._direct = None
        self.adapter = None

    def __enter__(self):
        from oslo_config import cfg
        from placement import conf as placement_conf
        from placement import direct
        self.tmp = tempfile.mkdtemp(prefix='migcompat-demo-')
        conf = cfg.ConfigOpts()
        placement_conf.register_opts(conf)
        conf.set_override(
            'connection', 'sqlite:///' + os.path.join(self.tmp,
                                                      'placement.sqlite'),
            group='placement_database')
        conf.set_override('sync_on_startup', True,
                          group='placement_database')
        conf([], project='placement', default_config_files=[])
        self._direct = direct.PlacementDirect(conf,
                                              latest_microversion=True)
        self.adapter = self._direct.__enter__()
        return self

    def __exit__(self, *exc):
        try:
            if self._direct is not None:
                self._direct.__exit__(*exc)
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def create_provider(self, name):
        """A compute node's root resource provider, as nova-compute makes
        it (with nova's own COMPUTE_NODE trait); its UUID.
        """
        rp_uuid = str(uuid.uuid4())
        resp = self.adapter.post(
            '/resource_providers', json={'name': name, 'uuid': rp_uuid},
            microversion='1.20', raise_exc=False)
        if resp.status_code != 200:
            raise RuntimeError('placement refused provider %s: HTTP %d %s'
                               % (name, resp.status_code, resp.text))
        generation = resp.json()['generation']
        resp = self.adapter.put(
            '/resource_providers/%s/traits' % rp_uuid,
            json={'traits': list(NOVA_TRAITS),
                  'resource_provider_generation': generation},
            microversion='1.6', raise_exc=False)
        if resp.status_code != 200:
            raise RuntimeError('placement refused traits of %s: HTTP %d %s'
                               % (name, resp.status_code, resp.text))
        return rp_uuid

    def traits(self, rp_uuid):
        resp = self.adapter.get('/resource_providers/%s/traits' % rp_uuid,
                                microversion='1.6', raise_exc=False)
        return set(resp.json().get('traits', []))


class SchedulerPlacement(object):
    """The one method of nova's report client the filter's profile cache
    uses (``get(url, version=...)``), on the embedded Placement.
    """

    def __init__(self, adapter):
        self.adapter = adapter
        self.calls = 0

    def get(self, url, version=None, global_request_id=None):
        self.calls += 1
        return self.adapter.get(url, microversion=version, raise_exc=False,
                                global_request_id=global_request_id)
