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

"""The trait reporter against real Placement.

In-process placement (placement.direct) for the sync logic, and a real
placement server process (gunicorn on loopback, sqlite, noauth2) for the
``migcompat report`` and ``migcompat traits`` commands end to end, the
failure modes, and a concurrent writer playing nova-compute.
"""

import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid

import testtools
import yaml

from migcompat_filter.cpu import guest_requirements
from migcompat_filter.exception import InputError
from migcompat_filter.factors import guests as guests_factor
from migcompat_filter.host import domains
from migcompat_filter.host import reader
from migcompat_filter.host import source as hostsource
from migcompat_filter.placement import change_marker
from migcompat_filter.placement import client as placement
from migcompat_filter.placement import reporter
from migcompat_filter.profile import Profile
from migcompat_filter.profile import Unknown
from migcompat_filter.traits import codec as traits
from tests import cli
from tests.functional import delay_proxy
from tests.functional import placement_server
from tests.functional import stub_service

HOSTS = os.path.join(os.path.dirname(__file__), '..', 'fixtures', 'hosts')
HOST_A = os.path.join(HOSTS, 'epyc-milan-nested-l1')
HOST_B = os.path.join(HOSTS, 'this-host-epyc-nested-l1-20261125')

FOREIGN = ['HW_CPU_X86_AVX2', 'COMPUTE_STATUS_DISABLED', 'CUSTOM_GOLD',
           'CUSTOM_MIGCOMPATIBLE']  # not ours, despite the look-alike


def read_host(path):
    return reader.read_profile(hostsource.SnapshotSource(path))


def written(path):
    """The traits "migcompat report" writes for a snapshot (schema 3)."""
    return traits.encode(read_host(path), traits.SCHEMA)


def readable(path):
    """A snapshot's facts spelled out one trait each (schema 2's names):
    what "trait list" shows and nova's provider config file carries.
    """
    return traits.encode(read_host(path), 2)


def with_microcode(profile, microcode):
    data = profile.to_dict()
    data['microcode_version'] = microcode
    return Profile.from_dict(data)


#: Requests of the change marker's bump after a write: its rename (the
#: marker exists: setUp made it).
BUMP = 1


class _Client(placement.PlacementClient):
    """A client whose writes can be preceded by another writer's."""

    def __init__(self, adapter, before_put=None):
        super(_Client, self).__init__(adapter)
        self.before_put = before_put

    def put_traits(self, rp_uuid, traits_, generation):
        if self.before_put:
            self.before_put()
        return super(_Client, self).put_traits(rp_uuid, traits_, generation)


