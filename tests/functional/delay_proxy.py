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

"""A loopback HTTP proxy that answers every request SECONDS late.

``python -m tests.functional.delay_proxy UPSTREAM SECONDS [LOG]`` forwards
each request to UPSTREAM (``http://127.0.0.1:PORT``) after sleeping
SECONDS, and prints its own port on the first line; with LOG, it appends
"METHOD PATH" of each request to that file first (what the server really
received: CountingProxy). A child process, not a thread,
for the reason stub_service gives (eventlet in the test process).
"""

import http.client
import http.server
import subprocess
import sys
import time
import urllib.parse

import fixtures


class _Handler(http.server.BaseHTTPRequestHandler):
    upstream = None
    delay = 0.0
    log = None

    def _forward(self):
        try:
            self._relay()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up waiting (its deadline): expected

    def _relay(self):
        if self.log:
            with open(self.log, 'a') as f:
                f.write('%s %s\n' % (self.command, self.path))
        time.sleep(self.delay)
        length = int(self.headers.get('Content-Length') or 0)
        body = self.rfile.read(length) if length else None
        parts = urllib.parse.urlsplit(self.upstream)
        conn = http.client.HTTPConnection(parts.hostname, parts.port,
                                          timeout=30)
        headers = {k: v for k, v in self.headers.items()
                   if k.lower() not in ('host', 'connection')}
        conn.request(self.command, self.path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        self.send_response(resp.status)
        for key, value in resp.getheaders():
            if key.lower() not in ('transfer-encoding', 'connection',
                                   'content-length'):
                self.send_header(key, value)
        self.send_header('Content-Length', str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        conn.close()

    do_GET = do_PUT = do_POST = do_DELETE = _forward

    def log_message(self, *args):
        pass


class DelayProxy(fixtures.Fixture):
    """Start the proxy in front of upstream; ``url`` is where it listens."""

    def __init__(self, upstream, delay, log=None):
        super(DelayProxy, self).__init__()
        self.upstream = upstream
        self.delay = delay
        self.log = log

    def _setUp(self):
        proc = subprocess.Popen(
            [sys.executable, '-m', 'tests.functional.delay_proxy',
             self.upstream, str(self.delay)] + (
                 [self.log] if self.log else []),
            stdout=subprocess.PIPE, text=True)
        self.addCleanup(proc.wait, 10)
        self.addCleanup(proc.terminate)
        port = int(proc.stdout.readline())
        self.url = 'http://127.0.0.1:%d' % port


def main():
    handler = type('Handler', (_Handler,), {
        'upstream': sys.argv[1], 'delay': float(sys.argv[2]),
        'log': sys.argv[3] if len(sys.argv) > 3 else None})
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()


class CountingProxy(fixtures.Fixture):
    """A proxy in front of placement that records every request line it
    forwards (a child process: eventlet may have patched this one).
    """

    def __init__(self, upstream):
        super(CountingProxy, self).__init__()
        self.upstream = upstream

    def _setUp(self):
        self.log = self.useFixture(fixtures.TempDir()).join('requests')
        open(self.log, 'w').close()
        self.url = self.useFixture(
            DelayProxy(self.upstream, 0, log=self.log)).url

    @property
    def seen(self):
        with open(self.log) as f:
            return [tuple(line.rstrip('\n').split(' ', 1)) for line in f]

    def count(self):
        return len(self.seen)


if __name__ == '__main__':
    main()
