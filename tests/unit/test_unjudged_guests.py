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

"""A snapshot's guest whose domain XML holds an impossible number (or is
not XML) is unjudged: named with its file and value, the other guests
still counted, and a move judged from the running guests blocks, never
passes where a plausible value is refused (issue 22 item 2, review N4).
"""

import json
import os
import re
import shutil

import fixtures
import testtools

from migcompat_filter.host import reader
from migcompat_filter.host import source as hostsource
from migcompat_filter import profile as profile_mod
from migcompat_filter import rules
from migcompat_filter.rules.guest_cpu import GuestCPU
from migcompat_filter.traits import codec
from migcompat_filter.traits import schema3
from tests import cli
from tests.unit.guest_xml import LIVE
from tests.unit.guest_xml import UUID

HERE = os.path.dirname(__file__)
SNAP = os.path.join(HERE, '..', 'fixtures', 'hosts',
                    'this-host-epyc-nested-l1-20261125')
OTHER = '00000001-0000-4000-8000-000000000000'
INVTSC = "<feature policy='require' name='invtsc'/>"
# A plausible value, then impossible ones, of each kind the rules judge.
TSC = ("<timer name='tsc' frequency='1000000000'/>",
       "<timer name='tsc' frequency='1%s'/>" % ('0' * 30))
BITS = ("<maxphysaddr mode='emulate' bits='52'/>",
        "<maxphysaddr mode='emulate' bits='65'/>",
        "<maxphysaddr mode='emulate' bits='1%s'/>" % ('0' * 21))
THREADS = "<topology sockets='1' dies='1' cores='2' threads='-2'/>"


def guest_xml(in_cpu='', timer=''):
    text = LIVE.replace('</cpu>', in_cpu + '</cpu>', 1)
    return re.sub(r'<clock[^>]*>', lambda m: m.group(0) + timer, text,
                  count=1)


class _Snapshot(testtools.TestCase):
    """This machine's snapshot with two running guests: a plausible one
    (OTHER) and the one under test (UUID).
    """

    def setUp(self):
        super().setUp()
        self.tmp = self.useFixture(fixtures.TempDir()).path
        self.snap = os.path.join(self.tmp, 's')
        shutil.copytree(SNAP, self.snap, symlinks=True)
        os.makedirs(os.path.join(self.snap, hostsource.DOMAINS_DIR))
        self.write(OTHER, LIVE.replace(UUID, OTHER))

    def write(self, uuid, text):
        path = os.path.join(self.snap, hostsource.DOMAINS_DIR,
                            uuid + '.xml')
        with open(path, 'w') as f:
            f.write(text)
        return path

    def compare(self, *args):
        rc, out, err = cli.run('profile', 'compare', self.snap, self.snap,
                               '-f', 'json', *args)
        self.assertNotIn('Traceback', err)
        self.assertIn(rc, (0, 1), err)
        return rc, json.loads(out)