class TestSyncInProcess(testtools.TestCase):
    """sync() against placement's in-process WSGI app."""

    @classmethod
    def setUpClass(cls):
        super(TestSyncInProcess, cls).setUpClass()
        cls.host_a = read_host(HOST_A)
        cls.host_b = read_host(HOST_B)

    def setUp(self):
        super(TestSyncInProcess, self).setUp()
        self.adapter = placement_server.direct_adapter()
        self.client = placement.PlacementClient(self.adapter)
        resp = self.adapter.post('/resource_providers',
                                 json={'name': 'cn-%s' % uuid.uuid4().hex})
        self.assertEqual(200, resp.status_code, resp.text)
        self.rp = resp.json()['uuid']
        for name in FOREIGN:
            if name.startswith('CUSTOM_'):
                self.client.create_trait(name)
        self.client.put_traits(self.rp, FOREIGN, 0)
        self.assertTrue(change_marker.bump(self.client))

    def traits(self):
        return self.client.get_traits(self.rp)[0]

    def test_first_report_then_unchanged_then_changed(self):
        wanted = traits.encode(self.host_a)
        before = self.client.requests
        result = reporter.sync(self.client, self.rp, wanted)
        # Counted exactly: the documented cost of a report
        # (doc/source/reporter.rst). One read + one listing + one create
        # per name new to Placement + one write
        # (tests/functional/test_schema2.py counts them on the server side)
        # + the change marker's bump
        self.assertEqual(1 + 1 + len(result.created) + 1 + BUMP,
                         self.client.requests - before)
        self.assertTrue(result.written)
        self.assertEqual(sorted(wanted), result.added)
        self.assertEqual(set(FOREIGN) | set(wanted), self.traits())

        before = self.client.requests
        result = reporter.sync(self.client, self.rp, wanted)
        self.assertFalse(result.changed)
        self.assertFalse(result.written)
        # Documented: an unchanged host costs one read.
        self.assertEqual(1, self.client.requests - before)

        # A microcode update: the stale trait goes, the new one comes.
        updated = traits.encode(with_microcode(self.host_a, '0x1000999'))
        before = self.client.requests
        result = reporter.sync(self.client, self.rp, updated)
        old_digest = traits.digest_trait(wanted)
        new_digest = traits.digest_trait(updated)
        self.assertEqual(sorted(['CUSTOM_MIGCOMPAT_UCODE_0X1000999',
                                 new_digest]), result.added)
        self.assertEqual(sorted(['CUSTOM_MIGCOMPAT_UCODE_0X1000065',
                                 old_digest]), result.removed)
        # Documented: one read, two trait creations (the new value, the
        # new profile digest), one write, the bump
        self.assertEqual(4 + BUMP, self.client.requests - before)
        self.assertEqual(set(FOREIGN) | set(updated), self.traits())
        decoded = traits.decode(self.traits())
        self.assertEqual('0x1000999', decoded['microcode_version'])

    def test_guests_starting_change_only_the_guest_traits(self):
        # The same real host before and after a guest started: the GUESTS
        # traits change (one write), the digest does not, and Placement
        # hands each host's guests back exactly.
        guests = ('<domain type="kvm" id="1"><name>g</name>'
                  '<uuid>3f0a7c1e-2b4d-4e8a-9c61-5d2f8e7a1b90</uuid>'
                  '<os><type arch="x86_64" machine="pc-q35-7.2">hvm</type>'
                  '</os><cpu mode="custom" match="exact"><model>qemu64'
                  '</model><feature policy="require" name="x2apic"/></cpu>'
                  '</domain>')
        idle = dict(self.host_b.factors)
        idle['running_guests'] = {
            'count': 0, 'modes': {}, 'host_model_features': [],
            'custom_features': [], 'unexpanded': [], 'machine_types': [],
            'invtsc_frequencies': [], 'invtsc_unpinned': 0,
            'phys_bits': [], 'passthrough_extra': []}
        busy = dict(idle)
        busy['running_guests'] = guest_requirements.published(
            domains.requirements(
                [domains.parse_domain(guests, 'g.xml')],
                guests_factor.model_expander(
                    hostsource.SnapshotSource(HOST_B))))
        before_names = traits.encode(Profile(idle))
        after_names = traits.encode(Profile(busy))
        reporter.sync(self.client, self.rp, before_names)
        before = self.client.requests
        result = reporter.sync(self.client, self.rp, after_names)
        # Documented: one read, one listing of the new GUESTS names, a
        # create for each one Placement lacks, one write, the bump
        self.assertEqual(3 + len(result.created) + BUMP,
                         self.client.requests - before)
        self.assertGreater(len(result.added), reporter.LIST_BEYOND)
        self.assertTrue(result.written)
        self.assertTrue(all(traits.is_per_host(t)
                            for t in result.added + result.removed))
        self.assertEqual(traits.digest_trait(before_names),
                         traits.digest_trait(self.traits()))
        decoded = traits.decode(self.traits())
        self.assertEqual(busy['running_guests'], decoded['running_guests'])
        self.assertIn('x2apic', decoded['running_guests']['custom_features'])
        before = self.client.requests
        self.assertFalse(reporter.sync(self.client, self.rp,
                                       after_names).written)
        self.assertEqual(1, self.client.requests - before)

    def test_traits_from_placement_decode_to_the_profile(self):
        reporter.sync(self.client, self.rp, traits.encode(self.host_b))
        decoded, problems = traits.parse(self.traits())
        self.assertEqual([], problems)
        self.assertEqual(traits.decode(traits.encode(self.host_b)), decoded)
        self.assertEqual(self.host_b['kernel_version'],
                         decoded['kernel_version'])

    def test_dry_run_writes_nothing(self):
        wanted = traits.encode(self.host_a)
        result = reporter.sync(self.client, self.rp, wanted, dry_run=True)
        self.assertTrue(result.changed)
        self.assertFalse(result.written)
        self.assertEqual(set(FOREIGN), self.traits())
        self.assertIn('+ CUSTOM_MIGCOMPAT_SCHEMA_2', result.lines())

    def test_hand_set_malformed_trait_of_ours_is_replaced(self):
        wanted = traits.encode(self.host_a)
        reporter.sync(self.client, self.rp, wanted)
        bad = 'CUSTOM_MIGCOMPAT_QEMU_8_'
        self.client.create_trait(bad)
        current, gen = self.client.get_traits(self.rp)
        self.client.put_traits(self.rp, current | {bad}, gen)
        decoded, problems = traits.parse(self.traits())
        self.assertEqual(sorted([bad, 'CUSTOM_MIGCOMPAT_QEMU_7_2_22']),
                         sorted(p.trait for p in problems))
        self.assertIsInstance(decoded['qemu_version'], Unknown)
        result = reporter.sync(self.client, self.rp, wanted)
        self.assertEqual([bad], result.removed)
        self.assertEqual(set(FOREIGN) | set(wanted), self.traits())

    def test_conflict_is_retried_and_keeps_the_other_writers_trait(self):
        self.client.create_trait('CUSTOM_NOVA_LATE')

        def nova_writes():
            cur, gen = placement.PlacementClient(
                self.adapter).get_traits(self.rp)
            placement.PlacementClient(self.adapter).put_traits(
                self.rp, cur | {'CUSTOM_NOVA_LATE'}, gen)
            client.before_put = None  # only once

        client = _Client(self.adapter, before_put=nova_writes)
        wanted = traits.encode(self.host_a)
        result = reporter.sync(client, self.rp, wanted)
        self.assertEqual(2, result.attempts)
        self.assertEqual(set(FOREIGN) | {'CUSTOM_NOVA_LATE'} | set(wanted),
                         self.traits())

    def test_endless_conflicts_give_up_without_writing(self):
        self.client.create_trait('CUSTOM_NOVA_TOGGLE')

        def other_writer():
            cur, gen = placement.PlacementClient(
                self.adapter).get_traits(self.rp)
            placement.PlacementClient(self.adapter).put_traits(
                self.rp, cur ^ {'CUSTOM_NOVA_TOGGLE'}, gen)

        client = _Client(self.adapter, before_put=other_writer)
        e = self.assertRaises(placement.PlacementError, reporter.sync,
                              client, self.rp, traits.encode(self.host_a),
                              max_retries=2)
        self.assertIn('changed under us 3 times', str(e))
        self.assertIn('gave up without writing', str(e))
        # three toggles by the other writer, nothing of ours
        self.assertEqual(set(FOREIGN) | {'CUSTOM_NOVA_TOGGLE'},
                         self.traits())

    def test_missing_provider(self):
        missing = str(uuid.uuid4())
        self.assertRaises(placement.ProviderNotFound, reporter.sync,
                          self.client, missing, traits.encode(self.host_a))
        self.assertRaises(placement.ProviderNotFound,
                          self.client.find_provider, 'no-such-host')
        self.assertRaises(placement.ProviderNotFound,
                          self.client.find_provider, missing)

    def test_only_our_traits_may_be_wanted(self):
        e = self.assertRaises(InputError, reporter.sync, self.client,
                              self.rp, ['CUSTOM_GOLD'])
        self.assertIn('only traits under CUSTOM_MIGCOMPAT_', str(e))
        self.assertEqual(set(FOREIGN), self.traits())


