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

"""The running_guests factor: read from a snapshot's libvirt/domains, its
published value, its traits (left out of the digest), and ``migcompat
guests``.

The guests are the real dump of tests/fixtures/guests (a running
host-model guest on an L1 nested EPYC host) and the variants of
test_domains; the host is this machine's real snapshot.
"""

import json
import os
import re
import shutil
import subprocess

import fixtures
import testtools

from migcompat_filter.factors import catalogue
from migcompat_filter.host import reader
from migcompat_filter.host import source as hostsource
from migcompat_filter.placement import hoststate
from migcompat_filter import profile as profile_mod
from migcompat_filter.traits import codec as traits
from tests import cli
from tests.unit.guest_xml import domain
from tests.unit.guest_xml import invtsc
from tests.unit.guest_xml import LIVE
from tests.unit.guest_xml import passthrough
from tests.unit.guest_xml import UUID

HOSTS = os.path.join(os.path.dirname(__file__), '..', 'fixtures', 'hosts')
THIS_HOST = os.path.join(HOSTS, 'this-host-epyc-nested-l1-20261125')
UUIDS = ['%08d-0000-4000-8000-000000000000' % i for i in range(1, 6)]


class SnapshotWithGuests(testtools.TestCase):
    """This machine's real snapshot, with libvirt/domains written per
    test.
    """

    def setUp(self):
        super(SnapshotWithGuests, self).setUp()
        tmp = self.useFixture(fixtures.TempDir()).path
        self.root = os.path.join(tmp, 'snap')
        shutil.copytree(THIS_HOST, self.root)

    def guests(self, *texts):
        """Write the domain XMLs as the snapshot's running guests."""
        d = os.path.join(self.root, hostsource.DOMAINS_DIR)
        os.makedirs(d, exist_ok=True)
        for text in texts:
            uuid = re.search(r'<uuid>([^<]+)</uuid>', text).group(1)
            with open(os.path.join(d, uuid + '.xml'), 'w') as f:
                f.write(text)
        return self

    def value(self):
        return reader.read_profile(hostsource.SnapshotSource(self.root),
                                   ['running_guests'])['running_guests']


class TestFactor(SnapshotWithGuests):

    def test_real_host_model_guest(self):
        value = self.guests(LIVE).value()
        self.assertEqual(1, value['count'])
        self.assertEqual({'host-model': 1}, value['modes'])
        need = set(value['host_model_features'])
        # kvm64 expanded by libvirt's CPU map, plus the listed features,
        # less the disabled ones.
        self.assertIn('sse2', need)
        self.assertIn('gfni', need)
        self.assertNotIn('arch-capabilities', need)
        self.assertNotIn('invtsc', need)
        self.assertEqual([], value['custom_features'])
        self.assertEqual(['pc-q35-7.2'], value['machine_types'])
        self.assertEqual([], value['unexpanded'])
        self.assertEqual(value, json.loads(json.dumps(value)))

    def test_no_uuid_or_name_in_the_value(self):
        value = self.guests(LIVE, domain(uuid=UUIDS[0])).value()
        text = json.dumps(value)
        self.assertNotIn(UUID, text)
        self.assertNotIn(UUIDS[0], text)
        self.assertNotIn('instance-0000', text)

    def test_modes_tsc_phys_bits_and_passthrough(self):
        value = self.guests(
            domain(uuid=UUIDS[0]),
            passthrough().replace(UUID, UUIDS[1]).replace(
                "check='none'/>", "check='none'><feature policy='require' "
                "name='pcid'/><maxphysaddr mode='emulate' bits='42'/>"
                "</cpu>"),
            invtsc("<clock offset='utc'><timer name='tsc' "
                   "frequency='2445426000'/></clock>").replace(
                       UUID, UUIDS[2]),
            invtsc("<clock offset='utc'/>").replace(UUID, UUIDS[3]),
        ).value()
        self.assertEqual(4, value['count'])
        self.assertEqual({'custom': 3, 'host-passthrough': 1},
                         value['modes'])
        self.assertEqual([2445426000], value['invtsc_frequencies'])
        self.assertEqual(1, value['invtsc_unpinned'])
        self.assertEqual([42], value['phys_bits'])
        self.assertEqual(['pcid'], value['passthrough_extra'])
        # invtsc is never migrated: not a requirement even when listed.
        self.assertNotIn('invtsc', value['custom_features'])
        self.assertIn('x2apic', value['custom_features'])

    def test_unknown_model_is_listed_unexpanded(self):
        value = self.guests(domain(cpu="""<cpu mode='custom' match='exact'>
            <model>NoSuchModel-v9</model>
            <feature policy='require' name='avx2'/></cpu>""")).value()
        self.assertEqual(['NoSuchModel-v9'], value['unexpanded'])
        self.assertEqual(['avx2'], value['custom_features'])

    def test_no_guests(self):
        value = self.guests().value()
        self.assertEqual(0, value['count'])
        self.assertEqual([], value['host_model_features'])

    def test_old_snapshot_without_domains_is_unknown(self):
        value = self.value()
        self.assertTrue(profile_mod.is_unknown(value))
        self.assertIn('libvirt/domains/: not in the snapshot', value.reason)

    def test_bad_domain_is_unjudged_naming_the_file(self):
        # The readable guest still counts; the other is named, not lost.
        for text, why in (('<domain><uuid>%s</uuid>' % UUIDS[4],
                           'not well-formed'),
                          (domain(cpu='', uuid=UUIDS[4]), 'no <cpu>')):
            self.guests(LIVE, text)
            value = self.value()
            self.assertEqual(1, value['count'])
            self.assertEqual(1, value['unjudged']['count'])
            [reason] = value['unjudged']['reasons']
            self.assertIn('libvirt/domains/%s.xml' % UUIDS[4], reason)
            self.assertIn(why, reason)


