#!/usr/bin/env python3
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

"""Benchmark the ``migcompat`` process start-up, from a venv path under
/tmp and not.

stevedore keeps no entry-point cache when the interpreter's path starts
with /tmp (stevedore/_cache.py). This runs the same venv through its own
path and through a symlink under /tmp, and prints the wall time of whole
processes (median of N, interleaved so that load from other processes
hits both alike). Target: ``profile --root SNAP -f json`` <= 0.15 s on
either path. Each command also runs with migcompat's caches off
(``MIGCOMPAT_CACHE_DIR=``: libvirt asked for every CPU expansion, as
right after a libvirt upgrade). ``--baseline`` adds the same commands
with stevedore's own scan (the hand-over of migcompat_filter.cmd.entry_points
switched off), for the ratio.

    python tools/bench_startup.py [--runs N] [--root SNAPSHOT] [--baseline]
"""

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_SNAP = os.path.join(HERE, '..', 'tests', 'fixtures', 'hosts',
                            'epyc-milan-nested-l1')

#: The console script's code, run by the interpreter we point at (a
#: script's #! line would name the venv's own path, not the /tmp one).
_MAIN = 'import sys; from migcompat_filter.cmd import main; sys.exit(main())'
#: The same, with the hand-over off: what start-up cost before it.
_UNPRIMED = ('import sys; from migcompat_filter import entry_points; '
             'entry_points.prime_stevedore = lambda: False; '
             'from migcompat_filter.cmd import main; sys.exit(main())')


#: pip compiles an installed package's bytecode; a source tree run with
#: PYTHONDONTWRITEBYTECODE (tox sets it) would compile every module of
#: ours in every process instead (~50 ms). The warm-up run writes it.
_ENV = {k: v for k, v in os.environ.items()
        if k != 'PYTHONDONTWRITEBYTECODE'}


#: The same, without migcompat's caches (MIGCOMPAT_CACHE_DIR empty): what
#: a first run after a libvirt upgrade costs.
_NO_CACHE = dict(_ENV, MIGCOMPAT_CACHE_DIR='')


def run_once(python, code, args, env=_ENV):
    """(wall, CPU) seconds of one process. CPU time (user + system) is
    less disturbed by other load on a shared machine than wall time.
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([python, '-c', code] + args, check=True, env=env,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime +
                  after.ru_stime - before.ru_stime)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--runs', type=int, default=15)
    parser.add_argument('--root', default=DEFAULT_SNAP,
                        help='snapshot for profile/traits (default: '
                             'tests/fixtures/hosts/epyc-milan-nested-l1)')
    parser.add_argument('--baseline', action='store_true',
                        help='also time stevedore\'s own scan')
    args = parser.parse_args()
    if not os.path.isdir(args.root):
        parser.error('--root %s: not a snapshot directory' % args.root)
    if args.runs < 1:
        parser.error('--runs %d: must be at least 1' % args.runs)

    with tempfile.TemporaryDirectory(prefix='migcompat-bench-',
                                     dir='/tmp') as tmp:
        link = os.path.join(tmp, 'venv')
        os.symlink(sys.prefix, link)
        pythons = {'venv path': sys.executable,
                   '/tmp path': os.path.join(
                       link, 'bin', os.path.basename(sys.executable))}
        if sys.executable.startswith('/tmp'):
            print('note: this venv already lives under /tmp; both paths '
                  'are /tmp paths')
        commands = {
            '--version': ['--version'],
            'profile --root SNAP -f json': ['profile', '--root', args.root,
                                            '-f', 'json'],
            'traits --root SNAP': ['traits', '--root', args.root],
        }
        codes = {'': (_MAIN, _ENV), ' (no cache)': (_MAIN, _NO_CACHE)}
        if args.baseline:
            codes[' (stevedore scan)'] = (_UNPRIMED, _ENV)
        cases = [(c, p, k) for c in commands for p in pythons for k in codes]
        times = {case: [] for case in cases}
        for case in cases:  # bytecode, page cache, migcompat's caches
            cmd, path, kind = case
            run_once(pythons[path], codes[kind][0], commands[cmd],
                     codes[kind][1])
        for _ in range(args.runs):
            for case in cases:  # interleaved: load hits every case alike
                cmd, path, kind = case
                times[case].append(run_once(pythons[path], codes[kind][0],
                                            commands[cmd], codes[kind][1]))
        bare = [run_once(sys.executable, 'pass', [])
                for _ in range(args.runs)]
        print('%d runs each, whole processes: median wall (min, max) and '
              'median CPU; python -c pass: %.0f ms wall, %.0f ms CPU'
              % (args.runs, statistics.median(w for w, _ in bare) * 1000,
                 statistics.median(c for _, c in bare) * 1000))
        print('os.getloadavg(): %.1f %.1f %.1f' % os.getloadavg())
        for case in cases:
            cmd, path, kind = case
            walls = [w for w, _ in times[case]]
            cpus = [c for _, c in times[case]]
            print('%-28s %-10s%-18s wall %5.0f ms (%.0f, %.0f)  CPU %5.0f ms'
                  % (cmd, path, kind, statistics.median(walls) * 1000,
                     min(walls) * 1000, max(walls) * 1000,
                     statistics.median(cpus) * 1000))
    return 0


if __name__ == '__main__':
    sys.exit(main())
