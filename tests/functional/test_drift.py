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

"""Drift: a real KVM guest, then its host changed under it.

A tiny diskless guest is started on qemu:///system (tests/functional/
guests.py; destroyed at cleanup, also on failure) and this host is
snapshotted with it running (``migcompat snapshot create``). The host then
changes under the guest in the snapshot the reporter reads: a late
microcode update takes a CPU feature the guest runs with out of the
host-model CPU (libvirt/domcapabilities.xml), then a QEMU update drops the
guest's machine type (the machine types libvirt lists). The guest is
drifted with the factor that drifted, in ``guest list``; the reporter
warns once per guest and change.
"""

import json
import os
import re

import fixtures
import testtools

from migcompat_filter.host import domains
from tests import cli
from tests.functional import guests


def _host_model_features(path):
    with open(path) as f:
        text = f.read()
    mode = re.search(r'<mode name=.host-model.*?</mode>', text, re.S)
    return text, mode, re.findall(r'<feature policy=.require. '
                                  r'name=.([^\'"]+). ?/>', mode.group(0))


class DriftTest(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.conn = guests.open_or_skip(self)
        self.guest = self.useFixture(guests.RunningGuest(self.conn))
        self.tmp = self.useFixture(fixtures.TempDir()).path
        self.snap = os.path.join(self.tmp, 'snap')
        rc, out, err = cli.run('snapshot', 'create', self.snap)
        self.assertEqual(0, rc, err)
        self.g = domains.parse_domain(self.guest.live_xml(), 'live')
        # The reporter's record of warnings lives in the cache directory.
        self.env = {'MIGCOMPAT_CACHE_DIR': os.path.join(self.tmp, 'cache')}

    def guest_row(self):
        rc, out, err = cli.run('guest', 'list', '--long', '--root',
                               self.snap, '-f', 'json', env=self.env)
        self.assertEqual(0, rc, err)
        return {r['uuid']: r for r in json.loads(out)}[self.guest.uuid]

    def publish(self):
        """A dry run of the reporter on the snapshot: the lines of its
        log (--log-file: with the level) that say a guest drifted.
        """
        log = os.path.join(self.tmp, 'report.log')
        if os.path.exists(log):
            os.unlink(log)
        rc, out, err = cli.run('--log-file', log, 'profile', 'publish',
                               '--root', self.snap, '--dry-run', env=dict(
                                   self.env, MIGCOMPAT_PLACEMENT_URL=''))
        self.assertEqual(0, rc, err)
        self.out = out
        with open(log) as f:
            lines = [ln for ln in f if 'drifted' in ln]
        # The operator sees the same line on stderr.
        self.assertEqual(len(lines), err.count('drifted'), err)
        return lines

    def remove_host_model_feature(self):
        """A late microcode update: one feature the guest runs with is no
        longer in the host's host-model CPU. Returns its name.
        """
        path = os.path.join(self.snap, 'libvirt', 'domcapabilities.xml')
        text, mode, offered = _host_model_features(path)
        need = self.g.required_features()
        gone = sorted(set(offered) & need)[0]
        new_mode = re.sub(r'<feature policy=.require. name=.%s. ?/>'
                          % re.escape(gone), '', mode.group(0))
        with open(path, 'w') as f:
            f.write(text.replace(mode.group(0), new_mode))
        return gone

    def remove_machine_type(self):
        """A QEMU update without the guest's machine type."""
        for name in ('capabilities.xml', 'domcapabilities.xml'):
            path = os.path.join(self.snap, 'libvirt', name)
            with open(path) as f:
                text = f.read()
            machine = re.escape(self.g.machine)
            # The machine type and its aliases (q35 -> pc-q35-X.Y).
            text = re.sub(r'<machine[^>]*>%s</machine>\s*' % machine, '',
                          text)
            text = re.sub(r'<machine canonical=.%s.[^>]*>[^<]*</machine>'
                          r'\s*' % machine, '', text)
            text = re.sub(r'<value>%s</value>\s*' % machine, '', text)
            with open(path, 'w') as f:
                f.write(text)

    def test_guest_drifts_when_the_host_changes_under_it(self):
        # As started: nothing drifted, nothing warned.
        self.assertEqual('-', self.guest_row()['drift'])
        self.assertEqual([], self.publish())

        gone = self.remove_host_model_feature()
        drift = self.guest_row()['drift']
        self.assertEqual(['host_model'], sorted(drift))
        self.assertIn(gone, drift['host_model'])
        warned = self.publish()
        self.assertEqual(1, len(warned), warned)
        self.assertIn('WARNING', warned[0])
        self.assertIn(self.guest.uuid, warned[0])
        self.assertIn('host_model: host-model CPU lacks %s now' % gone,
                      warned[0])
        # Once per guest and change: the next run says nothing new (its
        # output still counts the drifted guest).
        self.assertEqual([], self.publish())
        self.assertIn('drift: 1 running guest(s) drifted (host_model)',
                      self.out)

        self.remove_machine_type()
        drift = self.guest_row()['drift']
        self.assertEqual(['host_model', 'machine_types'], sorted(drift))
        self.assertIn(self.g.machine, drift['machine_types'])
        warned = self.publish()
        self.assertEqual(1, len(warned), warned)
        self.assertIn('machine_types', warned[0])
