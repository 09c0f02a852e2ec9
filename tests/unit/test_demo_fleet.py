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

"""The demo fleet bundled in migcompat_filter/demo/data.

``migcompat demo`` reads these files on a machine with nothing but the
installed package, so they must load, be what tools/make_demo_fleet.py
writes from the real snapshots today (a reader change must regenerate
them), and encode as traits the filter can decode back.
"""

import importlib.util
import os

import testtools

from migcompat_filter import cpu_modes
from migcompat_filter.demo import hosts as demo_hosts
from migcompat_filter import profile as profile_mod
from migcompat_filter.traits import codec as traits

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))


def _generator():
    spec = importlib.util.spec_from_file_location(
        'make_demo_fleet', os.path.join(ROOT, 'tools', 'make_demo_fleet.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class BundledFleetTest(testtools.TestCase):

    def test_fleet_loads_with_unique_names_and_descriptions(self):
        hosts = demo_hosts.load_fleet()
        names = [h.name for h in hosts]
        self.assertEqual(len(names), len(set(names)))
        self.assertGreaterEqual(len(hosts), 5)
        for host in hosts:
            self.assertTrue(host.description, host.name)
            # The demo sets the guest CPU mode itself.
            self.assertNotIn('cpu_mode', host.profile)

    def test_bundled_files_are_what_the_generator_writes(self):
        # Fails when the reader (or a fixture) changed and the bundled
        # profiles were not regenerated: python tools/make_demo_fleet.py
        files = _generator().build()
        stale = []
        for rel, text in sorted(files.items()):
            path = os.path.join(demo_hosts.DATA, rel)
            with open(path) as f:
                if f.read() != text:
                    stale.append(rel)
        self.assertEqual([], stale, 'run python tools/make_demo_fleet.py')

    def test_every_host_survives_the_trait_round_trip(self):
        for host in demo_hosts.load_fleet():
            for mode in cpu_modes.MODES:
                prof = host.in_mode(mode)
                decoded = traits.decode(traits.encode(prof))
                self.assertEqual(mode, decoded['cpu_mode'], host.name)
                self.assertEqual(prof['qemu_version'],
                                 decoded['qemu_version'], host.name)

    def test_custom_mode_models_follow_the_vendor(self):
        by_name = {h.name: h for h in demo_hosts.load_fleet()}
        self.assertEqual(['EPYC'],
                         by_name['rome-q82'].in_mode('custom')['cpu_models'])
        self.assertEqual(
            [demo_hosts.DEFAULT_CPU_MODELS['Intel']],
            by_name['clx-8268'].in_mode('custom')['cpu_models'])
        self.assertEqual(
            ['Westmere'],
            by_name['clx-8268'].in_mode('custom', 'Westmere')['cpu_models'])
        self.assertEqual([], by_name['clx-8268'].in_mode(
            'host-model')['cpu_models'])

    def test_custom_mode_model_is_one_the_host_can_run(self):
        # The nested L1 Milan snapshot: libvirt lists only 486 to pentium3
        # as usable (nova-compute would not start with cpu_models = EPYC
        # there), so its guests get the richest of those, and says why.
        by_name = {h.name: h for h in demo_hosts.load_fleet()}
        for name in ('milan-a', 'milan-b', 'milan-c', 'milan-old'):
            model, why = by_name[name].custom_model()
            self.assertEqual('pentium3', model, name)
            self.assertEqual(['pentium3'], by_name[name].in_mode(
                'custom')['cpu_models'])
            self.assertIn('EPYC is not usable here (libvirt lists: 486, '
                          'pentium, pentium2, pentium3', why)
        for name in ('rome-q82', 'genoa-q10', 'clx-8268'):
            self.assertIsNone(by_name[name].custom_model()[1], name)
        # --cpu-model still wins.
        self.assertEqual(['EPYC'], by_name['milan-a'].in_mode(
            'custom', 'EPYC')['cpu_models'])

    def test_identical_twins_accept_each_other_in_every_mode(self):
        from migcompat_filter.demo import pictures
        for mode in cpu_modes.MODES:
            m = pictures.demo_matrix(mode)
            twins = [g for g in m.groups if 'milan-a' in g.names]
            self.assertEqual(['milan-a', 'milan-b'], twins[0].names, mode)
            cell = m.cell(twins[0], twins[0])
            self.assertTrue(cell.verdict.compatible,
                            (mode, cell.blocking))

    def test_variants_differ_from_their_base_only_where_described(self):
        by_name = {h.name: h.profile for h in demo_hosts.load_fleet()}
        base, twin = by_name['milan-a'], by_name['milan-b']
        self.assertEqual(base, twin)
        updated = by_name['milan-c']
        differs = sorted(f for f in base.factors
                         if base.to_dict()[f] != updated.to_dict()[f])
        self.assertEqual(['kernel_version', 'microcode_version'], differs)
        tsx_on = by_name['clx-8268']['cpu_features']['features']
        tsx_off = by_name['clx-8268-tsxoff']['cpu_features']['features']
        self.assertEqual({'hle', 'rtm'}, set(tsx_on) - set(tsx_off))

    def test_every_host_knows_its_host_model_and_versions(self):
        # What the demo judges first (host-model, versions) is never
        # unknown: a demo that refuses for "unknown" teaches nothing.
        for host in demo_hosts.load_fleet():
            for factor in ('host_model', 'qemu_version', 'libvirt_version',
                           'kernel_version', 'machine_types'):
                self.assertFalse(profile_mod.is_unknown(
                    host.profile[factor]), (host.name, factor))
            self.assertTrue(host.profile['host_model']['features'])

    def test_filled_and_approximated_factors_are_declared(self):
        # The Intel snapshots have no domain capabilities: their host
        # model is the project's approximation from the host CPU, marked
        # so in the profile; filled software factors are listed.
        by_name = {h.name: h for h in demo_hosts.load_fleet()}
        for name in ('clx-8268', 'clx-8268-tsxoff', 'clx-4214r'):
            host = by_name[name]
            self.assertTrue(host.profile['host_model'].get('approximated'))
            filled = ' '.join(host.filled)
            self.assertIn('qemu_version (stack)', filled)
            self.assertIn('libvirt_version (stack)', filled)
        self.assertFalse(by_name['milan-a'].filled)
        self.assertFalse(by_name['milan-a'].profile['host_model'].get(
            'approximated'))

    def test_headline_tsx_case_blocks_in_host_model(self):
        from migcompat_filter import rules
        by_name = {h.name: h for h in demo_hosts.load_fleet()}
        verdict = rules.evaluate(
            by_name['clx-8268'].in_mode('host-model'),
            by_name['clx-8268-tsxoff'].in_mode('host-model'))
        self.assertFalse(verdict.compatible)
        self.assertEqual(['host_model'], verdict.factors('block'))
        self.assertIn('tsx=off', verdict.blocking[0].hint)

    def test_missing_fleet_file_is_a_clear_error(self):
        from migcompat_filter.exception import InputError
        e = self.assertRaises(InputError, demo_hosts.load_fleet,
                              '/nonexistent/fleet.json')
        self.assertIn('/nonexistent/fleet.json', str(e))

    def test_unreadable_host_is_unknown_not_a_crash(self):
        host = demo_hosts.live_host(
            'qemu+unix:///system?socket=/nonexistent/s')
        unknown = dict(host.unknown_factors())
        self.assertIn('qemu_version', unknown)
        self.assertTrue(host.name.endswith(demo_hosts.LIVE_NAME_SUFFIX))
        self.assertIsInstance(host.profile, profile_mod.Profile)


class HeartbeatTest(testtools.TestCase):
    """The demo's compute services report in before each request (issue
    23, finding 3): nova's own ComputeFilter, at nova's minimum
    service_down_time, sees a host built long ago as up after it.
    """

    def test_compute_filter_sees_a_host_up_after_its_heartbeat(self):
        import datetime

        from nova import conf as nova_conf
        from nova.scheduler.filters import compute_filter
        from oslo_utils import timeutils

        from migcompat_filter.demo import offline
        conf = nova_conf.CONF
        conf([], project='nova', default_config_files=[])
        self.addCleanup(conf.clear_override, 'service_down_time')
        conf.set_override('service_down_time', 1)  # nova makes it 25
        long_ago = timeutils.utcnow() - datetime.timedelta(hours=1)
        hs = offline.make_host_state('h', 'h', 'cell', 'rp', 8002000,
                                     now=long_ago)
        flt = compute_filter.ComputeFilter()
        self.assertFalse(flt.host_passes(hs, None))
        offline.heartbeat(hs)
        self.assertTrue(flt.host_passes(hs, None))
