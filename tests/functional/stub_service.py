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

"""A failing HTTP service on loopback, in a process of its own.

``python -m tests.functional.stub_service STATUS`` answers every request
with STATUS and a JSON error body, and prints its port on the first line.
It runs as a child process, not a thread: once nova's functional tests are
imported (stestr imports every test module in every worker), eventlet
patches the test process and a server thread there never gets to answer.
"""

import http.server
import json
import subprocess
import sys

import fixtures


class _Handler(http.server.BaseHTTPRequestHandler):
    status = 503

    def _answer(self):
        body = json.dumps({'errors': [{'status': self.status,
                                       'title': 'stub',
                                       'detail': 'stub says %d'
                                       % self.status}]}).encode()
        self.send_response(self.status)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_PUT = do_POST = do_DELETE = _answer

    def log_message(self, *args):
        pass


class StubService(fixtures.Fixture):
    """Start the stub with ``status``; ``url`` is where it listens."""

    def __init__(self, status):
        super(StubService, self).__init__()
        self.status = status

    def _setUp(self):
        proc = subprocess.Popen(
            [sys.executable, '-m', 'tests.functional.stub_service',
             str(self.status)],
            stdout=subprocess.PIPE, text=True)
        self.addCleanup(proc.wait, 10)
        self.addCleanup(proc.terminate)
        port = int(proc.stdout.readline())
        self.url = 'http://127.0.0.1:%d' % port


def main():
    handler = type('Handler', (_Handler,), {'status': int(sys.argv[1])})
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == '__main__':
    main()
