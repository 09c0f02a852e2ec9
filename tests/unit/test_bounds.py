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

"""Every number read from a domain XML, a snapshot or a trait goes
through the one range check (migcompat_filter.bounds):
out of range is an input error naming the file (exit 2) or Unknown naming
it, never a traceback and never a weaker verdict.
"""

import json
import os
import re
import shutil

import fixtures
import testtools

from migcompat_filter import bounds
from migcompat_filter.host import reader
from migcompat_filter.host import source as hostsource
from migcompat_filter.traits import codec
from tests import cli

HERE = os.path.dirname(__file__)
SNAP = os.path.join(HERE, '..', 'fixtures', 'hosts',
                    'this-host-epyc-nested-l1-20261125')
GUEST = os.path.join(HERE, '..', 'fixtures', 'guests',
                     'host-model-guest.live.xml')
UUID = '3f0a7c1e-2b4d-4e8a-9c61-5d2f8e7a1b90'
HUGE = '9' * 5000


class TestHelper(testtools.TestCase):

    def test_parse_int(self):
        self.assertEqual(48, bounds.parse_int(' 48\n', 'x', 'phys_bits'))
        self.assertEqual(255, bounds.parse_int('0xff', 'x', low=0,
                                               hex_ok=True))
        for text in ('-2', '٨', '4 8', '', None, '1e3', HUGE, '65', '0',
                     '+42'):
            e = self.assertRaises(bounds.OutOfRange, bounds.parse_int, text,
                                  'file.xml: bits', 'phys_bits')
            self.assertTrue(str(e).startswith('file.xml: bits '), e)
            self.assertLess(len(str(e)), 200)


class _Snapshot(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.snap = os.path.join(self.useFixture(fixtures.TempDir()).path,
                                 's')
        shutil.copytree(SNAP, self.snap, symlinks=True)

    def guest_xml(self, before_cpu_end='', timer=None):
        with open(GUEST) as f:
            text = f.read()
        if before_cpu_end:
            text = text.replace('</cpu>', before_cpu_end + '</cpu>', 1)
        if timer is not None:
            text = re.sub(r'<clock[^>]*>', lambda m: m.group(0) + timer,
                          text, count=1)
        return text

    def write(self, name, text):
        path = os.path.join(self.snap, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, 'w') as f:
            f.write(text)
        return path

    def edit(self, name, old, new):
        path = os.path.join(self.snap, name)
        with open(path) as f:
            text = f.read()
        self.assertIn(old, text)
        with open(path, 'w') as f:
            f.write(text.replace(old, new, 1))


class TestGuestXML(_Snapshot):

    def test_compare_guest_refuses_impossible_numbers(self):
        cases = (
            "<maxphysaddr mode='emulate' bits='65'/>",
            "<maxphysaddr mode='emulate' bits='999999999999999999999'/>",
            "<maxphysaddr mode='emulate' bits='%s'/>" % HUGE,
        )
        for extra in cases:
            path = self.write('guest.xml', self.guest_xml(extra))
            rc, out, err = cli.run('profile', 'compare', SNAP, SNAP,
                                   '--guest', path)
            self.assertEqual(2, rc, (extra[:60], out, err))
            self.assertIn('guest.xml: maxphysaddr bits', err)
            self.assertNotIn('Traceback', err)
        for freq in ('1' + '0' * 30, HUGE):
            path = self.write('guest.xml', self.guest_xml(
                "<feature policy='require' name='invtsc'/>",
                "<timer name='tsc' frequency='%s'/>" % freq))
            rc, out, err = cli.run('profile', 'compare', SNAP, SNAP,
                                   '--guest', path)
            self.assertEqual(2, rc, (out, err))
            self.assertIn('the tsc timer frequency', err)
            self.assertNotIn('Traceback', err)

    def test_snapshot_domain_with_a_huge_number(self):
        self.write('libvirt/domains/%s.xml' % UUID, self.guest_xml(
            timer="<timer name='tsc' frequency='%s'/>" % HUGE))
        for args in (('profile', 'show', '--root', self.snap, '-f', 'json'),
                     ('trait', 'list', '--root', self.snap)):
            rc, out, err = cli.run(*args)
            self.assertEqual(0, rc, err)
            self.assertNotIn('Traceback', err)
        prof = json.loads(cli.run('profile', 'show', '--root', self.snap,
                                  '-f', 'json')[1])
        guests = prof.get('running_guests')
        self.assertEqual(0, guests['count'], guests)
        self.assertIn('libvirt/domains/%s.xml' % UUID,
                      guests['unjudged']['reasons'][0])
        rc, out, err = cli.run('guest', 'list', '--root', self.snap)
        self.assertIn(rc, (1, 2), err)
        self.assertNotIn('Traceback', err)
        self.assertIn('libvirt/domains/%s.xml' % UUID, err)


class TestHostNumbers(_Snapshot):

    def read(self):
        return reader.read_profile(hostsource.SnapshotSource(self.snap))

    def test_negative_threads_and_family_are_unknown_naming_the_file(self):
        self.edit('libvirt/capabilities.xml', "cores='2' threads='1'",
                  "cores='2' threads='-2'")
        self.edit('proc/cpuinfo', 'cpu family\t: 25', 'cpu family\t: -1')
        prof = self.read()
        threads = prof['firmware_settings']['threads_per_core']
        self.assertIn('<topology threads=>', threads.reason)
        self.assertIn('-2 is out of range (1..64)', threads.reason)
        family = prof['cpu_model']['family']
        self.assertIn('proc/cpuinfo "cpu family"', family.reason)


class TestTraits(testtools.TestCase):

    def test_impossible_trait_number_is_unknown_naming_the_trait(self):
        prof = reader.read_profile(hostsource.SnapshotSource(SNAP))
        names = [re.sub(r'PHYSBITS_[0-9]+$', 'PHYSBITS_999999', t)
                 for t in codec.encode(prof)]
        self.assertIn('CUSTOM_MIGCOMPAT_PHYSBITS_999999', names)
        parsed = codec.parse(names)
        reason = parsed.profile['phys_bits'].reason
        self.assertIn('CUSTOM_MIGCOMPAT_PHYSBITS_999999', reason)
        self.assertIn('out of range (1..64)', reason)
