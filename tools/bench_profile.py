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

"""Benchmark ``migcompat profile show``: live (libvirt warm) and from a
snapshot.

Prints wall times (median of N runs, in-process) and the wall time of the
whole CLI process. Targets (README): live < 0.5 s, snapshot < 0.1 s.

    python tools/bench_profile.py [--runs N] [--connect URI] [--root DIR]
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from migcompat_filter.host import reader
from migcompat_filter.host import snapshot
from migcompat_filter.host import source as hostsource

HERE = os.path.dirname(os.path.abspath(__file__))


def timed(func, runs):
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return statistics.median(times), min(times), max(times)


def cli(args, runs):
    script = os.path.join(os.path.dirname(sys.executable), 'migcompat')
    cmd = ([script] if os.path.exists(script)
           else [sys.executable, '-m', 'migcompat_filter.cmd.shell'])

    def once():
        subprocess.run(cmd + args, check=True, stdout=subprocess.DEVNULL)
    return timed(once, runs)


def show(label, result):
    print('%-42s median %7.1f ms  (min %.1f, max %.1f)'
          % (label, result[0] * 1000, result[1] * 1000, result[2] * 1000))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--runs', type=int, default=20)
    parser.add_argument('--connect', default=hostsource.DEFAULT_URI)
    parser.add_argument('--root', help='snapshot to read (default: one '
                                       'written from the live host now)')
    args = parser.parse_args()

    # Warm libvirt (first calls may probe QEMU) and our imports.
    warm = hostsource.LiveSource('/', args.connect)
    start = time.perf_counter()
    reader.read_profile(warm)
    print('%-42s %7.1f ms' % ('live profile, cold (first call)',
                              (time.perf_counter() - start) * 1000))
    warm.close()

    def live():
        src = hostsource.LiveSource('/', args.connect)
        try:
            reader.read_profile(src)
        finally:
            src.close()
    show('live profile (libvirt warm, in-process)', timed(live, args.runs))

    tmp = None
    root = args.root
    if root is None:
        tmp = tempfile.mkdtemp(prefix='migcompat-bench-')
        root = os.path.join(tmp, 'snap')
        src = hostsource.LiveSource('/', args.connect)
        snapshot.write_snapshot(src, root)
        src.close()
    try:
        def offline():
            reader.read_profile(hostsource.SnapshotSource(root))
        show('snapshot profile (in-process)', timed(offline, args.runs))
        runs = max(3, args.runs // 4)
        show('CLI process: migcompat profile --root',
             cli(['profile', '-f', 'json', '--root', root], runs))
        show('CLI process: migcompat profile (live)',
             cli(['profile', '-f', 'json', '--connect', args.connect], runs))
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == '__main__':
    main()