class TestSnapshotVerdict(_Snapshot):

    def assert_refused(self, in_cpu='', timer=''):
        self.write(UUID, guest_xml(in_cpu, timer))
        rc, verdict = self.compare()
        self.assertEqual(1, rc, verdict)
        self.assertFalse(verdict['compatible'])
        return verdict

    def test_garbage_is_never_compatible_where_a_plausible_value_is_not(
            self):
        # A plausible pinned TSC away from this host's: refused (tsc).
        self.assertIn('tsc', [f['factor'] for f in self.assert_refused(
            INVTSC, TSC[0])['findings'] if f['severity'] == 'block'])
        for in_cpu, timer, shown in (
                (INVTSC, TSC[1], '1%s is out of range' % ('0' * 30)),
                (BITS[1], '', 'bits 65 is out of range'),
                (BITS[2], '', 'out of range (1..64)'),
                (THREADS, '', 'topology threads -2 is out of range')):
            verdict = self.assert_refused(in_cpu, timer)
            [block] = [f for f in verdict['findings']
                       if f['severity'] == 'block']
            self.assertEqual('running_guests', block['factor'])
            self.assertIn('libvirt/domains/%s.xml' % UUID, block['message'])
            self.assertIn(shown, block['message'])
            self.assertIn('fix or remove', block['hint'])

    def test_the_other_guests_still_count(self):
        self.write(UUID, guest_xml(BITS[1]))
        prof = reader.read_profile(hostsource.SnapshotSource(self.snap),
                                   ['running_guests'])
        value = prof['running_guests']
        self.assertEqual(1, value['count'])
        self.assertEqual({'host-model': 1}, value['modes'])
        self.assertIn('sse2', value['host_model_features'])
        self.assertEqual(1, value['unjudged']['count'])
        self.assertIn('%s.xml: maxphysaddr bits' % UUID,
                      value['unjudged']['reasons'][0])
        # And without the bad file: no unjudged part at all.
        os.remove(os.path.join(self.snap, hostsource.DOMAINS_DIR,
                               UUID + '.xml'))
        value = reader.read_profile(hostsource.SnapshotSource(self.snap),
                                    ['running_guests'])['running_guests']
        self.assertNotIn('unjudged', value)
        self.assertEqual(0, self.compare()[0])

    def test_a_second_copy_and_a_wrong_arch_are_unjudged_too(self):
        self.write(UUID, LIVE)
        self.write('00000002-0000-4000-8000-000000000000',
                   LIVE.replace(UUID, OTHER))
        self.write('00000003-0000-4000-8000-000000000000',
                   LIVE.replace(UUID, '00000003-0000-4000-8000-000000000000')
                   .replace("arch='x86_64'", "arch='aarch64'"))
        value = reader.read_profile(hostsource.SnapshotSource(self.snap),
                                    ['running_guests'])['running_guests']
        self.assertEqual(2, value['count'])
        reasons = ' | '.join(value['unjudged']['reasons'])
        self.assertEqual(2, value['unjudged']['count'], reasons)
        self.assertIn('00000002-0000-4000-8000-000000000000.xml: holds guest '
                      '%s' % OTHER, reasons)
        self.assertIn('a aarch64 guest on a x86_64 host', reasons)

    def test_a_guest_the_snapshot_could_not_capture_stays_unjudged(self):
        # snapshot create keeps the reason, never the XML (host/snapshot.py)
        why = ('domain %s of qemu:///system: has no <cpu> element' % UUID)
        with open(os.path.join(self.snap, hostsource.DOMAINS_DIR,
                               'unjudged-1.txt'), 'w') as f:
            f.write(why + '\n')
        value = reader.read_profile(hostsource.SnapshotSource(self.snap),
                                    ['running_guests'])['running_guests']
        self.assertEqual(1, value['count'])
        self.assertEqual({'count': 1, 'reasons': [why]}, value['unjudged'])
        self.assertEqual(1, self.compare()[0])

    def test_one_guest_judged_alone_does_not_depend_on_the_others(self):
        self.write(UUID, guest_xml(BITS[1]))
        path = os.path.join(self.tmp, 'good.xml')
        with open(path, 'w') as f:
            f.write(LIVE)
        rc, verdict = self.compare('--guest', path)
        self.assertEqual(0, rc, verdict)

    def test_published_traits_carry_it(self):
        self.write(UUID, guest_xml(INVTSC, TSC[1]))
        prof = reader.read_profile(hostsource.SnapshotSource(self.snap))
        parsed = codec.parse(codec.encode(prof))
        # Schema 2: the count, not the reasons (they name the file).
        self.assertEqual(dict(prof['running_guests']['unjudged'],
                              reasons=[]),
                         parsed.profile['running_guests']['unjudged'])
        self.assertNotIn(UUID, ' '.join(codec.encode(prof)))
        verdict = rules.evaluate(parsed.profile, parsed.profile,
                                 'host-model')
        self.assertEqual(['running_guests'], verdict.factors('block'))
        # Schema 3 (what the reporter publishes and the filter reads): the
        # guests record carries it too, as "some", without the reasons:
        # they name the guest's file, which stays on the host.
        encoded = schema3.encode(prof)
        decoded, _note, problems, error = schema3.parse(list(encoded),
                                                        encoded.records)
        self.assertIsNone(error, problems)
        self.assertEqual({'count': 1, 'reasons': []},
                         decoded['running_guests']['unjudged'])
        self.assertNotIn(UUID, decoded.to_json())
        verdict = rules.evaluate(decoded, decoded, 'host-model')
        self.assertEqual(['running_guests'], verdict.factors('block'))
        self.assertIn('guest list', ' '.join(
            f.message for f in verdict.findings))


class TestDirectReaders(_Snapshot):

    def test_guest_list_and_compare_guest_exit_2_naming_the_value(self):
        path = self.write(UUID, guest_xml(THREADS))
        rc, out, err = cli.run('guest', 'list', '--root', self.snap)
        self.assertEqual(2, rc, err)
        self.assertIn('libvirt/domains/%s.xml: topology threads -2 is out '
                      'of range (1..64)' % UUID, err)
        rc, out, err = cli.run('profile', 'compare', SNAP, SNAP, '--guest',
                               path)
        self.assertEqual(2, rc, err)
        self.assertIn('%s.xml: topology threads -2' % UUID, err)
        self.assertNotIn('Traceback', err)

    def test_publish_names_it_on_stderr(self):
        self.write(UUID, guest_xml(BITS[1]))
        rc, out, err = cli.run('profile', 'publish', '--root', self.snap,
                               '--dry-run')
        self.assertEqual(0, rc, err)
        self.assertIn('warning: running guest not judged: libvirt/domains/'
                      '%s.xml: maxphysaddr bits 65 is out of range' % UUID,
                      err)


class TestRule(testtools.TestCase):

    def profile(self, unjudged):
        prof = reader.read_profile(hostsource.SnapshotSource(SNAP))
        running = {'count': 0, 'modes': {}, 'host_model_features': [],
                   'custom_features': [], 'unexpanded': [],
                   'machine_types': [], 'invtsc_frequencies': [],
                   'invtsc_unpinned': 0, 'phys_bits': [],
                   'passthrough_extra': [], 'unjudged': unjudged}
        return profile_mod.Profile(dict(prof.factors,
                                        running_guests=running))

    def test_blocks_in_every_mode_even_when_malformed(self):
        for unjudged in ({'count': 3, 'reasons': ['a.xml: bad', 'b', 'c']},
                         'garbage', {'count': True}, []):
            prof = self.profile(unjudged)
            for mode in ('host-model', 'host-passthrough', 'custom'):
                verdict = rules.evaluate(prof, prof, mode)
                self.assertIn('running_guests', verdict.factors('block'),
                              (unjudged, mode))

    def test_an_exact_guest_is_not_blocked_by_the_others(self):
        prof = self.profile({'count': 1, 'reasons': ['a.xml: bad']})
        verdict = rules.evaluate(prof, prof, 'host-model',
                                 guest=GuestCPU(mode='host-model',
                                                exact=True))
        self.assertNotIn('running_guests', verdict.factors('block'))
