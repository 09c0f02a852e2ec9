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

"""Generate the demo fleet bundled in migcompat_filter/demo/data/.

``migcompat demo`` runs on a fleet of host profiles shipped inside the
package, so that it needs no snapshot directory and no cloud. This script
writes them from the real host snapshots under tests/fixtures/hosts (see
tests/fixtures/README.rst for where each came from), read with the same
reader ``migcompat profile show`` uses, plus a few *variants*: the same real
host after one change a real fleet sees (a rolling microcode and kernel
update, an older QEMU/libvirt, TSX switched off). Every variant names its
base and its change in fleet.json, and the demo prints that description.

Several snapshots (libvirt's own CPU test data) carry CPU facts only; a
cloud host also runs a kernel, QEMU and libvirt. For those, the software
factors the snapshot leaves unknown (and only those) are filled in from a
stack real distributions ship (e.g. Ubuntu 24.04: QEMU 8.2.0, libvirt
10.0.0, kernel 6.8); fleet.json lists the filled factors per host
("filled"), and ``migcompat demo`` says so. The CPU facts stay real.

Output (overwritten):

* ``migcompat_filter/demo/data/hosts/<name>.json`` - one profile per host, as
  ``migcompat profile show -f json`` writes it (so ``migcompat profile
  compare`` reads them too);
* ``migcompat_filter/demo/data/fleet.json`` - the hosts in display order, each
  with its profile file and a one-line description.

Run it again after a change to the reader or the fixtures:
``python tools/make_demo_fleet.py``; ``--check`` exits 1 when the bundled
files are not what it would write (stale data).
"""

import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)
FIXTURES = os.path.join(ROOT, 'tests', 'fixtures', 'hosts')
DATA = os.path.join(ROOT, 'migcompat_filter', 'demo', 'data')

# Machine types an older QEMU (6.2) does not have: everything newer.
_NEWER_THAN_6_2 = ('pc-i440fx-7.', 'pc-q35-7.')


def _older_machine_types(types):
    return [t for t in types if not t.startswith(_NEWER_THAN_6_2)]


def _without_tsx(features):
    """A cpu_features/host_model value with TSX (hle, rtm) gone."""
    out = dict(features)
    out['features'] = [f for f in features['features']
                       if f not in ('hle', 'rtm')]
    return out


def _machine_types_up_to(qemu):
    """QEMU's versioned x86 machine types up to its own version (QEMU adds
    pc-q35-X.Y and pc-i440fx-X.Y with every release X.Y).
    """
    major, minor = (int(p) for p in qemu.split('.')[:2])
    releases = ['2.%d' % i for i in range(4, 13)] + \
        ['%d.%d' % (a, b) for a in range(3, 11) for b in range(3)]
    types = {'pc', 'q35', 'isapc', 'microvm'}
    for rel in releases:
        a, b = (int(p) for p in rel.split('.'))
        if (a, b) <= (major, minor):
            types.add('pc-q35-' + rel)
            types.add('pc-i440fx-' + rel)
    return sorted(types)


def _stack(qemu, libvirt, kernel):
    """The software factors of a host running this stack."""
    return {'qemu_version': qemu, 'libvirt_version': libvirt,
            'kernel_version': kernel,
            'kernel_settings': {'cmdline': {}, 'modprobe': {},
                                'module_parameters': {},
                                'vulnerabilities': {}},
            'machine_types': _machine_types_up_to(qemu)}


#: Software stacks for the snapshots that carry CPU facts only (libvirt's
#: test data): the versions real distributions ship together (Ubuntu 24.04:
#: QEMU 8.2, libvirt 10.0, kernel 6.8). They fill only factors the
#: snapshot leaves unknown, and fleet.json lists them per host.
UBUNTU_2404 = _stack('8.2.0', '10.0.0', '6.8.0-51-generic')
UBUNTU_2404_QEMU_9 = _stack('9.0.0', '10.0.0', '6.8.0-51-generic')
NEWER_STACK = _stack('10.0.0', '11.3.0', '6.12.12-amd64')