class TestTraits(SnapshotWithGuests):

    def test_catalogue_row(self):
        row = catalogue.get('running_guests')
        self.assertEqual(('GUESTS', catalogue.FEATURES, True, 0.0),
                         (row.trait_code, row.codec, row.per_host,
                          row.similarity))
        self.assertEqual({'running_guests'}, catalogue.per_host())
        self.assertIn('libvirt/domains/*.xml', row.snapshot_files)

    def test_round_trip(self):
        self.guests(LIVE, invtsc("<clock offset='utc'/>").replace(
            UUID, UUIDS[0]))
        prof = reader.read_profile(hostsource.SnapshotSource(self.root))
        decoded, problems = traits.parse(traits.encode(prof))
        self.assertEqual([], problems)
        self.assertEqual(prof['running_guests'], decoded['running_guests'])
        self.assertEqual(2, decoded['running_guests']['count'])

    def test_guests_never_change_the_digest_or_the_key(self):
        source = hostsource.SnapshotSource(self.root)
        base = reader.read_profile(source)
        names = {}
        for label, texts in (('none', ()), ('one', (LIVE,)),
                             ('two', (LIVE, domain(uuid=UUIDS[0])))):
            shutil.rmtree(os.path.join(self.root, 'libvirt', 'domains'),
                          ignore_errors=True)
            self.guests(*texts)
            prof = reader.read_profile(hostsource.SnapshotSource(self.root))
            # Otherwise identical hosts.
            self.assertEqual(
                {k: v for k, v in base.to_dict().items()
                 if k != 'running_guests'},
                {k: v for k, v in prof.to_dict().items()
                 if k != 'running_guests'})
            names[label] = traits.encode(prof)
        digests = {[t for t in n if t.startswith(traits.DIGEST_PREFIX)][0]
                   for n in names.values()}
        self.assertEqual(1, len(digests))
        classified = {label: hoststate.classify(n)
                      for label, n in names.items()}
        self.assertEqual(1, len({hp.key for hp in classified.values()}))
        self.assertEqual(digests, {hp.key for hp in classified.values()})
        # Decoding still gives each host its own guests.
        counts = {label: hp.profile['running_guests']['count']
                  for label, hp in classified.items()}
        self.assertEqual({'none': 0, 'one': 1, 'two': 2}, counts)

    def test_unknown_guests_are_left_out_of_the_digest_too(self):
        prof = reader.read_profile(hostsource.SnapshotSource(self.root))
        self.assertTrue(profile_mod.is_unknown(prof['running_guests']))
        for schema, marker_name in ((1, 'UNKNOWN_GUESTS_'),
                                    (2, 'UNKNOWN_GUESTS')):
            names = traits.encode(prof, schema)
            marker = [t for t in names if traits.is_per_host(t) and
                      'GUESTS' in t]
            self.assertTrue(marker[0].startswith(
                traits.PREFIX + marker_name), marker)
            self.assertEqual(traits.digest_trait(names),
                             traits.digest_trait(set(names) - set(marker)))

    def test_other_factors_still_change_the_digest(self):
        prof = reader.read_profile(hostsource.SnapshotSource(self.root))
        other = profile_mod.Profile(dict(prof.factors, phys_bits=40))
        self.assertNotEqual(traits.digest_trait(traits.encode(prof)),
                            traits.digest_trait(traits.encode(other)))


