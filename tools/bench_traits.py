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

"""Trait schema 1 vs 2 on the bundled demo hosts: traits, names, time.

For each profile in migcompat_filter/demo/data/hosts prints the number of
traits and the longest name in each schema, then the encode and decode
time of both schemas over all hosts (cold: the codec's caches cleared
before each round) and their ratio, measured in this one run. Prints
numbers only; no pass/fail. Usage::

    python tools/bench_traits.py [--rounds 20]
"""

import argparse
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from migcompat_filter import profile as profile_mod  # noqa: E402
from migcompat_filter.traits import codec as traits  # noqa: E402
from migcompat_filter.traits import payloads as trait_payloads  # noqa: E402
from migcompat_filter.traits import schema2 as trait_schema2  # noqa: E402

HOSTS = os.path.join(os.path.dirname(HERE), 'migcompat_filter', 'demo',
                     'data', 'hosts')


def _clear():
    trait_schema2._encode_cached.cache_clear()
    trait_schema2._decode_cached.cache_clear()
    trait_payloads._payload_jsonable.cache_clear()


def _timed(func, rounds):
    best = None
    for _i in range(rounds):
        _clear()
        start = time.perf_counter()
        func()
        took = time.perf_counter() - start
        best = took if best is None else min(best, took)
    return best


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--rounds', type=int, default=20)
    args = parser.parse_args(argv)
    profiles = {}
    for name in sorted(os.listdir(HOSTS)):
        with open(os.path.join(HOSTS, name)) as f:
            profiles[name[:-5]] = profile_mod.Profile.from_json(f.read())
    print('%-16s %9s %9s %9s %9s %s' % (
        'host', 's1 traits', 's1 longest', 's2 traits', 's2 longest',
        's2 longest readable (not WHY/PACKED)'))
    encoded = {}
    for name, prof in profiles.items():
        row = [name]
        for schema in (1, 2):
            names = traits.encode(prof, schema)
            encoded[name, schema] = names
            row += [len(names), max(map(len, names))]
        readable = [n for n in encoded[name, 2]
                    if not n.startswith(('CUSTOM_MIGCOMPAT_WHY_',
                                         'CUSTOM_MIGCOMPAT_PACKED_'))]
        row.append(max(map(len, readable)))
        print('%-16s %9d %10d %9d %10d %10d' % tuple(row))
    times = {}
    for schema in (1, 2):
        times['encode', schema] = _timed(lambda: [
            traits.encode(p, schema) for p in profiles.values()],
            args.rounds)
        times['decode', schema] = _timed(lambda: [
            traits.decode(encoded[n, schema]) for n in profiles],
            args.rounds)
    for what in ('encode', 'decode'):
        one, two = times[what, 1], times[what, 2]
        print('%s %d hosts, cold: schema 1 %.1f ms, schema 2 %.1f ms, '
              'ratio %.2f' % (what, len(profiles), one * 1e3, two * 1e3,
                              two / one))


if __name__ == '__main__':
    main()
