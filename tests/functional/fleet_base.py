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

"""A real placement server holding a fleet of real host profiles, and a
small fake nova beside it, for the fleet command tests (test_fleet,
test_fleet_groups, test_matrix_pictures) and tools/bench_fleet.py.

Each snapshot under tests/fixtures/hosts is read with the reader, encoded
with the codec and published by the reporter on its own resource
provider of a real placement server (gunicorn on loopback, sqlite,
noauth2). The fake nova is a WSGI app on loopback serving the read-only
calls the fleet makes (hypervisors, servers, aggregates); it runs as
``python -m tests.functional.fleet_base fake-nova DATA PORT``.
"""

import atexit
import io
import json
import os
import subprocess
import sys
import tempfile
import uuid
import wsgiref.simple_server

import testtools

from migcompat_filter.cmd import shell
from migcompat_filter.host import reader
from migcompat_filter.host import source as hostsource
from migcompat_filter.placement import client as placement
from migcompat_filter.placement import reporter
from migcompat_filter.traits import codec as traits
from tests.functional import placement_server

HOSTS = os.path.join(os.path.dirname(__file__), '..', 'fixtures', 'hosts')

#: provider name -> fixture snapshot (two identical hosts form a group).
FLEET = {
    'milan-1': 'epyc-milan-nested-l1',
    'milan-2': 'epyc-milan-nested-l1',
    'this-host': 'this-host-epyc-nested-l1-20261125',
    'rome-82': 'libvirt-domcaps-rome-qemu-8.2.0',
    'rome-90': 'libvirt-domcaps-rome-qemu-9.0.0',
    'genoa': 'libvirt-domcaps-genoa-qemu-10.0.0-expanded',
    'gold-6148': 'libvirt-cpuid-xeon-gold-6148-host',
}
UNTRAITED = 'fresh-node'  # a compute node the reporter never ran on
SVG_NS = '{http://www.w3.org/2000/svg}'


def read_host(name):
    source = hostsource.SnapshotSource(os.path.join(HOSTS, name))
    try:
        return reader.read_profile(source)
    finally:
        source.close()


class FakeNova(object):
    """nova's read-only admin API, as much as the fleet uses (loopback)."""

    def __init__(self, hypervisors, servers, aggregates):
        self.hypervisors = hypervisors
        self.servers = servers
        self.aggregates = aggregates
        self.calls = []

    def __call__(self, environ, start_response):
        path = environ['PATH_INFO']
        query = environ.get('QUERY_STRING', '')
        self.calls.append(path)
        body, status = None, '200 OK'
        if path == '/os-hypervisors/detail':
            body = {'hypervisors': self.hypervisors}
        elif path == '/os-aggregates':
            body = {'aggregates': self.aggregates}
        elif path == '/servers/detail':
            import re
            from urllib.parse import parse_qs
            pattern = parse_qs(query).get('name', ['.*'])[0]
            body = {'servers': [s for s in self.servers
                                if re.search(pattern, s['name'])]}
        elif path.startswith('/servers/'):
            sid = path.split('/')[2]
            found = [s for s in self.servers if s['id'] == sid]
            if found:
                body = {'server': found[0]}
            else:
                status, body = '404 Not Found', {'itemNotFound': {}}
        else:
            status, body = '404 Not Found', {}
        data = json.dumps(body).encode()
        start_response(status, [('Content-Type', 'application/json'),
                                ('Content-Length', str(len(data)))])
        return [data]

    def start(self):
        """Serve in a child process: under stestr the nova tests' eventlet
        monkey-patching makes a server thread here never run.
        """
        self.tmp = tempfile.mkdtemp(prefix='migcompat-fake-nova-')
        data = os.path.join(self.tmp, 'nova.json')
        with open(data, 'w') as f:
            json.dump({'hypervisors': self.hypervisors,
                       'servers': self.servers,
                       'aggregates': self.aggregates}, f)
        port = placement_server.free_port()
        self.url = 'http://127.0.0.1:%d' % port
        root = os.path.join(os.path.dirname(__file__), '..', '..')
        self.process = subprocess.Popen(
            [sys.executable, '-m', 'tests.functional.fleet_base',
             'fake-nova', data, str(port)], cwd=root,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        import requests
        import time
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                requests.get(self.url + '/os-aggregates', timeout=2)
                return self
            except requests.RequestException:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError('fake nova did not start')

    def stop(self):
        self.process.terminate()
        self.process.wait(10)
        import shutil
        shutil.rmtree(self.tmp, ignore_errors=True)


def serve_fake_nova(data_path, port):
    with open(data_path) as f:
        data = json.load(f)
    app = FakeNova(data['hypervisors'], data['servers'], data['aggregates'])

    class Quiet(wsgiref.simple_server.WSGIRequestHandler):
        def log_message(self, *args):
            pass
    server = wsgiref.simple_server.make_server('127.0.0.1', port, app,
                                               handler_class=Quiet)
    server.serve_forever()


_SHARED = {}


def _shared_fleet():
    """One placement server with the published fleet, for every class
    (a server start and 8 reports are the slow part).
    """
    if _SHARED:
        return _SHARED
    server = placement_server.PlacementServer()
    server.setUp()
    atexit.register(server.cleanUp)
    client = placement.PlacementClient(
        placement.adapter_noauth(server.url))
    profiles, uuids, cache = {}, {}, {}
    client.create_trait('CUSTOM_GOLD')
    for name, fixture in sorted(FLEET.items()):
        if fixture not in cache:
            cache[fixture] = read_host(fixture)
        profiles[name] = cache[fixture]
        rp = server.create_provider(name)
        uuids[name] = rp['uuid']
        # nova-compute's own traits, which must be left alone
        client.put_traits(rp['uuid'], {'COMPUTE_NODE', 'CUSTOM_GOLD'}, 0)
        reporter.sync(client, rp['uuid'], traits.encode(profiles[name]))
    rp = server.create_provider(UNTRAITED)
    uuids[UNTRAITED] = rp['uuid']
    client.put_traits(rp['uuid'], {'COMPUTE_NODE'}, 0)
    # A root provider that is not a compute node (shared storage).
    server.create_provider('shared-storage-%s' % uuid.uuid4().hex[:6])
    _SHARED.update(placement=server, client=client, profiles=profiles,
                   uuids=uuids)
    return _SHARED


class FleetTestBase(testtools.TestCase):
    """One placement server and one published fleet for the whole class."""

    @classmethod
    def setUpClass(cls):
        super(FleetTestBase, cls).setUpClass()
        shared = _shared_fleet()
        cls.placement = shared['placement']
        cls.client = shared['client']
        cls.profiles = shared['profiles']
        cls.uuids = shared['uuids']

    def run_cli(self, *argv, env=None):
        """(exit status, stdout, stderr) of migcompat in this process."""
        app = shell.MigcompatApp()
        app.stdout, app.stderr = io.StringIO(), io.StringIO()
        old = {}
        for key, value in (env or {}).items():
            old[key] = os.environ.get(key)
            os.environ[key] = value
        try:
            status = app.run(list(argv))
        finally:
            for key, value in old.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
        return status, app.stdout.getvalue(), app.stderr.getvalue()

    def cli_json(self, *argv):
        status, out, err = self.run_cli(*argv + ('-f', 'json',
                                                 '--placement-url',
                                                 self.placement.url))
        self.assertEqual(0, status, err)
        return json.loads(out)


if __name__ == '__main__' and sys.argv[1:2] == ['fake-nova']:
    serve_fake_nova(sys.argv[2], int(sys.argv[3]))
