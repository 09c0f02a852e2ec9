"""A loopback HTTP proxy that answers every request SECONDS late.

``python -m tests.functional.delay_proxy UPSTREAM SECONDS`` forwards each
request to UPSTREAM (``http://127.0.0.1:PORT``) after sleeping SECONDS,
and prints its own port on the first line. A child process, not a thread,
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

    def _forward(self):
        try:
            self._relay()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up waiting (its deadline): expected

    def _relay(self):
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

    def __init__(self, upstream, delay):
        super(DelayProxy, self).__init__()
        self.upstream = upstream
        self.delay = delay

    def _setUp(self):
        proc = subprocess.Popen(
            [sys.executable, '-m', 'tests.functional.delay_proxy',
             self.upstream, str(self.delay)],
            stdout=subprocess.PIPE, text=True)
        self.addCleanup(proc.wait, 10)
        self.addCleanup(proc.terminate)
        port = int(proc.stdout.readline())
        self.url = 'http://127.0.0.1:%d' % port


def main():
    handler = type('Handler', (_Handler,), {'upstream': sys.argv[1],
                                            'delay': float(sys.argv[2])})
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == '__main__':
    main()
