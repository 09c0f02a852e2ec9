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

"""A loopback HTTP proxy in front of a real placement that misbehaves on
request.

``FaultProxy(upstream_url)`` listens on a free 127.0.0.1 port and, per
request, does what its current ``fault`` says:

* ``None``: forward to the upstream placement and relay its answer;
* ``('delay', seconds)``: wait, then forward;
* ``('hang',)``: accept, read the request, never answer (until the
  client hangs up, or :data:`MAX_WAIT` has passed);
* ``('drop',)``: close the connection without an answer;
* ``('status', code)``: answer ``code`` with a placement-style error body
  (a 5xx or 409 storm);
* ``('body', bytes)``: answer 200 with that raw body (``{}``, a list,
  non-JSON);
* ``('truncated',)``: a 200 whose Content-Length promises more than is
  sent, then close.

``only`` (a substring of the path) limits the fault to matching requests;
the others are forwarded.

:meth:`FaultProxy.status` tells what the proxy saw: ``requests`` (how
many it was sent), ``hanging`` (how many it holds unanswered now: a client
that moved on without them abandoned them) and ``abandoned`` (how many
hung requests the client gave up on by closing the connection).

The proxy runs in its own process (``python -m tests.functional.fault_proxy
UPSTREAM PORT``): a test process that imported nova runs under eventlet's
monkey patching, where a server thread of its own would share the hub with
the code under test. The fixture sets the fault with a ``POST /__fault__``
(a JSON ``{"fault": [...], "only": ...}``) and reads the counts with a
``GET /__fault__``; the proxy answers both itself.
"""

import base64
import http.client
import http.server
import json
import os
import select
import socket
import subprocess
import sys
import threading
import time
import urllib.parse

import fixtures
import requests

from tests.functional import placement_server

CONTROL = '/__fault__'

#: The longest any fault waits (a hang ends here at the latest).
MAX_WAIT = 60.0


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'

    def log_message(self, *args):  # quiet: the test output stays readable
        pass

    def _any(self):
        proxy = self.server.proxy
        length = int(self.headers.get('Content-Length') or 0)
        body = self.rfile.read(length) if length else None
        if self.path == CONTROL and self.command == 'GET':
            return self._answer(200, json.dumps(proxy.status()).encode())
        if self.path == CONTROL:
            order = json.loads(body)
            fault = order.get('fault')
            if fault and fault[0] == 'body':
                fault = ['body', base64.b64decode(fault[1])]
            proxy.fault, proxy.only = fault, order.get('only')
            return self._answer(200, b'{}')
        proxy.count('requests', 1)
        fault = proxy.fault_for(self.path)
        if fault is None:
            return self._forward(body)
        kind = fault[0]
        if kind == 'delay':
            proxy.stopped.wait(fault[1])
            return self._forward(body)
        if kind == 'hang':
            self._hang(proxy)
            self.close_connection = True
            return
        if kind == 'drop':
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if kind == 'status':
            return self._answer(fault[1], b'{"errors": [{"status": %d, '
                                b'"title": "injected", "detail": '
                                b'"injected fault"}]}' % fault[1])
        if kind == 'body':
            return self._answer(200, fault[1])
        if kind == 'truncated':
            self.send_response(200)
            self.send_header('Content-Type', 'application/json')
            self.send_header('Content-Length', '200')
            self.end_headers()
            self.wfile.write(b'{"traits": ["CUSTOM_')
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        raise ValueError('unknown fault %r' % (fault,))

    do_GET = do_PUT = do_POST = do_DELETE = _any

    def _hang(self, proxy):
        # Never answer; notice when the client hangs up (it gave up).
        proxy.count('hanging', 1)
        try:
            end = time.monotonic() + MAX_WAIT
            while time.monotonic() < end and not proxy.stopped.is_set():
                readable, _, _ = select.select([self.connection], [], [],
                                               0.05)
                if readable and not self.connection.recv(1, socket.MSG_PEEK):
                    proxy.count('abandoned', 1)
                    return
        except OSError:  # reset by the client: it gave up too
            proxy.count('abandoned', 1)
        finally:
            proxy.count('hanging', -1)

    def _answer(self, status, body):
        self.send_response(status)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _forward(self, body):
        upstream = self.server.proxy.upstream
        conn = http.client.HTTPConnection(upstream.hostname, upstream.port,
                                          timeout=30)
        try:
            headers = {k: v for k, v in self.headers.items()
                       if k.lower() not in ('host', 'connection')}
            conn.request(self.command, self.path, body=body,
                         headers=headers)
            resp = conn.getresponse()
            data = resp.read()
        finally:
            conn.close()
        self.send_response(resp.status)
        for k, v in resp.getheaders():
            if k.lower() not in ('connection', 'transfer-encoding',
                                 'content-length'):
                self.send_header(k, v)
        self.send_header('Content-Length', str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class _State(object):
    """The proxy process's state: the upstream and the current fault."""

    def __init__(self, upstream_url):
        self.upstream = urllib.parse.urlsplit(upstream_url)
        self.fault = None
        self.only = None
        self.requests = 0
        self.hanging = self.abandoned = 0
        self.stopped = threading.Event()
        self._lock = threading.Lock()

    def count(self, what, n):
        with self._lock:
            setattr(self, what, getattr(self, what) + n)

    def status(self):
        with self._lock:
            return {'requests': self.requests, 'hanging': self.hanging,
                    'abandoned': self.abandoned}

    def fault_for(self, path):
        if self.fault is None or (self.only and self.only not in path):
            return None
        return self.fault


def serve(upstream_url, port):
    """Run the proxy until killed (the subprocess's main)."""
    server = _Server(('127.0.0.1', port), _Handler)
    server.proxy = _State(upstream_url)
    server.serve_forever(poll_interval=0.05)


class FaultProxy(fixtures.Fixture):
    """The proxy process as a fixture; ``url`` is what clients are given."""

    def __init__(self, upstream_url):
        super(FaultProxy, self).__init__()
        self.upstream_url = upstream_url

    def _setUp(self):
        port = placement_server.free_port()
        self.url = 'http://127.0.0.1:%d' % port
        root = os.path.dirname(os.path.dirname(os.path.dirname(
            os.path.abspath(__file__))))
        self.process = subprocess.Popen(
            [sys.executable, '-m', 'tests.functional.fault_proxy',
             self.upstream_url, str(port)], cwd=root)
        self.addCleanup(self._stop)
        if not wait_until(self._up, timeout=20):
            raise RuntimeError('the fault proxy did not start')

    def _up(self):
        try:
            self.set(None)
            return True
        except requests.RequestException:
            return False

    def _stop(self):
        self.process.kill()
        self.process.wait(10)

    def set(self, fault=None, only=None):
        """Misbehave from now on (fault None: behave)."""
        if fault and fault[0] == 'body':
            fault = ('body', base64.b64encode(fault[1]).decode())
        requests.post(self.url + CONTROL, timeout=5,
                      json={'fault': fault, 'only': only}).raise_for_status()

    def status(self):
        """What the proxy saw: {'requests', 'hanging', 'abandoned'}."""
        resp = requests.get(self.url + CONTROL, timeout=5)
        resp.raise_for_status()
        return resp.json()


def wait_until(predicate, timeout=10.0, step=0.02):
    """Poll predicate until true; False after timeout (bounded loop)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


if __name__ == '__main__':
    serve(sys.argv[1], int(sys.argv[2]))
