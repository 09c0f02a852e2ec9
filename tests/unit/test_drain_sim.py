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

"""The migration model and the simulator (what the benchmark stands on).

The model must say what its docstring says libvirt, QEMU and nova do;
the simulator must count each request once, in one outcome.
"""

import os
import sys

import testtools

# The simulator is a tool (tools/rolling_upgrade_sim), not installed code.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                os.pardir, os.pardir, 'tools'))
from rolling_upgrade_sim import core  # noqa: E402
from rolling_upgrade_sim import migration_model as mm  # noqa: E402


def host(name, flags=('sse2', 'avx', 'avx2'), host_model=None, qemu=(8, 2, 0),
         microcode='0x1', kernel='6.8', vendor='Intel', models=('m1',)):
    return mm.Host(name, vendor, (6, 85, 7), host_model or flags, flags,
                   models, microcode, kernel, 'fw', qemu, key=name)


class ModelTest(testtools.TestCase):

    def test_host_model_guest_fails_where_a_feature_is_missing(self):
        src, dst = host('a'), host('b', flags=('sse2', 'avx'))
        guest = mm.started_on(src, mm.HOST_MODEL, 'g')
        self.assertEqual(mm.FAILED, mm.migrate(src, dst, guest)[0])
        self.assertEqual(mm.OK, mm.migrate(dst, src, mm.started_on(
            dst, mm.HOST_MODEL, 'g2'))[0])

    def test_passthrough_guest_moves_and_is_unsafe_on_another_host(self):
        src = host('a')
        guest = mm.started_on(src, mm.HOST_PASSTHROUGH, 'g')
        self.assertEqual(mm.OK, mm.migrate(src, host('twin'), guest)[0])
        outcome, why = mm.migrate(src, host('b', microcode='0x2'), guest)
        self.assertEqual(mm.UNSAFE, outcome)
        self.assertIn('non-identical', why)
        outcome, why = mm.migrate(src, host('c', flags=('sse2',)), guest)
        self.assertEqual(mm.UNSAFE, outcome)
        self.assertIn('avx', why)

    def test_qemu_one_way_and_machine_types(self):
        old, new = host('old', qemu=(8, 2, 0)), host('new', qemu=(9, 0, 0))
        guest = mm.started_on(old, mm.HOST_MODEL, 'g')
        self.assertEqual(mm.OK, mm.migrate(old, new, guest)[0])
        back = mm.started_on(new, mm.HOST_MODEL, 'g2')
        self.assertEqual(mm.FAILED, mm.migrate(new, old, back)[0])
        self.assertIsNotNone(mm.nova_precheck(new, old, back))

    def test_nova_compares_the_source_host_cpu_not_the_guest(self):
        # A custom guest of a small model fits anywhere, but nova's
        # precheck compares the source host's CPU and refuses.
        src, dst = host('big'), host('small', flags=('sse2',))
        guest = mm.started_on(src, mm.CUSTOM, 'g', model='m1',
                              model_features=('sse2',))
        self.assertEqual(mm.OK, mm.migrate(src, dst, guest)[0])
        self.assertIn('source host CPU', mm.nova_precheck(src, dst, guest))
        # Nothing is checked for a passthrough guest.
        pt = mm.started_on(src, mm.HOST_PASSTHROUGH, 'p')
        self.assertIsNone(mm.nova_precheck(src, dst, pt))

    def test_non_migratable_features_never_travel(self):
        src = host('a', flags=('sse2', 'invtsc'))
        guest = mm.started_on(src, mm.HOST_MODEL, 'g')
        self.assertNotIn('invtsc', guest.features)


class SimulatorTest(testtools.TestCase):

    def test_every_request_has_one_outcome(self):
        worlds, days = core.run(hosts=60, guests=150, seed=3)
        self.assertEqual(12, len(days))
        for w in worlds:
            t = w.tally
            ended = (t['moved, safe'] + t['moved, then unsafe'] +
                     t['refused before the pick'] +
                     t['failed after the pick'] +
                     t['gave up: every try failed precheck'])
            self.assertEqual(t['requests'], ended, w.name)
            self.assertGreater(t['requests'], 0)
        by = {w.name: w.tally for w in worlds}
        # Our filter never sends a guest where the model says it fails.
        self.assertEqual(0, by['migcompat']['failed after the pick'])
        self.assertEqual(0, by['migcompat-strict']['moved, then unsafe'])
        # nova alone never refuses before its pick.
        self.assertEqual(0, by['nova']['refused before the pick'])