class TestProviderConfig(testtools.TestCase):

    def test_written_atomically_and_accepted_by_nova(self):
        from nova.compute import provider_config
        tmp = self.useFixture(__import__('fixtures').TempDir()).path
        wanted = written(HOST_A)
        path, changed = reporter.write_provider_config(tmp, wanted)
        self.assertTrue(changed)
        self.assertEqual(['migcompat.yaml'], os.listdir(tmp))  # no temp
        # nova's own loader validates the file against its schema.
        configs = provider_config.get_provider_configs(tmp)
        self.assertEqual(['$COMPUTE_NODE'], list(configs))
        self.assertEqual(set(wanted), set(
            configs['$COMPUTE_NODE']['traits']['additional']))
        with open(path) as f:
            self.assertIn('restart nova-compute', f.read())
        self.assertEqual((path, False),
                         reporter.write_provider_config(tmp, wanted))


migcompat = cli.run


class ServerTestCase(placement_server.ServerPerClass, testtools.TestCase):
    """Shares one real placement server per class (it takes seconds)."""

    def setUp(self):
        super(ServerTestCase, self).setUp()
        self.tmp = self.useFixture(__import__('fixtures').TempDir()).path
        self.rp = self.server.create_provider()
        self.client = placement.PlacementClient(
            placement.adapter_noauth(self.server.url))
        for name in FOREIGN:
            if name.startswith('CUSTOM_'):
                self.client.create_trait(name)
        self.client.put_traits(self.rp['uuid'], FOREIGN,
                               self.rp['generation'])

    def ours(self):
        return {t for t in self.server.traits(self.rp['uuid'])[0]
                if traits.is_ours(t)}

    def foreign(self):
        return {t for t in self.server.traits(self.rp['uuid'])[0]
                if not traits.is_ours(t)}

    def write_conf(self, text):
        path = os.path.join(self.tmp, 'nova.conf')
        with open(path, 'w') as f:
            f.write(text)
        return path


