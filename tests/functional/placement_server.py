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

"""Real Placement for tests: a server process, or an in-process one.

``PlacementServer`` runs the real ``placement.wsgi.api:application`` under
gunicorn on a free loopback port with a private sqlite database and
``auth_strategy = noauth2`` (clients send ``X-Auth-Token: admin``).

``direct_adapter()`` is placement's own in-process ``PlacementDirect``
(wsgi-intercept, no socket). Placement configures its database engine once
per process, so all in-process tests share one sqlite file; tests use
fresh provider names to stay independent.
"""

import atexit
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid

import fixtures
import requests

HEADERS = {'X-Auth-Token': 'admin',
           'OpenStack-API-Version': 'placement 1.39'}


def _die_with_parent():
    """In the child before exec: SIGTERM it when the test process dies.

    The server runs in its own session (so a ^C of the test run does not
    reach it first), which is why an interrupted or killed test run used
    to leave it running: the kernel's parent-death signal
    stops it whatever ended the parent. Linux only; elsewhere a no-op.
    """
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _gunicorn():
    path = os.path.join(os.path.dirname(sys.executable), 'gunicorn')
    if not os.path.exists(path):
        raise RuntimeError('gunicorn is not installed in %s (it is in '
                           'test-requirements.txt)' % sys.prefix)
    return path


class ServerPerClass(object):
    """Mix into a TestCase: one real placement server (``cls.server``)
    for the whole class, as starting one takes seconds.
    """

    @classmethod
    def setUpClass(cls):
        super(ServerPerClass, cls).setUpClass()
        cls.server = PlacementServer()
        cls.server.setUp()

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanUp()
        super(ServerPerClass, cls).tearDownClass()


class PlacementServer(fixtures.Fixture):
    """A real placement API process on 127.0.0.1 with sqlite (or the
    database at ``db_url``), under gunicorn with gunicorn's own defaults
    (its 4,094-byte request-line limit included, as deployed).
    """

    def __init__(self, start_timeout=90, workers=1, db_url=None,
                 timeout=60):
        super(PlacementServer, self).__init__()
        self.start_timeout = start_timeout
        #: gunicorn workers: more than 1 only for a server that is read,
        #: not written (sqlite, see start()).
        self.workers = workers
        #: An SQLAlchemy URL (say, a benchmark's PostgreSQL database)
        #: instead of the private sqlite file ``db``.
        self.db_url = db_url
        #: gunicorn's worker timeout, seconds (a benchmark's 10,000-host
        #: answers on a loaded machine may need more than 60).
        self.timeout = timeout

    def _setUp(self):
        self.tmp = self.useFixture(fixtures.TempDir()).path
        self.db = os.path.join(self.tmp, 'placement.sqlite')
        self.log = os.path.join(self.tmp, 'placement.log')
        self.port = free_port()
        self.url = 'http://127.0.0.1:%d' % self.port
        self.start()
        self.addCleanup(self.stop)

    def start(self):
        if self.workers > 1 and not self.db_url and \
                not os.path.exists(self.db):
            # Each worker syncs the schema, the resource classes and the
            # standard traits as it boots; two doing it at once on one
            # sqlite file lose a lock ("database is locked": the worker
            # exits, gunicorn stops). One worker does it first, alone.
            self._serve(1)
            self.stop()
        self._serve(self.workers)

    def _serve(self, workers):
        env = dict(os.environ)
        env.update({
            'OS_PLACEMENT_DATABASE__CONNECTION':
                self.db_url or 'sqlite:///' + self.db,
            'OS_PLACEMENT_DATABASE__SYNC_ON_STARTUP': 'True',
            'OS_API__AUTH_STRATEGY': 'noauth2',
        })
        with open(self.log, 'ab') as log:
            self.process = subprocess.Popen(
                [_gunicorn(), '--bind', '127.0.0.1:%d' % self.port,
                 # One worker, one thread: sqlite refuses concurrent
                 # writers ("database is locked"); clients still race
                 # between their read and their write, as with MySQL.
                 '--workers', str(workers), '--threads', '1',
                 '--timeout', str(self.timeout),
                 'placement.wsgi.api:application'],
                env=env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True, preexec_fn=_die_with_parent)
        deadline = time.time() + self.start_timeout
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError('placement server exited with %s:\n%s'
                                   % (self.process.returncode,
                                      self.log_tail()))
            try:
                if requests.get(self.url + '/', headers=HEADERS,
                                timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError('placement server did not start in %d s:\n%s'
                           % (self.start_timeout, self.log_tail()))

    def stop(self):
        proc = getattr(self, 'process', None)
        if proc is None or proc.poll() is not None:
            return
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)

    def log_tail(self, lines=30):
        try:
            with open(self.log, errors='replace') as f:
                return ''.join(f.readlines()[-lines:])
        except OSError:
            return ''

    # -- direct HTTP helpers (the "other writer" in tests) ---------------

    def request(self, method, path, **kwargs):
        return requests.request(method, self.url + path, headers=HEADERS,
                                timeout=30, **kwargs)

    def create_provider(self, name=None):
        name = name or 'host-%s' % uuid.uuid4().hex[:12]
        resp = self.request('POST', '/resource_providers',
                            json={'name': name})
        assert resp.status_code == 200, resp.text
        return resp.json()

    def traits(self, rp_uuid):
        resp = self.request('GET', '/resource_providers/%s/traits' % rp_uuid)
        assert resp.status_code == 200, resp.text
        body = resp.json()
        return set(body['traits']), body['resource_provider_generation']


