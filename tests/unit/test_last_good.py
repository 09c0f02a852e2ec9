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

"""The kept values' rules (the real libvirtd restart is in
tests/functional/test_kept_values.py).
"""

import datetime
import os

import fixtures
import testtools

from migcompat_filter.host import last_good
from migcompat_filter import profile as profile_mod

NOW = datetime.datetime(2026, 12, 7, 5, 30, tzinfo=datetime.timezone.utc)
LATER = NOW + datetime.timedelta(hours=3)


def prof(qemu):
    return profile_mod.Profile({'qemu_version': qemu,
                                'libvirt_version': '9.0.0'})


def down(reason='cannot connect to libvirt at qemu:///system: gone'):
    return profile_mod.Unknown(reason, transient=True)


class TestApply(testtools.TestCase):

    def test_kept_value_stands_in_and_says_how_old(self):
        first = last_good.apply(prof('7.2.0'), {}, NOW)
        self.assertFalse(first.failed)
        out = last_good.apply(prof(down()), first.state, LATER)
        self.assertEqual('7.2.0', out.profile['qemu_version'])
        self.assertTrue(out.failed)
        self.assertEqual({'qemu_version': '2026-12-07T05:00Z'}, out.note())
        self.assertEqual(1, out.state['qemu_version']['misses'])
        [line] = out.messages(LATER)
        self.assertIn('factor qemu_version: not read (cannot connect', line)
        self.assertIn('read at 2026-12-07T05:30:00Z (3 h old)', line)

    def test_honest_unknown_drops_the_kept_value(self):
        first = last_good.apply(prof('7.2.0'), {}, NOW)
        out = last_good.apply(prof(profile_mod.Unknown('garbage')),
                              first.state, LATER)
        self.assertTrue(profile_mod.is_unknown(out.profile['qemu_version']))
        self.assertFalse(out.failed)
        self.assertNotIn('qemu_version', out.state)

    def test_max_runs_then_unknown(self):
        state = last_good.apply(prof('7.2.0'), {}, NOW).state
        for _ in range(2):
            out = last_good.apply(prof(down()), state, LATER, max_runs=2)
            self.assertEqual('7.2.0', out.profile['qemu_version'])
            state = out.state
        out = last_good.apply(prof(down()), state, LATER, max_runs=2)
        self.assertTrue(profile_mod.is_unknown(out.profile['qemu_version']))
        self.assertIn('kept for 2 reports in a row', out.messages(LATER)[0])

    def test_nothing_to_keep_is_still_a_failure(self):
        out = last_good.apply(prof(down()), {}, NOW)
        self.assertTrue(out.failed)
        self.assertIn('no earlier value to keep', out.messages(NOW)[0])


class TestStateFile(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.path = os.path.join(self.useFixture(fixtures.TempDir()).path,
                                 'd', 'last-good.json')

    def test_round_trip(self):
        state = last_good.apply(prof('7.2.0'), {}, NOW).state
        last_good.save(self.path, state)
        self.assertEqual(state, last_good.load(self.path))

    def test_malformed_files_are_named_not_trusted(self):
        os.makedirs(os.path.dirname(self.path))
        for text in ('{', '[]', '{"version": 1, "factors": {"qemu_version":'
                     ' {"value": 5, "read_at": "x", "misses": 0}}}',
                     '{"version": 1, "factors": {"qemu_version": {"value":'
                     ' {"unknown": true, "reason": "r"}, "read_at": '
                     '"2026-12-07T05:30:00Z", "misses": 0}}}'):
            with open(self.path, 'w') as f:
                f.write(text)
            e = self.assertRaises(last_good.StateProblem, last_good.load,
                                  self.path)
            self.assertIn(self.path, str(e))


class TestTransientCauses(testtools.TestCase):
    """Which failures are transient: permission denied on a file (as root
    the tests cannot take a permission away, so os.open says it), not a
    missing file.
    """

    def test_permission_denied_marks_the_factor_transient(self):
        import errno

        from migcompat_filter.host import reader
        from migcompat_filter.host import source as hostsource
        snap = os.path.join(os.path.dirname(__file__), '..', 'fixtures',
                            'hosts', 'this-host-epyc-nested-l1-20261125')
        real_open = os.open

        def refuse_cpuinfo(path, *args, **kwargs):
            if path.endswith('proc/cpuinfo'):
                raise PermissionError(errno.EACCES, 'Permission denied')
            return real_open(path, *args, **kwargs)
        with fixtures.MonkeyPatch('os.open', refuse_cpuinfo):
            prof = reader.read_profile(hostsource.SnapshotSource(snap),
                                       names=['microcode_version', 'arch'])
        self.assertIn('microcode_version', prof.transient)
        self.assertIn('proc/cpuinfo: permission denied',
                      prof.transient['microcode_version'])
        # A missing file is no transient cause.
        prof = reader.read_profile(hostsource.SnapshotSource(
            self.useFixture(fixtures.TempDir()).path),
            names=['microcode_version'])
        self.assertEqual({}, prof.transient)
