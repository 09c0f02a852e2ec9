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

"""CLI hygiene (secrets, unusable URLs, killed runs and the compare
frozenset crash), each through the real ``migcompat`` process.

No secret in any output, bad input and unusable URLs exit 2, compare's
0/1 only for real verdicts, ``report --interval`` bounded and stopped
cleanly by SIGTERM, litter of killed runs removed, and every ``-f`` format
of ``compare`` complete in every mode.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import yaml

from migcompat_filter.cmd import compare as compare_cmd
from migcompat_filter.cmd import shell
from migcompat_filter import exception
from migcompat_filter.placement import reporter
from migcompat_filter import redaction
from tests import cli

HERE = os.path.dirname(os.path.abspath(__file__))
HOSTS = os.path.join(os.path.dirname(HERE), 'fixtures', 'hosts')
MILAN = os.path.join(HOSTS, 'epyc-milan-nested-l1')
EPYC_7713 = os.path.join(HOSTS, 'libvirt-cpuid-epyc-7713-64-core-host')

SECRET = 'S3cr3tPW'


def free_port():
    """A loopback port nothing listens on (connection refused)."""
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


class HygieneTestCase(cli.CLITestBase):
    """compare's test base (a temp dir, write()) plus the hygiene checks."""

    def profile_json(self, **changes):
        rc, out, err = cli.run('profile', '--root', MILAN, '-f', 'json')
        self.assertEqual(0, rc, err)
        data = json.loads(out)
        data.update(changes)
        return self.write('profile.json', json.dumps(data))

    def assertBadInput(self, result, *needles):
        rc, out, err = result
        self.assertEqual(shell.EXIT_BAD_INPUT, rc, out + err)
        self.assertNotIn('Traceback', err)
        for needle in needles:
            self.assertIn(needle, err)


class TestNoSecretInOutput(HygieneTestCase):
    """Secrets: fails on main (the line and the password are printed)."""

    def test_debug_does_not_print_a_bad_nova_conf_line(self):
        conf = self.write('nova.conf', '[DEFAULT]\nthis line has no '
                          'equals sign and holds %s\n' % SECRET)
        rc, out, err = cli.run('--debug', 'snapshot',
                               os.path.join(self.tmp, 'snap'),
                               '--connect', 'test:///default',
                               '--nova-config', conf)
        self.assertEqual(shell.EXIT_BAD_INPUT, rc, err)
        self.assertIn('cannot be parsed as an ini file', err)
        self.assertNotIn(SECRET, out + err)

    def assertNoSecret(self, args, env=None):
        rc, out, err = cli.run(*args, env=env, timeout=60)
        self.assertNotIn(SECRET, out + err, args)
        self.assertNotIn('user:', out + err)
        return rc, out, err

    def test_url_userinfo_never_printed(self):
        url = 'http://user:%s@127.0.0.1:%d/' % (SECRET, free_port())
        log = os.path.join(self.tmp, 'log')
        profile = self.profile_json()
        runs = [
            ('host', 'list', '--placement-url', url),
            ('-v', '-v', '--debug', 'host', 'list', '--placement-url', url),
            ('-v', '-v', '--debug', '--log-file', log, 'report',
             '--profile', profile, '--provider', 'x',
             '--placement-url=' + url),
            ('-v', '--debug', 'host', 'list', '--placement-url',
             url.replace('127.0.0.1', 'not a host')),
        ]
        for args in runs:
            rc, out, err = self.assertNoSecret(args)
            self.assertIn(rc, (1, 2), err)
            self.assertIn('http://127.0.0.1:' if rc == 1
                          else 'http://not a host:', err)
        with open(log) as f:
            text = f.read()
        self.assertIn('127.0.0.1', text)
        self.assertNotIn(SECRET, text)

    def test_url_userinfo_from_the_environment(self):
        url = 'http://user:%s@127.0.0.1:%d/' % (SECRET, free_port())
        rc, out, err = self.assertNoSecret(
            ('-v', '-v', '--debug', 'host', 'list'),
            env={'MIGCOMPAT_PLACEMENT_URL': url})
        self.assertEqual(1, rc, err)

    def test_redact(self):
        self.addCleanup(redaction.clear_secrets)
        redaction.add_secrets_from_url('https://me:p%40ss@h/')
        self.assertEqual(
            'to https://h:5/x failed; pw *** or ***',
            redaction.redact('to https://me:p%40ss@h:5/x failed; '
                             'pw p@ss or p%40ss'))
        self.assertEqual('qemu:///system', redaction.redact('qemu:///system'))
        self.assertEqual('http://h/', redaction.strip_userinfo(
            'http://a:b@c@h/'))


