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

"""The failure-pattern table and ``migration explain --error-text``
(offline; the nova path is tests/functional/test_nova_explain.py).
"""

import io
import json
import os
import re

import testtools

from migcompat_filter.cmd import shell
from migcompat_filter.demo import hosts as demo_hosts
from migcompat_filter.factors import catalogue
from migcompat_filter.fleet import explain
from migcompat_filter.fleet import failure_patterns as table
from tests import explain_texts as real

DEMO = demo_hosts.DATA


def _run(*argv):
    app = shell.MigcompatApp()
    app.stdout, app.stderr = io.StringIO(), io.StringIO()
    status = app.run(list(argv) + ['-f', 'json'])
    out = app.stdout.getvalue()
    return status, json.loads(out) if out.strip() else [], \
        app.stderr.getvalue()


class TableTest(testtools.TestCase):

    def test_every_row_is_complete(self):
        names = set()
        for p in table.PATTERNS:
            self.assertNotIn(p['name'], names)
            names.add(p['name'])
            re.compile(p['regex'])
            # Where the text comes from: project, file, function.
            self.assertRegex(p['origin'], r'^(libvirt|QEMU|nova) \S+/\S+ ')
            if p['kind'] == table.WRAPPER:
                self.assertIsNone(p['factor'])
                continue
            self.assertIn(p['factor'], catalogue.names())
            self.assertTrue(p['cause'] and p['hint'])

    def test_each_real_text_gets_its_factor(self):
        for (code, prefix), message, factor in real.TEXTS:
            rows = explain.explain(prefix % message)
            self.assertEqual([factor], [r['factor'] for r in rows], message)

    def test_a_symptom_alone_is_still_explained(self):
        rows = explain.explain('qemu-system-x86_64: load of migration '
                               'failed: Invalid argument')
        self.assertEqual(['qemu_version'], [r['factor'] for r in rows])
        self.assertEqual('qemu-load-failed', rows[0]['evidence']['pattern'])

    def test_a_wrapper_alone_is_unknown(self):
        rows = explain.explain('Migration pre-check error: Unable to '
                               'migrate x to y: Lack of memory(host:1 <= '
                               'instance:2)')
        self.assertEqual(['unknown'], [r['factor'] for r in rows])
        self.assertEqual(['nova-precheck'], [
            w['pattern'] for w in rows[0]['evidence']['wrappers']])


class OfflineCommandTest(testtools.TestCase):

    def _host(self, name):
        return os.path.join(DEMO, 'hosts', name + '.json')

    def test_tsx_removal_names_what_differs_now(self):
        status, rows, err = _run(
            'migration', 'explain', '--error-text',
            "operation failed: guest CPU doesn't match specification: "
            'missing features: hle,rtm', '--source', self._host('clx-8268'),
            '--destination', self._host('clx-8268-tsxoff'))
        self.assertEqual(0, status, err)
        self.assertEqual(['cpu_features'], [r['factor'] for r in rows])
        ev = rows[0]['evidence']
        self.assertIn('destination lacks hle, rtm now (source has hle, '
                      'rtm)', ev['now'])
        self.assertIn('destination kernel command line: tsx=off', ev['now'])
        self.assertIn('kernel_settings', ev['differs_now'])

    def test_machine_type_of_a_newer_qemu(self):
        status, rows, err = _run(
            'migration', 'explain', '--error-text',
            "unsupported configuration: Emulator '/usr/bin/qemu-system-"
            "x86_64' does not support machine type 'pc-q35-7.2'",
            '--source', self._host('milan-a'),
            '--destination', self._host('milan-old'))
        self.assertEqual(0, status, err)
        self.assertEqual(['machine_types'], [r['factor'] for r in rows])
        self.assertEqual(['machine_types'], rows[0]['evidence'][
            'differs_now'])
        self.assertIn('destination QEMU 6.2.0 lacks pc-q35-7.2 (source has '
                      'it, QEMU 7.2.22)', rows[0]['evidence']['now'])

    def test_unknown_text_is_unknown_and_quoted(self):
        status, rows, err = _run('migration', 'explain', '--error-text',
                                 'the flux capacitor is out of sync')
        self.assertEqual(0, status, err)
        self.assertEqual(['unknown'], [r['factor'] for r in rows])
        self.assertEqual('the flux capacitor is out of sync',
                         rows[0]['evidence']['texts'][0]['text'])

    def test_table_output_has_the_columns(self):
        app = shell.MigcompatApp()
        app.stdout, app.stderr = io.StringIO(), io.StringIO()
        status = app.run(['migration', 'explain', '--error-text',
                          'State blocked by non-migratable CPU device '
                          '(invtsc flag)', '-f', 'value', '-c', 'factor'])
        self.assertEqual(0, status, app.stderr.getvalue())
        self.assertEqual('tsc\n', app.stdout.getvalue())