class TestReportCommand(ServerTestCase):

    def test_traits_command_matches_the_codec(self):
        rc, out, err = migcompat('traits', '--root', HOST_A, '-f', 'value',
                                 '-c', 'name')
        self.assertEqual(0, rc, err)
        self.assertEqual(readable(HOST_A), out.split())

    def test_traits_command_decodes_each_trait(self):
        rc, out, err = migcompat('traits', '--root', HOST_A, '-f', 'json')
        self.assertEqual(0, rc, err)
        rows = {r['name']: (r['factor'], r['value'])
                for r in json.loads(out)}
        self.assertEqual(set(readable(HOST_A)), set(rows))
        self.assertEqual(('qemu_version', '7.2.22'),
                         rows['CUSTOM_MIGCOMPAT_QEMU_7_2_22'])
        self.assertEqual(('host_model', 'features=x2apic'),
                         rows['CUSTOM_MIGCOMPAT_HM_X2APIC'])
        self.assertEqual(('arch', 'x86_64'),
                         rows['CUSTOM_MIGCOMPAT_ARCH_X86_64'])
        rc, out, err = migcompat('traits', '--root', HOST_A, '-f', 'yaml')
        self.assertEqual(0, rc, err)
        self.assertEqual(len(rows), len(yaml.safe_load(out)))
        # -f value (name, factor, value a line) is a trait list compare
        # reads: the name is each line's first word.
        rc, out, err = migcompat('traits', '--root', HOST_A, '-f', 'value')
        self.assertEqual(0, rc, err)
        self.assertEqual(traits.canonical(read_host(HOST_A)),
                         traits.load_trait_list(out))

    def test_report_with_nova_style_placement_options(self):
        conf = self.write_conf(
            '[placement]\nauth_type = admin_token\nendpoint = %s\n'
            'token = admin\n[DEFAULT]\nhost = %s\n'
            % (self.server.url, self.rp['name']))
        wanted = set(written(HOST_A))
        rc, out, err = migcompat('--config-file', conf, 'report', '--root',
                                 HOST_A, '--dry-run')
        self.assertEqual(0, rc, err)
        self.assertIn('dry run', out)
        self.assertEqual(set(), self.ours())

        rc, out, err = migcompat('--config-file', conf, 'report', '--root',
                                 HOST_A)
        self.assertEqual(0, rc, err)
        self.assertEqual(wanted, self.ours())
        self.assertEqual(set(FOREIGN), self.foreign())
        self.assertEqual(len(wanted), out.count('\n+ ') + 1)

        rc, out, err = migcompat('--config-file', conf, 'report', '--root',
                                 HOST_A)
        self.assertEqual(0, rc, err)
        self.assertIn('unchanged', out)

        # The host changed (another snapshot): stale traits of ours go.
        rc, out, err = migcompat('--config-file', conf, 'report', '--root',
                                 HOST_B, '--provider', self.rp['uuid'])
        self.assertEqual(0, rc, err)
        self.assertEqual(set(written(HOST_B)), self.ours())
        self.assertEqual(set(FOREIGN), self.foreign())
        self.assertIn('- ' + next(t for t in written(HOST_A)
                                  if '_PROFILE_' in t), out)

    def test_report_with_clouds_yaml(self):
        clouds = os.path.join(self.tmp, 'clouds.yaml')
        with open(clouds, 'w') as f:
            yaml.safe_dump({'clouds': {'lab': {
                'auth_type': 'admin_token',
                'auth': {'endpoint': self.server.url, 'token': 'admin'}}}},
                f)
        rc, out, err = migcompat(
            'report', '--root', HOST_A, '--os-cloud', 'lab', '--provider',
            self.rp['name'], env={'OS_CLIENT_CONFIG_FILE': clouds})
        self.assertEqual(0, rc, err)
        self.assertEqual(set(written(HOST_A)), self.ours())

    def test_missing_provider_is_an_input_error(self):
        rc, out, err = migcompat('report', '--root', HOST_A,
                                 '--placement-url', self.server.url,
                                 '--provider', 'no-such-compute')
        self.assertEqual(2, rc)
        self.assertIn("no resource provider named 'no-such-compute'", err)
        self.assertNotIn('Traceback', err)

    def test_missing_auth_config_is_an_input_error(self):
        conf = self.write_conf('[placement]\n')
        rc, out, err = migcompat('--config-file', conf, 'report', '--root',
                                 HOST_A, '--provider', self.rp['uuid'])
        self.assertEqual(2, rc)
        self.assertIn('[placement] auth_type is not set', err)

    def test_provider_config_mode_writes_no_placement(self):
        rc, out, err = migcompat('report', '--root', HOST_A,
                                 '--provider-config', self.tmp)
        self.assertEqual(0, rc, err)
        self.assertIn('restart nova-compute', out)
        with open(os.path.join(self.tmp, 'migcompat.yaml')) as f:
            doc = yaml.safe_load(f)
        # nova's provider config file cannot write the migcompat store:
        # it carries the readable names (doc/source/upgrade.rst).
        self.assertEqual(readable(HOST_A),
                         doc['providers'][0]['traits']['additional'])

    def test_interval_keeps_reporting(self):
        conf = self.write_conf('[migcompat]\nreport_jitter = 0\n')
        proc = subprocess.Popen(
            [sys.executable, '-m', 'migcompat_filter.cmd.shell',
             '--config-file', conf, 'report', '--root', HOST_A,
             '--placement-url', self.server.url, '--provider',
             self.rp['uuid'], '--interval', '1'],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.time() + 60
            while time.time() < deadline and not self.ours():
                time.sleep(0.2)
            self.assertEqual(set(written(HOST_A)),
                             self.ours())
            # A human removes one of ours: the next round puts it back.
            cur, gen = self.server.traits(self.rp['uuid'])
            victim = next(t for t in written(HOST_A) if '_PROFILE_' in t)
            self.client.put_traits(self.rp['uuid'], cur - {victim}, gen)
            deadline = time.time() + 30
            while time.time() < deadline and victim not in self.ours():
                time.sleep(0.2)
            self.assertIn(victim, self.ours())
        finally:
            proc.terminate()
            proc.communicate(timeout=30)

    def test_sigterm_during_a_round_finishes_it(self):
        # Fails on main (killed by the default handler, status -15). Every
        # answer 0.4 s late; SIGTERM as the first request goes out lets
        # the round finish its write, then the loop stops.
        url = self.useFixture(delay_proxy.DelayProxy(self.server.url,
                                                     0.4)).url
        # All of ours but one already there: the round is then 4
        # requests (find, read, create one trait, write), ~1.6 s.
        wanted = set(written(HOST_A))
        victim = sorted(wanted)[0]
        for name in wanted:
            self.client.create_trait(name)
        cur, gen = self.client.get_traits(self.rp['uuid'])
        self.client.put_traits(self.rp['uuid'], cur | wanted - {victim}, gen)
        conf = self.write_conf('[migcompat]\nreport_jitter = 0\n')
        proc = subprocess.Popen(
            cli.command() + ['-v', '-v', '--config-file', conf, 'report',
                             '--root', HOST_A, '--placement-url', url,
                             '--provider', self.rp['uuid'],
                             '--interval', '600'],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.addCleanup(proc.kill)
        watchdog = threading.Timer(60, proc.kill)  # never hang the test
        watchdog.start()
        self.addCleanup(watchdog.cancel)
        for line in proc.stderr:  # keystoneauth logs each request
            if line.startswith('REQ: '):
                break
        self.assertNotIn(victim, self.ours())  # the write is still ahead
        proc.terminate()
        out, err = proc.communicate(timeout=60)
        self.assertEqual(0, proc.returncode, err)
        self.assertEqual(1, err.count('stopping on SIGTERM'), err)
        self.assertIn('updated provider', out)
        self.assertEqual(wanted, self.ours())
        self.assertEqual(set(FOREIGN), self.foreign())

    def test_interval_waits_for_the_provider_to_appear(self):
        # At boot the reporter may start before nova-compute registers
        # its node: it must keep trying, not exit.
        conf = self.write_conf('[migcompat]\nreport_jitter = 0\n')
        name = 'late-%s' % uuid.uuid4().hex[:8]
        proc = subprocess.Popen(
            [sys.executable, '-m', 'migcompat_filter.cmd.shell',
             '--config-file', conf, 'report', '--root', HOST_A,
             '--placement-url', self.server.url, '--provider', name,
             '--interval', '1'],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        # Create the provider only once the reporter has said it found
        # none (an event, not a sleep: a loaded machine may take seconds).
        err_lines = []
        missing = threading.Event()

        def read_err():
            for line in proc.stderr:
                err_lines.append(line)
                if "no resource provider named '%s'" % name in line:
                    missing.set()

        reader_thread = threading.Thread(target=read_err, daemon=True)
        reader_thread.start()
        try:
            self.assertTrue(missing.wait(120), ''.join(err_lines))
            self.assertIsNone(proc.poll())
            rp = self.server.create_provider(name)['uuid']
            deadline = time.time() + 120
            while time.time() < deadline and not self.server.traits(rp)[0]:
                time.sleep(0.2)
            self.assertEqual(set(written(HOST_A)),
                             self.server.traits(rp)[0])
        finally:
            proc.terminate()
            proc.wait(timeout=60)
            reader_thread.join(30)
            proc.stdout.close()

    def test_bad_usage(self):
        rc, out, err = migcompat('--config-file', '/nonexistent.conf',
                                 'report', '--root', HOST_A)
        self.assertEqual(2, rc)
        self.assertIn('/nonexistent.conf', err)
        rc, out, err = migcompat('report', '--root', HOST_A,
                                 '--placement-url', self.server.url,
                                 '--interval', '-5')
        self.assertEqual(2, rc)
        self.assertIn('--interval', err)
        rc, out, err = migcompat('report', '--profile', '/nonexistent.json',
                                 '--placement-url', self.server.url)
        self.assertEqual(2, rc)
        self.assertIn('/nonexistent.json', err)


class TestFailures(ServerTestCase):
    """Each failure: clear error, non-zero exit, nothing written, and the
    next run against a healthy placement recovers.
    """

    def assert_failed_cleanly(self, rc, err, expected):
        self.assertEqual(1, rc, err)
        self.assertIn(expected, err)
        self.assertNotIn('Traceback', err)
        self.assertEqual(set(), self.ours())
        self.assertEqual(set(FOREIGN), self.foreign())

    def recover(self):
        rc, out, err = migcompat('report', '--root', HOST_A,
                                 '--placement-url', self.server.url,
                                 '--provider', self.rp['uuid'])
        self.assertEqual(0, rc, err)
        self.assertEqual(set(written(HOST_A)), self.ours())
        self.assertEqual(set(FOREIGN), self.foreign())

    def test_placement_down(self):
        rc, out, err = migcompat(
            'report', '--root', HOST_A, '--placement-url',
            'http://127.0.0.1:%d' % placement_server.free_port(),
            '--provider', self.rp['uuid'])
        self.assert_failed_cleanly(rc, err, 'cannot connect to placement')
        self.recover()

    def test_placement_slow(self):
        listener = socket.socket()
        listener.bind(('127.0.0.1', 0))
        listener.listen(8)  # accepts, never answers
        self.addCleanup(listener.close)
        conf = self.write_conf('[migcompat]\nrequest_timeout = 1\n')
        start = time.time()
        rc, out, err = migcompat(
            '--config-file', conf, 'report', '--root', HOST_A,
            '--placement-url',
            'http://127.0.0.1:%d' % listener.getsockname()[1],
            '--provider', self.rp['uuid'])
        self.assertLess(time.time() - start, 30)
        self.assert_failed_cleanly(rc, err, 'did not answer in time')
        self.recover()

    def test_placement_5xx(self):
        url = self.useFixture(stub_service.StubService(503)).url
        rc, out, err = migcompat('report', '--root', HOST_A,
                                 '--placement-url', url,
                                 '--provider', self.rp['uuid'])
        self.assert_failed_cleanly(rc, err, 'HTTP 503')
        self.assertIn('stub says 503', err)
        self.recover()

    def test_placement_4xx(self):
        url = self.useFixture(stub_service.StubService(400)).url
        rc, out, err = migcompat('report', '--root', HOST_A,
                                 '--placement-url', url,
                                 '--provider', self.rp['uuid'])
        self.assert_failed_cleanly(rc, err, 'HTTP 400')
        self.recover()

    def test_bad_credentials(self):
        # Keystone cannot run here: a stub identity service refuses the
        # password as keystone does (401), through keystoneauth's real
        # password plugin loaded from nova-style [placement] options.
        url = self.useFixture(stub_service.StubService(401)).url
        conf = self.write_conf(
            '[placement]\nauth_type = v3password\nauth_url = %s/v3\n'
            'username = nova\npassword = s3cr3t-pw\nproject_name = service\n'
            'user_domain_name = Default\nproject_domain_name = Default\n'
            % url)
        rc, out, err = migcompat('--config-file', conf, 'report', '--root',
                                 HOST_A, '--provider', self.rp['uuid'])
        self.assert_failed_cleanly(rc, err, 'authentication failed')
        self.assertNotIn('s3cr3t-pw', out + err)
        self.recover()

    def test_report_deadline_stops_a_slow_report(self):
        # Every answer 0.5 s late, well inside request_timeout. Even
        # when the trait names exist (other tests made them), the report
        # reads the provider, its traits and the names before its one
        # write (1.5 s): the 1.2 s deadline stops it before that write.
        # A fresh placement needs ~300 more requests (one per new name).
        url = self.useFixture(delay_proxy.DelayProxy(self.server.url,
                                                     0.5)).url
        conf = self.write_conf('[migcompat]\nrequest_timeout = 5\n'
                               'report_deadline = 1.2\n')
        rc, out, err = migcompat('--config-file', conf, 'report', '--root',
                                 HOST_A, '--placement-url', url,
                                 '--provider', self.rp['uuid'])
        self.assert_failed_cleanly(rc, err, 'report deadline of 1.2 s '
                                   'passed')
        self.recover()

    def test_report_deadline_caps_a_hung_request(self):
        # A placement that accepts and never answers, with a per-request
        # timeout far beyond the deadline: the deadline still holds.
        listener = socket.socket()
        listener.bind(('127.0.0.1', 0))
        listener.listen(8)
        self.addCleanup(listener.close)
        conf = self.write_conf('[migcompat]\nrequest_timeout = 60\n'
                               'report_deadline = 2\n')
        start = time.monotonic()
        rc, out, err = migcompat(
            '--config-file', conf, 'report', '--root', HOST_A,
            '--placement-url',
            'http://127.0.0.1:%d' % listener.getsockname()[1],
            '--provider', self.rp['uuid'])
        took = time.monotonic() - start
        self.assert_failed_cleanly(rc, err, 'report deadline of 2 s passed')
        self.assertLess(took, 15)  # 2 s + the interpreter's start-up

    def test_placement_restarted_mid_life(self):
        self.server.stop()
        try:
            rc, out, err = migcompat('report', '--root', HOST_A,
                                     '--placement-url', self.server.url,
                                     '--provider', self.rp['uuid'])
            self.assertEqual(1, rc)
            self.assertIn('cannot connect to placement', err)
        finally:
            self.server.start()
        self.recover()


class TestConcurrentNovaCompute(ServerTestCase):
    """The reporter and a nova-compute-like writer share one provider."""

    ROUNDS = 40

    def test_no_foreign_trait_lost(self):
        rp = self.rp['uuid']
        nova_traits = ['CUSTOM_NOVA_T%d' % i for i in range(8)]
        for name in nova_traits:
            self.client.create_trait(name)
        host = read_host(HOST_A)
        profiles = [traits.encode(with_microcode(host, hex(0x1000065 + i)))
                    for i in range(4)]
        nova = subprocess.Popen(
            [sys.executable, '-m', 'tests.functional.nova_compute_writer',
             self.server.url, rp] + nova_traits,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.addCleanup(nova.kill)
        written = []
        conflicts = 0
        for i in range(self.ROUNDS):
            wanted = profiles[i % len(profiles)]
            try:
                result = reporter.sync(self.client, rp, wanted,
                                       max_retries=10)
            except placement.PlacementError:
                conflicts += 1
                continue
            conflicts += result.attempts - 1
            written.append(wanted)
            # Between our rounds nova may have written, never ours.
            self.assertEqual(set(wanted), self.ours())
        out, _err = nova.communicate('', timeout=60)
        self.assertEqual(0, nova.returncode)
        nova_result = json.loads(out)
        self.assertGreater(nova_result['rounds'], self.ROUNDS // 2)
        self.assertGreater(len(written), self.ROUNDS // 2)
        # Every foreign trait is as its writer left it: the human-set ones
        # untouched, nova-compute's exactly those it last set.
        self.assertEqual(set(FOREIGN) | set(nova_result['present']),
                         self.foreign())
        self.assertEqual(set(written[-1]), self.ours())
        # The two writers did race, or the test proved nothing.
        self.assertGreater(conflicts, 0)