class TestExitStatus(HygieneTestCase):
    """Exit codes: fails on main (unusable URLs exit 1, --interval
    overflows).
    """

    def test_unusable_urls_are_bad_input(self):
        for url in ('not a url', 'ftp://127.0.0.1/', 'http://',
                    'http://127.0.0.1:port/', 'http://127.0.0.1:99999/'):
            self.assertBadInput(cli.run('host', 'list', '--placement-url',
                                        url), '--placement-url')
        self.assertBadInput(cli.run('report', '--root', MILAN,
                                    '--placement-url', 'not a url'),
                            '--placement-url not a url')

    def test_placement_down_is_a_runtime_failure(self):
        rc, out, err = cli.run('host', 'list', '--placement-url',
                               'http://127.0.0.1:%d/' % free_port())
        self.assertEqual(shell.EXIT_FAILURE, rc, err)
        self.assertIn('cannot connect to placement', err)

    def test_interval_has_an_upper_limit(self):
        self.assertBadInput(
            cli.run('report', '--root', MILAN, '--provider-config', self.tmp,
                    '--interval', '99999999999999999999'),
            '--interval 99999999999999999999', '604800')
        conf = self.write('m.conf', '[migcompat]\nreport_interval = '
                          '99999999999\n')
        self.assertBadInput(
            cli.run('--config-file', conf, 'report', '--root', MILAN,
                    '--provider-config', self.tmp), 'report_interval')

    def test_encoding_errors_name_the_file(self):
        profile = self.profile_json(phys_bits=48.5)
        for command in (('traits',), ('report', '--provider-config',
                                      self.tmp)):
            self.assertBadInput(
                cli.run(*command + ('--profile', profile)),
                '--profile %s: ' % profile, 'phys_bits')

    def test_compare_internal_error_is_not_a_verdict(self):
        # Any error inside compare that is not bad input exits 3, never
        # 1 (= not compatible). The process replaces the rules engine
        # with one that fails, as a rules bug would.
        code = ('import sys\n'
                'from migcompat_filter import rules\n'
                'def broken(*a, **k):\n'
                '    raise ZeroDivisionError("a rules bug")\n'
                'rules.evaluate = broken\n'
                'from migcompat_filter.cmd import shell\n'
                'sys.exit(shell.main(sys.argv[1:]))\n')
        proc = subprocess.run([sys.executable, '-c', code, 'compare', MILAN,
                               MILAN], capture_output=True, text=True,
                              timeout=60)
        self.assertEqual(compare_cmd.EXIT_INTERNAL_ERROR, proc.returncode,
                         proc.stderr)
        self.assertIn('a rules bug', proc.stderr)
        self.assertNotIn('Traceback', proc.stderr)

    def test_exit_status_mapping(self):
        cmd = compare_cmd.Compare(None, None)
        self.assertEqual(0, shell.exit_status(None, 0, cmd))
        self.assertEqual(1, shell.exit_status(None, 1, cmd))
        self.assertEqual(2, shell.exit_status(
            exception.InputError('x'), 1, cmd))
        self.assertEqual(3, shell.exit_status(RuntimeError('x'), 1, cmd))
        self.assertEqual(1, shell.exit_status(RuntimeError('x'), 1, None))