#: (name, snapshot under tests/fixtures/hosts, description, changes,
#: fill). ``changes`` maps a factor to its new value, or to a function of
#: the real value (the variant is the same host after that change);
#: ``fill`` gives values only for factors the snapshot does not know: a
#: dict of values, or the name of a second snapshot of the same CPU
#: generation (libvirt's test data has the domain capabilities and the
#: host CPU of a generation in separate files), or a list of both.
FLEET = [
    ('milan-a', 'epyc-milan-nested-l1',
     'AMD EPYC Milan, L1 nested KVM guest (real snapshot)', {}, {}),
    ('milan-b', 'epyc-milan-nested-l1',
     'identical twin of milan-a', {}, {}),
    ('milan-c', 'epyc-milan-nested-l1',
     'milan-a after a rolling update: microcode 0x1000066, kernel '
     '6.18.44-fc-v669 (variant)',
     {'microcode_version': '0x1000066',
      'kernel_version': '6.18.44-fc-v669'}, {}),
    ('milan-old', 'epyc-milan-nested-l1',
     'milan-a not yet upgraded: QEMU 6.2.0, libvirt 8.0.0, no 7.x '
     'machine types (variant)',
     {'qemu_version': '6.2.0', 'libvirt_version': '8.0.0',
      'machine_types': _older_machine_types}, {}),
    ('rome-q82', 'libvirt-domcaps-rome-qemu-8.2.0',
     'AMD EPYC Rome, QEMU 8.2.0 (real domain capabilities; CPU: real '
     'EPYC 7502)', {},
     ['libvirt-cpuid-epyc-7502-32-core-host', UBUNTU_2404]),
    ('rome-q90', 'libvirt-domcaps-rome-qemu-9.0.0',
     'AMD EPYC Rome, QEMU 9.0.0 (real domain capabilities; CPU: real '
     'EPYC 7502)', {},
     ['libvirt-cpuid-epyc-7502-32-core-host', UBUNTU_2404_QEMU_9]),
    ('genoa-q10', 'libvirt-domcaps-genoa-qemu-10.0.0-expanded',
     'AMD EPYC Genoa, QEMU 10.0.0, host-model expanded (real domain '
     'capabilities; CPU: real EPYC 9334)', {},
     ['libvirt-cpuid-epyc-9334-32-core-host', NEWER_STACK]),
    ('clx-8268', 'libvirt-cpuid-xeon-platinum-8268-host',
     'Intel Xeon Platinum 8268, Cascade Lake, TSX on (real CPU)', {},
     UBUNTU_2404),
    ('clx-8268-tsxoff', 'libvirt-cpuid-xeon-platinum-8268-host',
     'clx-8268 booted with tsx=off: hle, rtm gone (variant)',
     # host_model: approximated from the host CPU (these snapshots have
     # no domain capabilities), so it loses TSX with the host CPU.
     {'cpu_features': _without_tsx, 'host_model': _without_tsx,
      'kernel_settings': {'cmdline': {'tsx': 'off'}, 'modprobe': {},
                          'module_parameters': {},
                          'vulnerabilities': {}}}, UBUNTU_2404),
    ('clx-4214r', 'libvirt-cpuid-xeon-silver-4214r-host',
     'Intel Xeon Silver 4214R, Cascade Lake, TSX off in firmware (real '
     'CPU)', {}, UBUNTU_2404),
]


def build():
    """{file name: JSON text} of everything this script writes."""
    from migcompat_filter.host import reader
    from migcompat_filter.host import source as hostsource
    from migcompat_filter import profile as profile_mod

    Unknown = profile_mod.Unknown('absent')

    cache = {}

    def read(snapshot):
        if snapshot not in cache:
            source = hostsource.SnapshotSource(
                os.path.join(FIXTURES, snapshot))
            cache[snapshot] = reader.read_profile(source)
        return cache[snapshot]

    files = {}
    hosts = []
    for name, snapshot, description, changes, fill in FLEET:
        factors = dict(read(snapshot).factors)
        filled = []
        for extra in (fill if isinstance(fill, list) else [fill]):
            if isinstance(extra, str):
                origin, extra = extra, read(extra).factors
            else:
                origin = 'stack'
            for factor, value in sorted(extra.items()):
                if factor in changes or factor in ('cpu_mode', 'cpu_models'):
                    continue
                if (profile_mod.is_unknown(factors.get(factor, Unknown)) and
                        not profile_mod.is_unknown(value)):
                    factors[factor] = value
                    filled.append('%s (%s)' % (factor, origin))
        for factor, change in changes.items():
            factors[factor] = (change(factors[factor]) if callable(change)
                               else change)
        # The guest CPU mode is what the demo varies; the bundled profile
        # does not pretend to know a nova.conf.
        factors.pop('cpu_mode', None)
        factors.pop('cpu_models', None)
        prof = profile_mod.Profile(factors)
        filename = '%s.json' % name
        files[os.path.join('hosts', filename)] = prof.to_json() + '\n'
        hosts.append({'name': name, 'profile': 'hosts/' + filename,
                      'snapshot': snapshot, 'description': description,
                      'variant': bool(changes), 'filled': filled})
    files['fleet.json'] = json.dumps(
        {'comment': 'Written by tools/make_demo_fleet.py; do not edit.',
         'hosts': hosts}, indent=2) + '\n'
    return files


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--check', action='store_true',
                        help='Exit 1 if the bundled files are stale.')
    args = parser.parse_args()
    import logging
    logging.basicConfig(level=logging.ERROR)
    files = build()
    stale = []
    for rel, text in sorted(files.items()):
        path = os.path.join(DATA, rel)
        try:
            with open(path) as f:
                same = f.read() == text
        except FileNotFoundError:
            same = False
        if same:
            continue
        stale.append(rel)
        if not args.check:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, 'w') as f:
                f.write(text)
    if args.check:
        for rel in stale:
            print('stale: migcompat_filter/demo/data/%s' % rel)
        return 1 if stale else 0
    print('%d files in %s, %d changed' % (len(files), DATA, len(stale)))
    return 0


if __name__ == '__main__':
    sys.exit(main())
