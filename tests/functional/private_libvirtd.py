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

"""A private libvirtd a test may stop and restart.

The system libvirtd (qemu:///system) is shared with other tests and must
never be stopped. This one is a session-mode daemon with its own
XDG_RUNTIME_DIR/XDG_CONFIG_HOME/XDG_CACHE_HOME in a temporary directory;
run as root, it runs as ``nobody`` (libvirtd run by root is always the
system daemon), with the kvm group when there is one. Connect to it with
:attr:`PrivateLibvirtd.uri` (its socket).
"""

import grp
import os
import pwd
import shutil
import signal
import subprocess
import time

import fixtures

LIBVIRTD = shutil.which('libvirtd') or '/usr/sbin/libvirtd'


def available():
    return os.path.exists(LIBVIRTD) and shutil.which('setpriv') is not None


class PrivateLibvirtd(fixtures.Fixture):

    def _setUp(self):
        self.dir = self.useFixture(fixtures.TempDir()).path
        os.chmod(self.dir, 0o755)
        for sub in ('run', 'config', 'cache', 'home'):
            os.makedirs(os.path.join(self.dir, sub))
        self.as_nobody = os.geteuid() == 0
        if self.as_nobody:
            user = pwd.getpwnam('nobody')
            for top, dirs, files in os.walk(self.dir):
                for name in [top] + [os.path.join(top, d) for d in dirs]:
                    os.chown(name, user.pw_uid, user.pw_gid)
        self.socket = os.path.join(self.dir, 'run', 'libvirt', 'libvirt-sock')
        self.uri = 'qemu+unix:///session?socket=%s' % self.socket
        self.proc = None
        self.addCleanup(self.stop)
        self.start()

    def _command(self):
        cmd = [LIBVIRTD]
        if self.as_nobody:
            groups = []
            try:
                groups.append(str(grp.getgrnam('kvm').gr_gid))
            except KeyError:
                pass
            cmd = (['setpriv', '--reuid=nobody', '--regid=nogroup'] +
                   (['--groups', ','.join(groups)] if groups
                    else ['--clear-groups']) + cmd)
        return cmd

    def start(self):
        env = {'PATH': '/usr/sbin:/usr/bin:/sbin:/bin',
               'HOME': os.path.join(self.dir, 'home'),
               'XDG_RUNTIME_DIR': os.path.join(self.dir, 'run'),
               'XDG_CONFIG_HOME': os.path.join(self.dir, 'config'),
               'XDG_CACHE_HOME': os.path.join(self.dir, 'cache')}
        log = open(os.path.join(self.dir, 'libvirtd.log'), 'ab')
        self.proc = subprocess.Popen(self._command(), env=env, stdout=log,
                                     stderr=log, cwd=self.dir,
                                     start_new_session=True)
        log.close()
        for _ in range(600):
            if self.proc.poll() is not None:
                raise RuntimeError('private libvirtd exited %s: %s'
                                   % (self.proc.returncode, self.log_tail()))
            if os.path.exists(self.socket) and subprocess.run(
                    ['virsh', '-c', self.uri, 'version'],
                    capture_output=True, timeout=60).returncode == 0:
                return
            time.sleep(0.1)
        raise RuntimeError('private libvirtd did not answer: %s'
                           % self.log_tail())

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=60)

    def log_tail(self, lines=20):
        try:
            with open(os.path.join(self.dir, 'libvirtd.log'), 'rb') as f:
                text = f.read().decode('utf-8', 'replace')
        except OSError:
            return ''
        return '\n'.join(text.splitlines()[-lines:])
