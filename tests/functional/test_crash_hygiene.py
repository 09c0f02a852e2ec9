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

"""``migcompat snapshot`` killed with SIGKILL.

A real snapshot process is killed at chosen points of its run (through a
wrapper that SIGKILLs itself there) and at spread-out moments (the plain
console script): DIR must always be a complete snapshot, and the next run
must remove the litter once it is stale. Fails on main: the litter is
never removed, and the swap is two renames with a window between them.
"""

import os
import signal
import subprocess
import sys
import time

import fixtures
import testtools

from migcompat_filter.host import snapshot
from tests import cli

CONNECT = ('--connect', 'test:///default')

# Runs "migcompat snapshot" with one function patched to SIGKILL the
# process: argv[1] names the point, the rest is the command line.
_WRAPPER = '''
import os, signal, sys
from migcompat_filter.cmd import shell
from migcompat_filter.host import snapshot
point = sys.argv[1]

def die():
    os.kill(os.getpid(), signal.SIGKILL)

def kill_at(name, before, nth=1):
    real = getattr(snapshot, name)
    calls = []
    def patched(*args, **kwargs):
        calls.append(1)
        if before and len(calls) == nth:
            die()
        result = real(*args, **kwargs)
        if not before and len(calls) == nth:
            die()
        return result
    setattr(snapshot, name, patched)

if point == 'mid-capture':
    kill_at('_write', before=True, nth=3)
elif point == 'before-marker':
    kill_at('_marker_text', before=False)
elif point == 'before-swap':
    kill_at('exchange', before=True)
elif point == 'after-swap':
    kill_at('exchange', before=False)
elif point == 'between-renames':
    # The fallback where renameat2 cannot exchange (documented window).
    snapshot.exchange = lambda a, b: False
    real_rename = os.rename
    def rename(src, dst):
        real_rename(src, dst)
        if '.old.' in os.path.basename(dst):
            die()
    os.rename = rename
sys.exit(shell.main(sys.argv[2:]))
'''


class TestSnapshotKilled(testtools.TestCase):

    def setUp(self):
        super(TestSnapshotKilled, self).setUp()
        self.tmp = self.useFixture(fixtures.TempDir()).path
        self.dir = os.path.join(self.tmp, 'host')
        rc, out, err = cli.run('snapshot', self.dir, *CONNECT)
        self.assertEqual(0, rc, err)

    def kill_at(self, point):
        proc = subprocess.run(
            [sys.executable, '-c', _WRAPPER, point, 'snapshot', self.dir]
            + list(CONNECT), capture_output=True, text=True, timeout=60)
        self.assertEqual(-signal.SIGKILL, proc.returncode, proc.stderr)

    def litter(self):
        return sorted(e for e in os.listdir(self.tmp)
                      if e.startswith('.host.'))

    def assertComplete(self):
        self.assertTrue(snapshot.is_snapshot(self.dir), os.listdir(self.tmp))
        rc, out, err = cli.run('profile', '--root', self.dir, '-f', 'json')
        self.assertEqual(0, rc, err)

    def age_litter(self):
        old = time.time() - 2 * snapshot.STALE_SECONDS
        for entry in self.litter():
            os.utime(os.path.join(self.tmp, entry), (old, old))

    def assertNextRunCleansUp(self):
        self.age_litter()
        rc, out, err = cli.run('snapshot', self.dir, *CONNECT)
        self.assertEqual(0, rc, err)
        self.assertEqual([], self.litter())
        self.assertComplete()

    def test_killed_at_each_point(self):
        for point in ('mid-capture', 'before-marker', 'before-swap',
                      'after-swap'):
            self.kill_at(point)
            self.assertComplete()
            self.assertNotEqual([], self.litter(), point)
        self.assertNextRunCleansUp()

    def test_fresh_litter_is_left_alone(self):
        # A younger temp directory may be a concurrent run's.
        self.kill_at('mid-capture')
        before = self.litter()
        rc, out, err = cli.run('snapshot', self.dir, *CONNECT)
        self.assertEqual(0, rc, err)
        self.assertEqual(before, self.litter())

    def test_killed_at_spread_moments(self):
        # The plain console script, killed once its temporary directory
        # appears and then 0, 2, 4, ... ms later: through the capture, the
        # marker and the swap.
        littered = 0
        for i in range(10):
            before = set(self.litter())
            proc = subprocess.Popen(
                cli.command() + ['snapshot', self.dir] + list(CONNECT),
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            deadline = time.monotonic() + 30
            while (set(self.litter()) <= before and proc.poll() is None
                   and time.monotonic() < deadline):
                time.sleep(0.001)
            time.sleep(0.002 * i)
            proc.kill()
            proc.wait(timeout=60)
            self.assertComplete()
            littered += bool(set(self.litter()) - before)
        self.assertGreater(littered, 0)
        self.assertNextRunCleansUp()

    def test_fallback_window_is_recovered(self):
        # Without RENAME_EXCHANGE a kill between the two renames leaves no
        # snapshot at DIR (documented); the old one is beside it and the
        # next run writes DIR and removes it.
        self.kill_at('between-renames')
        self.assertFalse(os.path.exists(self.dir))
        self.assertTrue(any('.old.' in e for e in self.litter()))
        self.assertNextRunCleansUp()


class TestReplace(testtools.TestCase):
    """snapshot._replace in-process, with and without the exchange."""

    def setUp(self):
        super(TestReplace, self).setUp()
        self.tmp = self.useFixture(fixtures.TempDir()).path
        self.path = os.path.join(self.tmp, 'snap')

    def make(self, name, text):
        d = os.path.join(self.tmp, name)
        os.mkdir(d)
        with open(os.path.join(d, snapshot.MARKER), 'w') as f:
            f.write(text)
        return d

    def marker(self):
        with open(os.path.join(self.path, snapshot.MARKER)) as f:
            return f.read()

    def test_exchange_swaps_and_drops_the_old(self):
        self.make('snap', 'old')
        snapshot._replace(self.make('.snap.abcd1234', 'new'), self.path)
        self.assertEqual('new', self.marker())
        self.assertEqual(['snap'], os.listdir(self.tmp))

    def test_without_exchange_two_renames(self):
        self.useFixture(fixtures.MockPatchObject(
            snapshot, 'exchange', return_value=False))
        self.make('snap', 'old')
        snapshot._replace(self.make('.snap.abcd1234', 'new'), self.path)
        self.assertEqual('new', self.marker())
        self.assertEqual(['snap'], os.listdir(self.tmp))

    def test_exchange_unsupported_changes_nothing(self):
        a, b = self.make('a', 'a'), self.make('b', 'b')
        self.useFixture(fixtures.MockPatchObject(
            snapshot, '_libc_renameat2', return_value=None))
        self.assertFalse(snapshot.exchange(a, b))
        with open(os.path.join(a, snapshot.MARKER)) as f:
            self.assertEqual('a', f.read())

    def test_remove_stale_temps_only_ours(self):
        names = ('.snap.abcd1234', '.snap.old.abcd1234', '.snap.x',
                 '.snapshot.abcd1234', 'snap2')
        for name in names:
            os.mkdir(os.path.join(self.tmp, name))
        now = time.time() + 2 * snapshot.STALE_SECONDS
        self.assertEqual(
            ['.snap.abcd1234', '.snap.old.abcd1234'],
            sorted(snapshot.remove_stale_temps(self.path, now=now)))
        self.assertEqual(['.snap.x', '.snapshot.abcd1234', 'snap2'],
                         sorted(os.listdir(self.tmp)))
        self.assertEqual([], snapshot.remove_stale_temps(self.path))
