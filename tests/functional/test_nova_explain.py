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

"""``migcompat migration explain`` inside a real nova (nova 34's
functional harness).

Each live migration fails at the destination's pre-check
(``check_can_live_migrate_destination``: nova's ``_compare_cpu`` calls
libvirt's compareHypervisorCPU there) with a real libvirt/QEMU error text:
the fake libvirt connection of the destination raises it as libvirt
raises an error (a libvirtError whose message carries libvirt's prefix
for its error code). nova keeps it as it keeps any: in the instance
action's event (details, traceback) and the migration goes to "error".
The command reads it back through nova's API and names the factor; the
offline form (--error-text) gives the same rows.

An error during the transfer itself (migrateToURI3 on the source) leaves
no text in nova's API: the command says so rather than guess.
"""

import logging

import fixtures
from nova.tests.fixtures import libvirt as fakelibvirt
from nova.tests.functional.api import client as api_client

from migcompat_filter.cmd import common
from tests import explain_texts
from tests.functional import drain_base
from tests.functional import nova_fixtures as mc

_MILAN = drain_base._MILAN
# libvirt's error codes (virerror.h) and the prefix it writes for each.
CPU_INCOMPATIBLE = explain_texts.CPU_INCOMPATIBLE
OPERATION_FAILED = explain_texts.OPERATION_FAILED
CONFIG_UNSUPPORTED = explain_texts.CONFIG_UNSUPPORTED
INTERNAL_ERROR = explain_texts.INTERNAL_ERROR

TEXTS = explain_texts.TEXTS
UNKNOWN_TEXT = (INTERNAL_ERROR, 'cannot open /dev/frobnicator: no such '
                'device')


def _same_rows(test, online, offline):
    """The same rows; nova cuts an event's details at 255 characters, so
    a value quoted from them may be a prefix of the offline one.
    """
    test.assertEqual([(r['factor'], r['cause'], r['hint']) for r in offline],
                     [(r['factor'], r['cause'], r['hint']) for r in online])
    for on, off in zip(online, offline):
        on, off = on['evidence'], off['evidence']
        test.assertEqual(set(off) - {'text_from'}, set(on) - {'text_from'})
        for key, value in off.items():
            if key == 'text_from':
                continue
            if 'cut at 255' in on['text_from'] and isinstance(value, str):
                test.assertTrue(value.startswith(on[key]), (key, on, off))
            else:
                test.assertEqual(value, on[key], key)