class TestGuestsCommand(SnapshotWithGuests):
    """``migcompat guests --root``, run as a user runs it."""

    def run_cli(self, *args):
        proc = subprocess.run(cli.command() + ['guests'] + list(args),
                              capture_output=True, text=True, timeout=300)
        self.assertNotIn('Traceback', proc.stderr)
        return proc

    def rows(self, *args):
        proc = self.run_cli('--root', self.root, '-f', 'json', '--long',
                            *args)
        self.assertEqual(0, proc.returncode, proc.stderr)
        return {r['uuid']: r for r in json.loads(proc.stdout)}

    def test_lists_each_guest_with_what_limits_it(self):
        self.guests(
            LIVE,
            invtsc("<clock offset='utc'/>").replace(UUID, UUIDS[0]),
            invtsc("<clock offset='utc'><timer name='tsc' "
                   "frequency='2445426000'/></clock>").replace(
                       UUID, UUIDS[1]),
            passthrough('off').replace(UUID, UUIDS[2]),
            domain(uuid=UUIDS[3], cpu="<cpu mode='custom' match='exact'>"
                   "<model>NoSuchModel-v9</model></cpu>"))
        rows = self.rows()
        self.assertEqual(5, len(rows))
        live = rows[UUID]
        self.assertEqual(('instance-0000002a', 'host-model', 'kvm64',
                          'pc-q35-7.2', '-', []),
                         (live['name'], live['mode'], live['model'],
                          live['machine_type'], live['tsc'],
                          live['limits']))
        self.assertEqual('invtsc, not pinned', rows[UUIDS[0]]['tsc'])
        self.assertIn('invtsc without a pinned TSC frequency: cannot '
                      'migrate (QEMU blocks it)', rows[UUIDS[0]]['limits'])
        self.assertEqual('invtsc, pinned 2445426000 Hz',
                         rows[UUIDS[1]]['tsc'])
        self.assertIn('2445426000 Hz', rows[UUIDS[1]]['limits'][0])
        self.assertEqual('host-passthrough', rows[UUIDS[2]]['mode'])
        self.assertTrue(any('migratable' in t
                            for t in rows[UUIDS[2]]['limits']))
        self.assertTrue(rows[UUIDS[3]]['limits'][0].startswith(
            'model NoSuchModel-v9 not expanded'))

    def test_hosts_hint_names_what_is_missing_where(self):
        self.guests(LIVE)
        other = self.useFixture(fixtures.TempDir()).path
        dest = profile_mod.Profile(dict(
            reader.read_profile(hostsource.SnapshotSource(
                THIS_HOST)).factors, machine_types=['pc-q35-6.2']))
        path = os.path.join(other, 'dest.json')
        with open(path, 'w') as f:
            f.write(dest.to_json())
        limits = self.rows('--hosts', path, THIS_HOST)[UUID]['limits']
        # This machine offers the guest's CPU (it started there); the
        # profile with only pc-q35-6.2 lacks its machine type.
        self.assertEqual(['missing on %s: machine type pc-q35-7.2' % path],
                         limits)

    def test_bad_domain_exits_2_naming_the_file(self):
        self.guests(LIVE, '<domain><uuid>%s</uuid>' % UUIDS[4])
        proc = self.run_cli('--root', self.root)
        self.assertEqual(2, proc.returncode)
        self.assertIn('libvirt/domains/%s.xml' % UUIDS[4], proc.stderr)
        self.assertIn('not well-formed', proc.stderr)

    def test_snapshot_without_guests_exits_2(self):
        proc = self.run_cli('--root', self.root)
        self.assertEqual(2, proc.returncode)
        self.assertIn('libvirt/domains/: not in the snapshot', proc.stderr)
