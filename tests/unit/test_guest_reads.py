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

"""Many guests read cheaply (review N10: 5,000 domain files took 9-13 s
per command; the figures are tools/bench_domains.py's): guests of one CPU
model are expanded once per host source, each domain XML is parsed once
however many readers of one source need it, and nothing to mask costs
the output nothing.
"""

import io
import os
import shutil
from unittest import mock

import fixtures
import testtools

from migcompat_filter.cmd import shell
from migcompat_filter.factors import guests as guests_factor
from migcompat_filter.host import domains
from migcompat_filter.host import reader
from migcompat_filter.host import source as hostsource
from migcompat_filter import redaction
from migcompat_filter.rules import drift
from tests.unit.guest_xml import domain
from tests.unit.guest_xml import LIVE
from tests.unit.guest_xml import UUID

SNAP = os.path.join(os.path.dirname(__file__), '..', 'fixtures', 'hosts',
                    'this-host-epyc-nested-l1-20261125')
EPYC = """<cpu mode='custom' match='exact' check='full'>
    <model fallback='forbid'>EPYC</model>
    <feature policy='require' name='x2apic'/></cpu>"""


class TestManyGuests(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.snap = os.path.join(self.useFixture(fixtures.TempDir()).path,
                                 's')
        shutil.copytree(SNAP, self.snap, symlinks=True)
        where = os.path.join(self.snap, hostsource.DOMAINS_DIR)
        os.makedirs(where)
        self.count = 30
        for i in range(self.count):
            uuid = '%08d-0000-4000-8000-000000000000' % (i + 1)
            text = (LIVE.replace(UUID, uuid) if i % 2 else
                    domain(cpu=EPYC, uuid=uuid))
            with open(os.path.join(where, uuid + '.xml'), 'w') as f:
                f.write(text)

    def test_identical_models_are_expanded_once(self):
        source = hostsource.SnapshotSource(self.snap)
        calls = []
        real = source.expand_cpu

        def counting(cpu_xml, *args, **kwargs):
            calls.append(cpu_xml)
            return real(cpu_xml, *args, **kwargs)
        source.expand_cpu = counting
        value = reader.read_profile(source, ['running_guests'])[
            'running_guests']
        self.assertEqual(self.count, value['count'])
        entries = drift.read(source)
        self.assertEqual(self.count, len(entries))
        # kvm64 (the live guest's) and EPYC: one expansion each, for the
        # factor and the drift check together (the drift check also
        # expands the host's own host-model CPU, with its vendor).
        guest_models = [c for c in calls if '<vendor>' not in c]
        self.assertEqual(
            ['<cpu><arch>x86_64</arch><model>%s</model></cpu>' % m
             for m in ('EPYC', 'kvm64')], sorted(guest_models))

    def test_each_domain_is_parsed_once_per_source(self):
        source = hostsource.SnapshotSource(self.snap)
        with mock.patch.object(domains, 'parse_domain',
                               wraps=domains.parse_domain) as parse:
            reader.read_profile(source, ['running_guests'])
            drift.read(source)
            guests_factor.read_guests(source)
        self.assertEqual(self.count, parse.call_count)
        # A new source (the next report) reads the files again.
        with mock.patch.object(domains, 'parse_domain',
                               wraps=domains.parse_domain) as parse:
            reader.read_profile(hostsource.SnapshotSource(self.snap),
                                ['running_guests'])
        self.assertEqual(self.count, parse.call_count)

    def test_a_report_reads_the_host_once(self):
        # profile publish: the traits and the drift check share one source
        # and one profile (cmd/report.py), so each domain is parsed once.
        self.useFixture(fixtures.EnvironmentVariable('MIGCOMPAT_CACHE_DIR',
                                                     ''))
        where = os.path.join(self.snap, hostsource.DOMAINS_DIR)
        drifted = '%08d-0000-4000-8000-000000000000' % 99
        with open(os.path.join(where, drifted + '.xml'), 'w') as f:
            f.write(domain(uuid=drifted, machine='pc-q35-99.0'))
        opened = []
        real_init = hostsource.SnapshotSource.__init__

        def counting_init(source, root):
            opened.append(root)
            real_init(source, root)
        out, err = io.StringIO(), io.StringIO()
        with mock.patch.object(domains, 'parse_domain',
                               wraps=domains.parse_domain) as parse, \
                mock.patch.object(hostsource.SnapshotSource, '__init__',
                                  counting_init), \
                mock.patch('sys.stdout', out), mock.patch('sys.stderr', err):
            rc = shell.main(['profile', 'publish', '--root', self.snap,
                             '--dry-run'])
        self.assertEqual(0, rc, err.getvalue())
        self.assertEqual(self.count + 1, parse.call_count)
        self.assertEqual(1, len(opened), opened)
        # The drift check still ran, on that one read, and says what a
        # read of its own says.
        summary = drift.summary(drift.read(
            hostsource.SnapshotSource(self.snap)))
        self.assertIn('machine_types', summary['factors'])
        self.assertIn('drift: %d running guest(s) drifted (%s)' % (
            summary['guests'], ', '.join(summary['factors'])),
            out.getvalue())


class TestRedactionFastPath(testtools.TestCase):

    def tearDown(self):
        redaction.clear_secrets()
        super().tearDown()

    def test_plain_text_is_not_scanned_but_secrets_still_are(self):
        with mock.patch.object(redaction, '_USERINFO',
                               wraps=redaction._USERINFO) as pattern:
            self.assertEqual('"kvm64"', redaction.redact('"kvm64"'))
            pattern.sub.assert_not_called()
            redaction.redact('a@b')
            pattern.sub.assert_called_once()
        self.assertEqual('http://host/x',
                         redaction.redact('http://u:pw@host/x'))
        redaction.add_secrets_from_url('http://u:s3cret@host/')
        self.assertEqual('key=***', redaction.redact('key=s3cret'))