class MigrationExplainTest(drain_base._DrainBase):

    def setUp(self):
        super().setUp()
        # nova's own destination CPU check runs: that is where it fails.
        self.flags(skip_cpu_compare_on_dest=False, group='workarounds')
        self._start('src', _MILAN)
        self._start('dest', _MILAN)
        # Host names stand for profiles in --source/--destination.
        self.useFixture(fixtures.EnvironmentVariable(
            common.ENV_PLACEMENT_URL, self.placement.fixture.endpoint))
        self.useFixture(fixtures.EnvironmentVariable(
            common.ENV_NOVA_URL, self.api.base_url))
        self.useFixture(fixtures.EnvironmentVariable('OS_CLOUD'))
        self.useFixture(fixtures.EnvironmentVariable('OS_AUTH_URL'))
        self._raise = None
        conn = self.computes['dest'].driver._host.get_connection()
        original = conn.compareHypervisorCPU

        def compare(*args, **kwargs):
            if self._raise is not None:
                (code, prefix), message = self._raise
                raise fakelibvirt.make_libvirtError(
                    fakelibvirt.libvirtError, prefix % message,
                    error_code=code, error_domain=fakelibvirt.VIR_FROM_QEMU)
            return original(*args, **kwargs)
        conn.compareHypervisorCPU = compare

    def _fail_to(self, name, kind, message, host='dest', source='src'):
        """Boot a server on source and live-migrate it to host, whose
        pre-check raises kind/message; returns the failed migration.
        """
        self._raise = (kind, message) if message is not None else None
        if not hasattr(self, '_one_vcpu'):
            self._one_vcpu = self._create_flavor(memory_mb=512, vcpu=1,
                                                 disk=1)
        server = self._create_server(name=name, host=source,
                                     flavor_id=self._one_vcpu,
                                     networks='none')
        try:
            self.api.post_server_action(server['id'], {'os-migrateLive': {
                'host': host, 'block_migration': 'auto'}})
        except api_client.OpenStackApiException:
            pass  # CAST_AS_CALL: the conductor's error reaches the API
        self._wait_for_migration_status(server, ['error', 'failed'])
        self._raise = None
        self.assertEqual(source, self._host_of(server))
        return server, self._live_migrations(server)[-1]

    def test_each_real_text_is_explained_with_its_factor(self):
        for i, (kind, message, factor) in enumerate(TEXTS):
            server, migration = self._fail_to('s-%d' % i, kind, message)
            status, rows, err = self.run_cli('migration', 'explain',
                                             '--server', server['name'])
            self.assertEqual(0, status, err)
            self.assertEqual([factor], [r['factor'] for r in rows],
                             (message, rows))
            ev = rows[0]['evidence']
            self.assertIn('compute_check_can_live_migrate_destination',
                          ev['text_from'])
            self.assertIn(ev['matched'], kind[1] % message)
            # Both hosts' profiles came from Placement: they are the same
            # profile, so nothing differs now.
            self.assertEqual([], ev['differs_now'], ev)
            # By nova's migration ID: the same rows.
            status, by_id, err = self.run_cli(
                'migration', 'explain', str(migration['id']))
            self.assertEqual(0, status, err)
            self.assertEqual(rows, by_id)
            # Offline, from the text as libvirt wrote it, with the same
            # two hosts: the same rows.
            status, offline, err = self.run_cli(
                'migration', 'explain', '--error-text', kind[1] % message,
                '--source', 'src', '--destination', 'dest')
            self.assertEqual(0, status, err)
            _same_rows(self, rows, offline)
        self.assertGreaterEqual(len({m for _k, m, _f in TEXTS}), 8)

    def test_nova_cpu_compare_result_without_a_feature_name(self):
        # libvirt answers 0 (incompatible) without an error: nova prints
        # the number only.
        conn = self.computes['dest'].driver._host.get_connection()
        conn.compareHypervisorCPU = lambda *a, **k: 0
        server, migration = self._fail_to('zero', INTERNAL_ERROR, None)
        status, rows, err = self.run_cli('migration', 'explain',
                                         migration['uuid'])
        self.assertEqual(0, status, err)
        self.assertEqual(['cpu_features'], [r['factor'] for r in rows])
        self.assertEqual('nova-cpu-compare-result',
                         rows[0]['evidence']['pattern'])
        self.assertEqual('0', rows[0]['evidence']['result'])

    def test_destination_hypervisor_too_old(self):
        # A source with a newer QEMU than the destination's: nova's
        # conductor refuses the scheduler's pick itself, logs why at
        # DEBUG only and ends in NoValidHost: nova's API has no cause.
        conductor_log = self.useFixture(fixtures.FakeLogger(
            name='nova.conductor.tasks.live_migrate', level=logging.DEBUG))
        self.start_compute('newer', qemu_version=(
            fakelibvirt.FAKE_QEMU_VERSION + 1000))
        mc.publish(self, 'newer', _MILAN)
        server, migration = self._fail_to('to-old', INTERNAL_ERROR, None,
                                          source='newer')
        status, rows, err = self.run_cli('migration', 'explain',
                                         '--server', server['id'])
        self.assertEqual(0, status, err)
        self.assertEqual(['unknown'], [r['factor'] for r in rows])
        self.assertIn('Skipping host', rows[0]['hint'])
        self.assertEqual(['nova-no-valid-host'], [
            w['pattern'] for w in rows[0]['evidence']['wrappers']])
        # The conductor's DEBUG line, explained offline.
        line = [ln for ln in conductor_log.output.splitlines()
                if 'Skipping host: dest' in ln][0]
        status, rows, err = self.run_cli(
            'migration', 'explain', '--error-text', line, '--source',
            'newer', '--destination', 'dest')
        self.assertEqual(0, status, err)
        self.assertEqual(['qemu_version'], [r['factor'] for r in rows])
        self.assertEqual('nova-hypervisor-too-old',
                         rows[0]['evidence']['pattern'])

    def test_unknown_text_is_unknown(self):
        server, migration = self._fail_to('odd', *UNKNOWN_TEXT)
        status, rows, err = self.run_cli('migration', 'explain',
                                         '--server', 'odd')
        self.assertEqual(0, status, err)
        self.assertEqual(['unknown'], [r['factor'] for r in rows])
        quoted = ' '.join(t['text'] for t in rows[0]['evidence']['texts'])
        self.assertIn('/dev/frobnicator', quoted)
        status, offline, err = self.run_cli(
            'migration', 'explain', '--error-text',
            UNKNOWN_TEXT[0][1] % UNKNOWN_TEXT[1])
        self.assertEqual(['unknown'], [r['factor'] for r in offline])

    def test_failure_during_transfer_leaves_no_text_and_says_so(self):
        def fail(domain, destination, params, flags):
            raise fakelibvirt.make_libvirtError(
                fakelibvirt.libvirtError, 'operation failed: guest CPU '
                "doesn't match specification: missing features: hle,rtm",
                error_code=fakelibvirt.VIR_ERR_OPERATION_FAILED)
        self.useFixture(fixtures.MonkeyPatch(
            'nova.tests.fixtures.libvirt.Domain.migrateToURI3', fail))
        server, migration = self._fail_to('xfer', INTERNAL_ERROR, None)
        status, rows, err = self.run_cli('migration', 'explain',
                                         '--server', 'xfer')
        self.assertEqual(0, status, err)
        self.assertEqual(['unknown'], [r['factor'] for r in rows])
        self.assertIn('Live Migration failure', rows[0]['cause'])
        # nova-compute logged it: that line explained offline.
        line = [ln for ln in self._log().splitlines()
                if 'Live Migration failure' in ln][0]
        status, rows, err = self.run_cli('migration', 'explain',
                                         '--error-text', line)
        self.assertEqual(['cpu_features'], [r['factor'] for r in rows])

    def test_bad_input_exits_2(self):
        for argv, words in (
                (('migration', 'explain', 'abc'),
                 ['neither a nova migration ID']),
                (('migration', 'explain', '99999'),
                 ['no live migration 99999']),
                (('migration', 'explain', '--server', 'ghost'),
                 ["no server named or with ID 'ghost'"]),
                (('migration', 'explain'), ['name the migration']),
                (('migration', 'explain', '--error-text', ' '),
                 ['--error-text: empty']),
                (('migration', 'explain', '--error-text', 'x', '--source',
                  '/nonexistent/snap'), ['--source', '/nonexistent/snap']),
                (('migration', 'explain', '7', '--source', 'src'),
                 ['--source and --destination go with --error-text'])):
            status, rows, err = self.run_cli(*argv)
            self.assertEqual(2, status, (argv, err))
            for word in words:
                self.assertIn(word, err, argv)
            self.assertNotIn('Traceback', err)