class TestReportSigterm(HygieneTestCase):
    """Signals: fails on main (status -15, nothing logged)."""

    def start(self, jitter):
        conf = self.write('m.conf', '[migcompat]\nreport_jitter = %d\n'
                          % jitter)
        return subprocess.Popen(
            cli.command() + ['--config-file', conf, 'report', '--root',
                             MILAN, '--provider-config', self.tmp,
                             '--interval', '1'],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def wait_for_file(self, path, proc):
        deadline = time.monotonic() + 60
        while not os.path.exists(path) and time.monotonic() < deadline:
            self.assertIsNone(proc.poll())
            time.sleep(0.05)
        self.assertTrue(os.path.exists(path))

    def stop(self, proc):
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
        self.assertEqual(0, proc.returncode, err)
        self.assertEqual(1, err.count('stopping on SIGTERM'), err)
        self.assertNotIn('Traceback', err)
        return out

    def test_sigterm_between_rounds(self):
        proc = self.start(jitter=0)
        self.addCleanup(proc.kill)
        path = os.path.join(self.tmp, 'migcompat.yaml')
        self.wait_for_file(path, proc)
        time.sleep(0.3)  # into the wait after the first round
        out = self.stop(proc)
        self.assertIn('wrote %s' % path, out)
        with open(path) as f:
            self.assertIn('CUSTOM_MIGCOMPAT_', f.read())

    def wait_for_sigterm_handler(self, proc):
        # Not a fixed sleep: a loaded machine can take seconds to start
        # the CLI. The kernel shows when the process catches SIGTERM.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            self.assertIsNone(proc.poll())
            with open('/proc/%d/status' % proc.pid) as f:
                caught = [line.split()[1] for line in f
                          if line.startswith('SigCgt:')]
            if caught and int(caught[0], 16) & (1 << (signal.SIGTERM - 1)):
                return
            time.sleep(0.05)
        self.fail('report never installed its SIGTERM handler')

    def test_sigterm_during_the_first_jitter(self):
        proc = self.start(jitter=600)
        self.addCleanup(proc.kill)
        self.wait_for_sigterm_handler(proc)  # now waiting out the jitter
        time.sleep(0.2)
        self.assertIsNone(proc.poll())
        self.stop(proc)
        self.assertFalse(os.path.exists(os.path.join(self.tmp,
                                                     'migcompat.yaml')))


class TestProviderConfigLitter(HygieneTestCase):
    """Temp files: fails on main (temp files of killed runs are never
    removed).
    """

    def test_stale_temp_files_of_ours_are_removed(self):
        old = time.time() - 2 * reporter.STALE_SECONDS
        stale = self.write('.migcompat.yaml.abcd1234.tmp', 'half')
        young = self.write('.migcompat.yaml.young123.tmp', 'in progress')
        foreign = self.write('.other.yaml.abcd1234.tmp', 'not ours')
        for path in (stale, foreign):
            os.utime(path, (old, old))
        for _ in range(2):  # written, then unchanged: both clean up
            rc, out, err = cli.run('report', '--root', MILAN,
                                   '--provider-config', self.tmp)
            self.assertEqual(0, rc, err)
            self.assertFalse(os.path.exists(stale))
            os.close(os.open(stale, os.O_CREAT | os.O_WRONLY))
            os.utime(stale, (old, old))
        self.assertIn('unchanged', out)
        self.assertTrue(os.path.exists(young))
        self.assertTrue(os.path.exists(foreign))


class TestCompareFormats(HygieneTestCase):
    """Every -f format of compare, in every mode, is complete output.
    Fails on main: custom mode with a model set crashes json and yaml
    half-way ("Object of type frozenset is not JSON serializable").
    """

    # The second pair gives custom mode a set of CPU models (the crash).
    PAIRS = ((EPYC_7713, MILAN, ()),
             (MILAN, EPYC_7713, ('--cpu-model', 'EPYC-Milan',
                                 '--cpu-model', 'EPYC-Rome')))

    def test_host_model(self):
        self.assertEqual(10, self.check_formats('host-model'))

    def test_host_passthrough(self):
        self.assertEqual(10, self.check_formats('host-passthrough'))

    def test_custom(self):
        self.assertEqual(10, self.check_formats('custom'))

    def check_formats(self, mode):
        """Run compare in mode with every -f format; the cases run."""
        cases = 0
        for src, dst, extra in self.PAIRS:
            verdicts = set()
            for fmt in ('json', 'yaml', 'table', 'shell', 'value'):
                rc, out, err = cli.run('compare', src, dst, '--mode',
                                       mode, '-f', fmt, *extra)
                cases += 1
                self.assertIn(rc, (0, 1), (mode, fmt, err))
                self.assertEqual('', err.strip(), (mode, fmt))
                verdicts.add(rc)
                if fmt == 'json':
                    data = json.loads(out)
                elif fmt == 'yaml':
                    data = yaml.safe_load(out)
                else:
                    continue
                self.assertEqual(rc == 0, data['compatible'])
                self.assertEqual(mode, data['mode'])
                self.assertIsInstance(data['findings'], list)
            self.assertEqual(1, len(verdicts), (src, dst, mode))
        return cases

    def test_plain(self):
        self.assertEqual({'a': [['x', 'y'], [1, 2]]},
                         compare_cmd.plain({'a': ({'y', 'x'},
                                                  frozenset((2, 1)))}))
