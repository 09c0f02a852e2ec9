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

"""A private PostgreSQL cluster for benchmarks (Debian's ``postgresql``).

``PrivateCluster`` runs ``initdb`` and ``pg_ctl`` from Debian's package in
a temporary directory, as a non-root user (``postgres``, the package's
own, when run as root), listening on 127.0.0.1 only on a free port that
is not 5432, with trust authentication: nothing outside the benchmark
sees it, and ``cleanUp`` stops it and deletes its files. A system
cluster, if any, is never touched.

When the binaries are missing and we are root, ``ensure_installed``
installs the package with apt-get (run ``apt-get update`` first on a
fresh machine); otherwise it says what to install. The Python driver is
``psycopg2`` (``pip install psycopg2-binary``; in upper-constraints).

``Rows`` fills a placement database with COPY (a 10,000-host benchmark
writes a million rows in seconds); ``SqliteRows`` is the same on sqlite.
"""

import glob
import io
import os
import pwd
import shutil
import socket
import sqlite3
import subprocess
import tempfile

import fixtures

PG_GLOB = '/usr/lib/postgresql/*/bin'
USER = 'postgres'


class Missing(Exception):
    """PostgreSQL (or psycopg2) is not there and cannot be installed."""


def bindir():
    dirs = sorted(glob.glob(PG_GLOB), key=lambda d: int(
        d.split('/')[-2]) if d.split('/')[-2].isdigit() else 0)
    for d in reversed(dirs):
        if os.path.exists(os.path.join(d, 'initdb')):
            return d
    return None


def ensure_installed():
    """The directory of initdb/pg_ctl, installing Debian's postgresql
    package when it is missing and we are root.
    """
    found = bindir()
    if found:
        return found
    if os.geteuid() != 0:
        raise Missing('PostgreSQL is not installed (no %s/initdb): as root, '
                      'apt-get install postgresql' % PG_GLOB)
    env = dict(os.environ, DEBIAN_FRONTEND='noninteractive')
    proc = subprocess.run(['apt-get', 'install', '-y',
                           '--no-install-recommends', 'postgresql'],
                          env=env, capture_output=True, text=True)
    found = bindir()
    if proc.returncode or not found:
        raise Missing('apt-get install postgresql failed (%d): %s'
                      % (proc.returncode, proc.stderr.strip()[-500:]))
    return found


def _free_port():
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(('127.0.0.1', 0))
            port = s.getsockname()[1]
        if port != 5432:
            return port


class PrivateCluster(fixtures.Fixture):
    """initdb + pg_ctl start in a temporary directory; ``url`` is the
    SQLAlchemy URL of the cluster (add ``/<database>``).
    """

    def __init__(self, shared_buffers='256MB', start_timeout=120):
        super(PrivateCluster, self).__init__()
        self.shared_buffers = shared_buffers
        self.start_timeout = start_timeout

    def _setUp(self):
        try:
            import psycopg2  # noqa: F401
        except ImportError:
            raise Missing('psycopg2 is not installed: pip install '
                          'psycopg2-binary')
        self.bin = ensure_installed()
        self.tmp = tempfile.mkdtemp(prefix='migcompat-pg-')
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.data = os.path.join(self.tmp, 'data')
        self.log = os.path.join(self.tmp, 'postgres.log')
        self.port = _free_port()
        self.user = USER if os.geteuid() == 0 else pwd.getpwuid(
            os.geteuid()).pw_name
        if os.geteuid() == 0:
            pw = pwd.getpwnam(USER)
            os.chown(self.tmp, pw.pw_uid, pw.pw_gid)
        self._run('initdb', '-D', self.data, '-A', 'trust', '-U', self.user,
                  '-E', 'UTF8', '--no-sync')
        self._run('pg_ctl', '-D', self.data, '-l', self.log, '-w', '-t',
                  str(self.start_timeout), '-o',
                  "-c listen_addresses=127.0.0.1 -p %d -k %s "
                  "-c shared_buffers=%s -c max_connections=50"
                  % (self.port, self.tmp, self.shared_buffers), 'start')
        self.addCleanup(self.stop)
        self.url = 'postgresql+psycopg2://%s@127.0.0.1:%d' % (
            self.user, self.port)

    def _run(self, tool, *args):
        cmd = [os.path.join(self.bin, tool)] + list(args)
        if os.geteuid() == 0:
            cmd = ['runuser', '-u', USER, '--'] + cmd
        proc = subprocess.run(cmd, capture_output=True, text=True,
                              cwd=self.tmp)
        if proc.returncode:
            raise Missing('%s failed (%d): %s%s' % (
                tool, proc.returncode, proc.stderr.strip()[-800:],
                self.log_tail()))
        return proc.stdout

    def stop(self):
        if os.path.exists(os.path.join(self.data, 'postmaster.pid')):
            self._run('pg_ctl', '-D', self.data, '-m', 'fast', '-w', 'stop')

    def log_tail(self):
        try:
            with open(self.log, errors='replace') as f:
                return '\n' + ''.join(f.readlines()[-20:])
        except OSError:
            return ''

    def create_database(self, name):
        """A new empty database; its SQLAlchemy URL."""
        con = connect(self.url + '/postgres')
        con.autocommit = True
        try:
            cur = con.cursor()
            cur.execute('DROP DATABASE IF EXISTS "%s"' % name)
            cur.execute('CREATE DATABASE "%s"' % name)
        finally:
            con.close()
        return '%s/%s' % (self.url, name)


def connect(url):
    import psycopg2
    return psycopg2.connect(url.replace('postgresql+psycopg2://',
                                        'postgresql://'))


def copy_rows(cur, table, columns, rows):
    """COPY rows (tuples of str()-able values, None as NULL) into table."""
    buf = io.StringIO()
    for row in rows:
        buf.write('\t'.join('\\N' if x is None else str(x)
                            for x in row) + '\n')
    buf.seek(0)
    cur.copy_from(buf, table, columns=columns)


class Rows(object):
    """A placement database to fill: query, insert (COPY), close (the
    provider id sequence moved past the rows, ANALYZE).
    """

    def __init__(self, url):
        self.con = connect(url)
        self.cur = self.con.cursor()

    def query(self, sql):
        self.cur.execute(sql)
        return self.cur.fetchall()

    def insert(self, table, cols, rows):
        copy_rows(self.cur, table, cols, rows)

    def close(self):
        self.cur.execute("SELECT setval(pg_get_serial_sequence("
                         "'resource_providers', 'id'), (SELECT max(id) FROM "
                         "resource_providers))")
        self.con.commit()
        self.con.autocommit = True
        self.cur.execute('ANALYZE')
        self.con.close()


class SqliteRows(object):
    """The same interface as Rows, on a sqlite file (a running
    placement's: short write transactions).
    """

    def __init__(self, path):
        self.con = sqlite3.connect(path, timeout=60)

    def query(self, sql):
        return self.con.execute(sql).fetchall()

    def insert(self, table, cols, rows):
        rows = list(rows)
        for at in range(0, len(rows), 20000):  # short write locks
            self.con.executemany('INSERT INTO %s (%s) VALUES (%s)' % (
                table, ', '.join(cols), ', '.join('?' * len(cols))),
                rows[at:at + 20000])
            self.con.commit()

    def close(self):
        self.con.commit()
        self.con.close()