_DIRECT = {}


#: Providers written per sqlite transaction (write_providers).
_WRITE_CHUNK = 500


def write_providers(db, providers, aggregate=None):
    """Write providers straight into a PlacementServer's sqlite database
    (placement's own schema), as its API would store them: the trait
    names not there yet, each provider (a root, generation 1) with its
    traits, and, for those marked, membership of aggregate (a UUID).
    For benchmarks of 10,000 providers, which take minutes over HTTP.

    providers: [(rp_uuid, name, trait names, in_aggregate)].
    """
    import datetime
    import sqlite3
    now = datetime.datetime.utcnow().isoformat(' ')
    con = sqlite3.connect(db, timeout=60)
    try:
        ids = dict(con.execute('SELECT name, id FROM traits'))
        new = sorted({t for _u, _n, names, _a in providers
                      for t in names} - set(ids))
        con.executemany('INSERT INTO traits (created_at, name) '
                        'VALUES (?, ?)', [(now, t) for t in new])
        ids = dict(con.execute('SELECT name, id FROM traits'))
        agg_id = None
        if aggregate is not None:
            con.execute('INSERT OR IGNORE INTO placement_aggregates '
                        '(created_at, uuid) VALUES (?, ?)', (now, aggregate))
            agg_id = con.execute('SELECT id FROM placement_aggregates '
                                 'WHERE uuid = ?', (aggregate,)).fetchone()[0]
        con.commit()
        start = (con.execute('SELECT max(id) FROM resource_providers')
                 .fetchone()[0] or 0) + 1
        # Short transactions: a server worker that writes while it starts
        # (placement syncs the standard traits) waits for the sqlite lock
        # for 5 s at most, then fails to boot.
        for at in range(0, len(providers), _WRITE_CHUNK):
            rps, links, members = [], [], []
            for i, (rp_uuid, name, names, in_agg) in enumerate(
                    providers[at:at + _WRITE_CHUNK], start + at):
                rps.append((now, i, rp_uuid, name, 1, i))
                links.extend((now, ids[t], i) for t in names)
                if in_agg and agg_id is not None:
                    members.append((now, i, agg_id))
            con.executemany(
                'INSERT INTO resource_providers (created_at, id, uuid, '
                'name, generation, root_provider_id) VALUES (?, ?, ?, ?, '
                '?, ?)', rps)
            con.executemany(
                'INSERT INTO resource_provider_traits (created_at, '
                'trait_id, resource_provider_id) VALUES (?, ?, ?)', links)
            con.executemany(
                'INSERT INTO resource_provider_aggregates (created_at, '
                'resource_provider_id, aggregate_id) VALUES (?, ?, ?)',
                members)
            con.commit()
    finally:
        con.close()


def _direct_cleanup():
    ctx = _DIRECT.pop('ctx', None)
    if ctx is not None:
        ctx.__exit__(None, None, None)
    if 'tmp' in _DIRECT:
        shutil.rmtree(_DIRECT.pop('tmp'), ignore_errors=True)


def direct_adapter():
    """A keystoneauth Adapter on an in-process placement (shared)."""
    if 'adapter' not in _DIRECT:
        from oslo_config import cfg
        from placement import conf as placement_conf
        from placement import direct

        tmp = tempfile.mkdtemp(prefix='migcompat-placement-')
        _DIRECT['tmp'] = tmp
        conf = cfg.ConfigOpts()
        placement_conf.register_opts(conf)
        conf.set_override('connection',
                          'sqlite:///' + os.path.join(tmp, 'db.sqlite'),
                          group='placement_database')
        conf.set_override('sync_on_startup', True,
                          group='placement_database')
        conf([], default_config_files=[])
        ctx = direct.PlacementDirect(conf, latest_microversion=True)
        adapter = ctx.__enter__()
        _DIRECT['ctx'] = ctx
        _DIRECT['adapter'] = adapter
        atexit.register(_direct_cleanup)
    adapter = _DIRECT['adapter']
    adapter.default_microversion = '1.39'
    return adapter
