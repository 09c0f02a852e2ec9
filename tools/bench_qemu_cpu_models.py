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

"""Benchmark a snapshot profile whose CPU model needs QEMU's definitions.

Prints wall times (median of N runs, in-process) of ``read_profile`` on a
snapshot whose host CPU model libvirt's CPU map does not know (default:
the Xeon Silver 4214R fixture, Cascadelake-Server-v3):

* cold: empty on-disk cache and empty in-process cache (QEMU runs);
* warm disk: on-disk cache filled, in-process cache empty (a new process);
* warm memory: both filled (repeated profiles in one process);

next to a snapshot libvirt's map expands alone, and the same for the
whole ``migcompat profile show`` process (cold and warm disk cache).

    python tools/bench_qemu_cpu_models.py [--runs N] [--root DIR]
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from migcompat_filter.host import qemu_cpu_models
from migcompat_filter.host import reader
from migcompat_filter.host import source as hostsource

HERE = os.path.dirname(os.path.abspath(__file__))
HOSTS = os.path.join(os.path.dirname(HERE), 'tests', 'fixtures', 'hosts')


def timed(func, runs, before=None):
    times = []
    for _ in range(runs):
        if before:
            before()
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return statistics.median(times), min(times), max(times)


def show(label, result):
    print('%-46s median %7.1f ms  (min %.1f, max %.1f)'
          % (label, result[0] * 1000, result[1] * 1000, result[2] * 1000))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--runs', type=int, default=10)
    parser.add_argument('--root', default=os.path.join(
        HOSTS, 'libvirt-cpuid-xeon-silver-4214r-host'))
    parser.add_argument('--libvirt-root', default=os.path.join(
        HOSTS, 'libvirt-cpuid-xeon-platinum-9242-host'))
    args = parser.parse_args()

    cache_home = tempfile.mkdtemp(prefix='migcompat-bench-')
    os.environ['XDG_CACHE_HOME'] = cache_home

    def profile(root):
        src = hostsource.SnapshotSource(root)
        try:
            return reader.read_profile(src)
        finally:
            src.close()

    def cold():
        qemu_cpu_models.clear_memory_cache()
        shutil.rmtree(os.path.join(cache_home, 'migcompat'),
                      ignore_errors=True)

    try:
        feats = profile(args.root)['cpu_features']
        print('%s: cpu_features source %s, expanded_by %s'
              % (os.path.basename(args.root), feats.get('source'),
                 feats.get('expanded_by')))
        show('profile, libvirt map expands alone',
             timed(lambda: profile(args.libvirt_root), args.runs))
        show('profile, QEMU needed, cold cache',
             timed(lambda: profile(args.root), args.runs, before=cold))
        show('profile, QEMU needed, warm disk cache',
             timed(lambda: profile(args.root), args.runs,
                   before=qemu_cpu_models.clear_memory_cache))
        show('profile, QEMU needed, warm in-process cache',
             timed(lambda: profile(args.root), args.runs))

        script = os.path.join(os.path.dirname(sys.executable), 'migcompat')
        cmd = ([script] if os.path.exists(script)
               else [sys.executable, '-m', 'migcompat_filter.cmd.shell'])
        cmd += ['profile', '--root', args.root, '-f', 'json']

        def run_cli():
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        show('CLI process, cold cache',
             timed(run_cli, args.runs, before=cold))
        show('CLI process, warm disk cache', timed(run_cli, args.runs))
    finally:
        shutil.rmtree(cache_home, ignore_errors=True)


if __name__ == '__main__':
    main()
