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

"""Drift of one guest against its host's profile now (rules/drift.py);
the real guest is in tests/functional/test_drift.py.
"""

import logging
import os

import fixtures
import testtools

from migcompat_filter.host import domains
from migcompat_filter import profile as profile_mod
from migcompat_filter.rules import drift

HOST = profile_mod.Profile({
    'host_model': {'features': ['avx', 'sse4.2', 'hle', 'rtm']},
    'cpu_features': {'features': ['avx', 'sse4.2', 'hle', 'rtm', 'vmx']},
    'machine_types': ['pc-q35-8.2', 'q35'],
    'qemu_version': '8.2.0',
    'tsc': {'frequency': 2400000000, 'scaling': False},
})


def guest(mode='host-model', machine='pc-q35-8.2', tsc=None, **features):
    return domains.Guest(uuid='u-1', name='vm-1', nova_mode=mode,
                         machine=machine, tsc=tsc, arch='x86_64',
                         features=features)


def host(**changes):
    factors = dict(HOST.factors)
    factors.update(changes)
    return profile_mod.Profile(factors)


class GuestDriftTest(testtools.TestCase):

    def test_nothing_changed_is_no_drift(self):
        self.assertEqual(({}, {}), drift.guest_drift(
            guest(), {'avx', 'hle'}, HOST))

    def test_tsx_removed_under_a_host_model_guest(self):
        now = host(host_model={'features': ['avx', 'sse4.2']})
        drifted, unknown = drift.guest_drift(guest(), {'avx', 'hle', 'rtm'},
                                             now)
        self.assertEqual({'host_model': 'host-model CPU lacks hle, rtm now'},
                         drifted)
        self.assertEqual({}, unknown)

    def test_passthrough_extra_flag_gone(self):
        g = guest('host-passthrough', vmx='require')
        now = host(cpu_features={'features': ['avx']})
        self.assertEqual({'cpu_features': 'host CPU lacks vmx now'},
                         drift.guest_drift(g, None, now)[0])

    def test_machine_type_gone_with_a_qemu_update(self):
        now = host(machine_types=['pc-q35-9.0'], qemu_version='9.0.0')
        self.assertEqual(
            {'machine_types': 'QEMU 9.0.0 has no machine type pc-q35-8.2 '
                              'now'},
            drift.guest_drift(guest(), set(), now)[0])

    def test_tsc_within_250_ppm_or_scaling_is_no_drift(self):
        g = guest(tsc={'frequency': 2400500000})   # 208 ppm
        self.assertEqual({}, drift.guest_drift(g, set(), HOST)[0])
        g = guest(tsc={'frequency': 2401000000})   # 417 ppm
        self.assertIn('tsc', drift.guest_drift(g, set(), HOST)[0])
        scaling = host(tsc={'frequency': 2400000000, 'scaling': True})
        self.assertEqual({}, drift.guest_drift(g, set(), scaling)[0])

    def test_unknown_host_factor_is_unknown_not_drift(self):
        now = host(host_model=profile_mod.Unknown('no domcapabilities'),
                   machine_types=profile_mod.Unknown('no capabilities'))
        drifted, unknown = drift.guest_drift(guest(), {'avx'}, now)
        self.assertEqual({}, drifted)
        self.assertEqual({'host_model', 'machine_types'}, set(unknown))


class WarnerTest(testtools.TestCase):

    def test_once_per_guest_and_change_across_runs(self):
        path = os.path.join(self.useFixture(fixtures.TempDir()).path,
                            'sub', 'drift-warned.json')
        log = self.useFixture(fixtures.FakeLogger(level=logging.WARNING))
        lg = logging.getLogger('t')
        e = {'uuid': 'u-1', 'name': 'vm-1', 'mode': 'host-model',
             'drift': {'host_model': 'host-model CPU lacks hle now'}}
        self.assertEqual([e], drift.Warner(path).warn([e], lg))
        # A new run (a timer-started reporter) remembers it.
        self.assertEqual([], drift.Warner(path).warn([e], lg))
        changed = dict(e, drift={'host_model': 'lacks hle, rtm now'})
        self.assertEqual([changed], drift.Warner(path).warn([changed], lg))
        # Fixed, then drifted again: warned again.
        drift.Warner(path).warn([dict(e, drift={})], lg)
        self.assertEqual([e], drift.Warner(path).warn([e], lg))
        self.assertEqual(3, log.output.count('drifted'))

    def test_summary_counts_no_names(self):
        entries = [{'uuid': 'u-%d' % i, 'name': 'secret-%d' % i,
                    'mode': 'host-model',
                    'drift': {'host_model': 'x'} if i else {}}
                   for i in range(3)]
        summary = drift.summary(entries)
        self.assertEqual({'guests': 2, 'factors': {'host_model': 2}},
                         summary)
        self.assertNotIn('secret', str(summary))
