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

"""Benchmark the commands that read many domain XML files (review N10).

Writes a snapshot (a copy of this machine's test fixture) whose
``libvirt/domains/`` holds N domain XML files made from the real running
guest's live XML (tests/fixtures/guests/host-model-guest.live.xml, about 5
KiB with its devices): each has its own UUID and name, and their CPUs are
a few distinct blocks, as in a cloud where guests share flavors (the
host-model CPU of this host, a few custom models, some with invtsc and a
pinned TSC, some with maxphysaddr, some host-passthrough).

Then times, for each command, the wall time of the real ``migcompat``
console script (what an operator waits for) and, in-process, the part that
reads the domains::

    profile show --root SNAP -f json
    guest list --root SNAP -f json
    profile publish --root SNAP --dry-run

Prints numbers only (files, seconds, per-file ms); no pass/fail. With
``--profile``, prints the cProfile top functions of the in-process read.

Usage::

    python tools/bench_domains.py [--files 5000] [--runs 3] [--profile]
"""

import argparse
import cProfile
import os
import pstats
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

from migcompat_filter.host import reader  # noqa: E402
from migcompat_filter.host import source as hostsource  # noqa: E402

SNAP = os.path.join(ROOT, 'tests', 'fixtures', 'hosts',
                    'this-host-epyc-nested-l1-20261125')
GUEST = os.path.join(ROOT, 'tests', 'fixtures', 'guests',
                     'host-model-guest.live.xml')
TEMPLATE_UUID = '3f0a7c1e-2b4d-4e8a-9c61-5d2f8e7a1b90'

#: The distinct CPU blocks of the fleet's guests (None: the template's
#: own host-model CPU), and the <clock> timers some of them pin.
CPUS = [
    (None, ''),
    ("<cpu mode='custom' match='exact' check='full'>"
     "<model fallback='forbid'>EPYC</model>"
     "<feature policy='require' name='x2apic'/></cpu>", ''),
    ("<cpu mode='custom' match='exact' check='full'>"
     "<model fallback='forbid'>Opteron_G3</model>"
     "<feature policy='disable' name='svm'/></cpu>", ''),
    ("<cpu mode='custom' match='exact' check='full'>"
     "<model fallback='forbid'>EPYC-Rome</model>"
     "<feature policy='require' name='invtsc'/></cpu>",
     "<timer name='tsc' frequency='2445426000'/>"),
    ("<cpu mode='custom' match='exact' check='full'>"
     "<model fallback='forbid'>Skylake-Client</model>"
     "<maxphysaddr mode='emulate' bits='42'/></cpu>", ''),
    ("<cpu mode='host-passthrough' check='none' migratable='on'/>", ''),
]

COMMANDS = (
    ('profile show', ('profile', 'show', '--root', '{snap}', '-f', 'json')),
    ('guest list', ('guest', 'list', '--root', '{snap}', '-f', 'json')),
    ('publish --dry-run', ('profile', 'publish', '--root', '{snap}',
                           '--dry-run')),
)


def make_snapshot(where, files):
    """A snapshot under where with files domain XMLs; its path."""
    snap = os.path.join(where, 'snap')
    shutil.copytree(SNAP, snap, symlinks=True)
    domains = os.path.join(snap, hostsource.DOMAINS_DIR)
    os.makedirs(domains, exist_ok=True)
    with open(GUEST) as f:
        template = f.read()
    start = template.index('<cpu ')
    end = template.index('</cpu>') + len('</cpu>')
    for i in range(files):
        cpu, timer = CPUS[i % len(CPUS)]
        text = template if cpu is None else (
            template[:start] + cpu + template[end:])
        if timer:
            text = text.replace("<clock offset='utc'>",
                                "<clock offset='utc'>" + timer, 1)
        guest = str(uuid.UUID(int=i + 1, version=4))
        text = text.replace(TEMPLATE_UUID, guest).replace(
            'instance-0000002a', 'instance-%08x' % (i + 1))
        with open(os.path.join(domains, guest + '.xml'), 'w') as f:
            f.write(text)
    return snap


def command():
    script = os.path.join(os.path.dirname(sys.executable), 'migcompat')
    if os.path.exists(script):
        return [script]
    return [sys.executable, '-m', 'migcompat_filter.cmd.shell']


def run_cli(args, env):
    start = time.perf_counter()
    proc = subprocess.run(command() + list(args), capture_output=True,
                          text=True, env=env)
    took = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        print('  %s: exit %d: %s' % (' '.join(args[:2]), proc.returncode,
                                     proc.stderr.strip()[-300:]))
    return took


def read_guests(snap):
    """The in-process part: the running_guests factor of the snapshot."""
    return reader.read_profile(hostsource.SnapshotSource(snap),
                               ['running_guests'])['running_guests']


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--files', type=int, default=5000)
    parser.add_argument('--runs', type=int, default=3)
    parser.add_argument('--profile', action='store_true',
                        help='print the cProfile top 25 (cumulative) of '
                             'the in-process read and of guest list')
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix='bench-domains-')
    # No expansion cache: every run pays what a first run pays.
    env = dict(os.environ, MIGCOMPAT_CACHE_DIR='')
    os.environ['MIGCOMPAT_CACHE_DIR'] = ''
    try:
        start = time.perf_counter()
        snap = make_snapshot(tmp, args.files)
        print('wrote %d domain files (%d distinct CPU blocks) in %.1f s'
              % (args.files, len(CPUS), time.perf_counter() - start))
        times = []
        for _ in range(args.runs):
            start = time.perf_counter()
            value = read_guests(snap)
            times.append(time.perf_counter() - start)
        print('in-process running_guests read: %.2f s (median of %d), '
              '%.3f ms per file; count=%s'
              % (statistics.median(times), args.runs,
                 1000 * statistics.median(times) / max(1, args.files),
                 value.get('count') if isinstance(value, dict) else value))
        for label, argv in COMMANDS:
            argv = [a.format(snap=snap) for a in argv]
            took = [run_cli(argv, env) for _ in range(args.runs)]
            print('%-18s files=%d  %.2f s (median of %d; min %.2f)  '
                  '%.3f ms per file'
                  % (label, args.files, statistics.median(took), args.runs,
                     min(took), 1000 * statistics.median(took)
                     / max(1, args.files)))
        if args.profile:
            prof = cProfile.Profile()
            prof.runcall(read_guests, snap)
            pstats.Stats(prof).sort_stats('cumulative').print_stats(25)
            from migcompat_filter.cmd import shell
            prof = cProfile.Profile()
            devnull = open(os.devnull, 'w')
            saved = sys.stdout
            sys.stdout = devnull
            try:
                prof.runcall(shell.main, ['guest', 'list', '--root', snap,
                                          '-f', 'json'])
            finally:
                sys.stdout = saved
                devnull.close()
            pstats.Stats(prof).sort_stats('cumulative').print_stats(25)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == '__main__':
    main()
