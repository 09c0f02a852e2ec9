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

"""The fleet model: grouping, the matrix, check and baseline logic.

Profiles here are plain data (the shapes of profile.FACTOR_SCHEMA), sent
through the real codec, as Placement would hand them back. The baseline
uses libvirt's test:///default driver (in-process, no daemon) when
libvirt-python is installed.
"""

import testtools

from migcompat_filter.cmd import host as host_cmd
from migcompat_filter.fleet import baseline
from migcompat_filter.fleet import inventory
from migcompat_filter.fleet import matrix
from migcompat_filter.placement import acceptance
from migcompat_filter.placement import client as placement
from migcompat_filter.placement import hoststate
from migcompat_filter.profile import Profile
from migcompat_filter.profile import Unknown
from migcompat_filter import rules
from migcompat_filter.rules.policy import Policy
from migcompat_filter.traits import codec as traits
from tests.unit.fleet_hosts import BASE
from tests.unit.fleet_hosts import host
from tests.unit.fleet_hosts import profile


class TestGroupsAndMatrix(testtools.TestCase):

    def setUp(self):
        super(TestGroupsAndMatrix, self).setUp()
        self.old = profile(qemu='7.2.0')
        self.new = profile(qemu='8.2.0', extra=['avx', 'avx2'])
        self.hosts = [host('a1', self.old), host('a2', self.old),
                      host('a3', self.old), host('b1', self.new),
                      host('bare', None)]

    def test_identical_traits_make_one_group_biggest_first(self):
        groups = matrix.group_hosts(self.hosts)
        self.assertEqual([['a1', 'a2', 'a3'], ['b1']],
                         [g.names for g in groups])
        self.assertEqual(['G1', 'G2'], [g.label for g in groups])

    def test_one_evaluation_per_group_pair(self):
        m = matrix.build(self.hosts)
        self.assertEqual(4, m.evaluations)  # 2 groups, not 4 hosts
        self.assertEqual([('bare', 'no migcompat traits')],
                         [(h.name, why) for h, why in m.left_out])

    def test_cells_are_the_rules_engine_verdicts(self):
        m = matrix.build(self.hosts)
        g_old, g_new = m.groups
        up = m.cell(g_old, g_new)
        down = m.cell(g_new, g_old)
        self.assertEqual(rules.evaluate(self.old, self.new).compatible,
                         up.verdict.compatible)
        # Newer QEMU and more features -> older host: refused, and why.
        self.assertFalse(down.verdict.compatible)
        self.assertEqual('refused', down.status)
        self.assertIn('qemu_version', down.blocking)
        self.assertTrue(down.text().startswith('NO: '))
        self.assertIn('qemu_version', down.text())
        self.assertTrue(down.reason())

    def test_mode_and_policy_reach_the_engine(self):
        other_ucode = profile(qemu='7.2.0', microcode='0x20')
        hosts = [host('a', self.old), host('b', other_ucode)]
        lenient = matrix.build(hosts, mode='host-passthrough')
        strict = matrix.build(hosts, mode='host-passthrough',
                              policy=Policy(strict=True))
        ga, gb = lenient.groups
        self.assertTrue(lenient.cell(ga, gb).verdict.compatible)
        self.assertEqual('warn', lenient.cell(ga, gb).status)
        ga, gb = strict.groups
        self.assertIn('microcode_version', strict.cell(ga, gb).blocking)


class TestSummary(testtools.TestCase):

    def test_summary_of_a_reported_host(self):
        s = host_cmd.summary(host('h', profile(microcode='0xabc')))
        self.assertEqual('reported', s['profile'])
        self.assertEqual('0xabc', s['microcode'])
        self.assertEqual('8.2.0', s['qemu'])
        self.assertEqual('no', s['nested'])
        self.assertEqual('Test CPU [6/85/4]', s['cpu'])

    def test_unknown_factor_says_unknown(self):
        data = profile().to_dict()
        data['kernel_version'] = Unknown('no /proc').to_json()
        s = host_cmd.summary(host('h', Profile.from_dict(data)))
        self.assertEqual('unknown', s['kernel'])

    def test_host_without_our_traits(self):
        s = host_cmd.summary(host('h', None))
        self.assertEqual('no migcompat traits', s['profile'])
        self.assertIsNone(s['cpu'])

    def test_changed_window(self):
        h = host('h', profile())
        h.updated = '2026-01-02T00:00:00Z'
        self.assertEqual(h.updated, host_cmd.summary(h)['changed'])
        h.traits_created = '2026-01-01T00:00:00Z'
        self.assertEqual('between 2026-01-01T00:00:00Z and '
                         '2026-01-02T00:00:00Z',
                         host_cmd.summary(h)['changed'])

    def test_http_date(self):
        self.assertEqual('2026-11-25T19:00:01Z', inventory._iso(
            placement.parse_http_date('Wed, 25 Nov 2026 19:00:01 GMT')))
        self.assertIsNone(placement.parse_http_date('garbage'))
        self.assertIsNone(placement.parse_http_date(None))


class TestAccepts(testtools.TestCase):

    def test_targets_and_reasons(self):
        old, new = profile(qemu='7.2.0'), profile(qemu='8.2.0')
        up = {'state': 'up', 'status': 'enabled', 'service': {'host': 's'}}
        disabled = dict(up, status='disabled',
                        service={'host': 's', 'disabled_reason': 'maint'})
        src = host('src', new, hypervisor=up)
        hosts = [src, host('same', new, hypervisor=up),
                 host('older', old, hypervisor=up),
                 host('off', new, hypervisor=disabled),
                 host('bare', None, hypervisor=up)]
        result = {h.name: (ok, why) for h, ok, why, _v in
                  matrix.accepts(hosts, src)}
        self.assertNotIn('src', result)
        self.assertEqual((True, 'compatible'), result['same'])
        self.assertFalse(result['older'][0])
        self.assertIn('qemu_version', result['older'][1])
        self.assertEqual((False, 'nova: nova-compute service is disabled '
                                 '(maint)'), result['off'])
        self.assertTrue(result['bare'][0])  # untraited_host_action default
        refused = matrix.accepts(
            hosts, src,
            actions=acceptance.Actions(untraited_host_action='refuse'))
        self.assertFalse({h.name: ok for h, ok, _w, _v in refused}['bare'])


def with_guests(prof, features, mode='host-model', count=2):
    """prof with a running_guests record: count guests of mode running
    with features (the reporter's plain-data value).
    """
    record = {'count': count, 'modes': {mode: count},
              'host_model_features': [], 'custom_features': [],
              'unexpanded': [], 'machine_types': ['pc-q35-8.2'],
              'invtsc_frequencies': [], 'invtsc_unpinned': 0,
              'phys_bits': [], 'passthrough_extra': []}
    if mode == 'host-model':
        record['host_model_features'] = sorted(features)
    factors = dict(prof.factors, running_guests=record)
    return Profile(factors)


class TestRunningGuests(testtools.TestCase):
    """check and the matrix judge guests, not hosts."""

    def setUp(self):
        super(TestRunningGuests, self).setUp()
        # The source after an update took TSX away; its guests, started
        # before, still run with hle/rtm.
        self.tsx_off = profile()
        self.guests_src = with_guests(self.tsx_off,
                                      BASE + ['hle', 'rtm'])

    def test_check_judges_the_running_guests(self):
        src = host('src', self.guests_src)
        dest = host('dest', self.tsx_off)
        # Same digest: the running guests are per host.
        self.assertEqual(src.key, dest.key)
        (h, ok, why, _v), = matrix.accepts([src, dest], src)
        self.assertFalse(ok)
        self.assertIn('host_model', why)
        # Without the record the source's own host-model stands in.
        src = host('src', self.tsx_off)
        (h, ok, why, _v), = matrix.accepts([src, dest], src)
        self.assertTrue(ok, why)

    def test_a_group_row_does_not_depend_on_one_hosts_guests(self):
        # a1 (first by name) runs TSX guests, a2 none: one group, and its
        # diagonal judges a guest started now (no TSX), whichever host
        # comes first.
        hosts = [host('a1', self.guests_src), host('a2', self.tsx_off)]
        m = matrix.build(hosts)
        self.assertEqual(1, len(m.groups))
        self.assertEqual(['a1', 'a2'], m.groups[0].names)
        self.assertEqual('ok', m.cell(m.groups[0], m.groups[0]).status)


class TestHostStates(testtools.TestCase):
    """Hosts are read with hoststate.classify; what the CLI says of each.
    (How the fleet is read from a real placement: tests/functional/
    test_fleet_groups.py.)
    """

    def hosts(self):
        good = traits.encode(profile())
        schema = traits.PREFIX + traits.SCHEMA_CODE + '_'
        newer = [t for t in good if not t.startswith(schema)] + [
            schema + '99']
        found = {}
        for name, names in (('good', good + ['COMPUTE_NODE']),
                            ('newer', newer), ('bare', ['COMPUTE_NODE']),
                            ('broken', good)):
            h = inventory.Host(name, 'uuid-' + name)
            h.traits = set(names)
            h.classify()
            found[name] = h
        found['broken'].fail('boom')
        return found

    def test_states_and_status(self):
        hosts = self.hosts()
        self.assertEqual(hoststate.TRAITED, hosts['good'].state)
        self.assertEqual('reported', hosts['good'].status)
        self.assertEqual(hoststate.UNTRAITED, hosts['bare'].state)
        self.assertEqual('no migcompat traits', hosts['bare'].status)
        newer = hosts['newer']
        self.assertEqual(hoststate.NEWER_SCHEMA, newer.state)
        self.assertTrue(newer.status.startswith('unreadable: '))
        self.assertIn('newer migcompat', newer.status)
        # Its factors are still listed (unknown, saying why).
        self.assertTrue(newer.profile.factors)
        broken = hosts['broken']
        self.assertEqual(hoststate.UNJUDGED, broken.state)
        self.assertEqual('error: boom', broken.status)

    def test_a_group_profile_is_shared_not_copied(self):
        hp = hoststate.classify(traits.encode(profile()))
        a, b = inventory.Host('a', 'ua'), inventory.Host('b', 'ub')
        a.adopt(hp)
        b.adopt(hp)
        self.assertIs(a.profile, b.profile)
        self.assertEqual(hoststate.TRAITED, a.state)
        self.assertEqual('reported', a.status)

    def test_check_reasons_follow_the_filter_actions(self):
        hosts = self.hosts()
        result = {h.name: (ok, why) for h, ok, why, _v in matrix.accepts(
            list(hosts.values()), hosts['good'],
            actions=acceptance.Actions(placement_error_action='refuse'))}
        self.assertEqual((False, 'cannot be judged (boom): the filter '
                                 'refuses it'), result['broken'])
        ok, why = result['newer']
        self.assertTrue(ok)
        self.assertTrue(why.startswith('unreadable: '), why)
        self.assertIn(' (unreadable): the filter pass', why)
        ok, why = result['bare']
        self.assertTrue(ok)
        self.assertTrue(why.startswith('no migcompat traits (untraited): '
                                       'the filter pass'), why)

    def test_matrix_leaves_out_what_it_cannot_judge(self):
        m = matrix.build(list(self.hosts().values()))
        self.assertEqual([['good']], [g.names for g in m.groups])
        self.assertEqual({'bare': 'no migcompat traits',
                          'broken': 'error: boom'},
                         {h.name: why for h, why in m.left_out
                          if h.name != 'newer'})


class TestBaseline(testtools.TestCase):

    def setUp(self):
        super(TestBaseline, self).setUp()
        self.cpu_map = baseline.LibvirtCPUMap('test:///default')
        if not self.cpu_map.available:
            self.skipTest('libvirt test driver: %s' % self.cpu_map.error)

    def test_common_features_model_and_nova_lines(self):
        a = profile(extra=['ssse3', 'sse4.1', 'avx', 'invtsc'],
                    usable=['qemu64', 'Nehalem', 'pentium'])
        b = profile(extra=['ssse3', 'sse4.1', 'sse4.2', 'invtsc'],
                    usable=['qemu64', 'pentium', 'Westmere'])
        b_ = host('b', b)
        result = baseline.compute([host('a', a), b_], self.cpu_map)
        common = set(BASE) | {'ssse3', 'sse4.1', 'invtsc'}
        self.assertEqual(sorted(common), result.common)
        # A model usable on both hosts whose features are all common.
        self.assertIn(result.model, ('qemu64', 'pentium'))
        self.assertTrue(set(result.model_features) <= common)
        self.assertEqual(sorted(common - set(result.model_features)
                                - {'invtsc'}), result.extra_flags)
        self.assertNotIn('invtsc', result.extra_flags)
        self.assertTrue(any('invtsc' in n for n in result.notes))
        lines = result.nova_conf().splitlines()
        self.assertEqual(['[libvirt]', 'cpu_mode = custom',
                          'cpu_models = %s' % result.model], lines[:3])
        self.assertEqual('cpu_model_extra_flags = %s'
                         % ', '.join(result.extra_flags), lines[3])
        self.assertTrue(result.libvirt_check['checked'])

    def test_libvirt_agrees_on_features_it_knows(self):
        a = profile(extra=['ssse3', 'sse4.1'])
        result = baseline.compute([host('a', a), host('b', a)], self.cpu_map)
        check = result.libvirt_check
        self.assertTrue(check['checked'])
        self.assertEqual([], check['only_ours'])

    def test_different_vendors_have_no_baseline(self):
        e = self.assertRaises(
            baseline.BaselineError, baseline.compute,
            [host('i', profile()), host('a', profile(vendor='AMD'))],
            self.cpu_map)
        self.assertIn('different CPU vendors', str(e))

    def test_unknown_host_model_is_named(self):
        data = profile().to_dict()
        data['host_model'] = Unknown('no domcapabilities').to_json()
        e = self.assertRaises(
            baseline.BaselineError, baseline.compute,
            [host('x', profile()), host('y', Profile.from_dict(data))],
            self.cpu_map)
        self.assertIn('y:', str(e))
        self.assertIn('no domcapabilities', str(e))

    def test_unexpanded_host_model_is_expanded_by_libvirt(self):
        a = profile(extra=['ssse3'], expanded=False)
        data = a.to_dict()
        data['host_model']['features'] = ['ssse3']  # only the extras
        result = baseline.compute([host('a', Profile.from_dict(data)),
                                   host('b', a)], self.cpu_map)
        qemu64 = self.cpu_map.expand('qemu64', 'Intel')
        self.assertTrue(qemu64 <= set(result.common))
        self.assertIn('ssse3', result.common)

    def test_xml_built_once_per_distinct_cpu_despite_unknown_features(self):
        # 40 hosts of 2 profiles, with 3 features this libvirt never
        # heard of: libvirt's check still runs, leaves them out, and each
        # distinct CPU's XML is built once (plus one probe per retry).
        import fixtures
        odd = ['zz-new-a', 'zz-new-b', 'zz-new-c']
        a = profile(extra=['ssse3'] + odd)
        b = profile(extra=['ssse3', 'sse4.1'] + odd)
        hosts = ([host('a%02d' % i, a) for i in range(20)] +
                 [host('b%02d' % i, b) for i in range(20)])
        built = []
        real = baseline._cpu_xml

        def counting(*args):
            built.append(args)
            return real(*args)
        self.useFixture(fixtures.MonkeyPatch(
            'migcompat_filter.fleet.baseline._cpu_xml', counting))
        result = baseline.compute(hosts, self.cpu_map)
        check = result.libvirt_check
        self.assertTrue(check['checked'], check)
        self.assertEqual(odd, check['unknown_to_libvirt'])
        self.assertEqual([], check['only_ours'])
        self.assertEqual(40, len(result.hosts))
        # (Model expansions build featureless CPUs: not counted.)
        checked = [args for args in built if args[1] == '486' and args[3]]
        # 2 final CPUs + 1 probe per attempt (3 unknown, then success).
        self.assertEqual(2 + 4, len(checked))
        # The same answer as hosts given one by one without sharing.
        alone = baseline.compute([host('a', a), host('b', b)], self.cpu_map)
        self.assertEqual(alone.common, result.common)
        self.assertEqual(alone.model, result.model)


class TestOncePerProfile(testtools.TestCase):

    def test_accepts_evaluates_once_per_shared_profile(self):
        old, new = profile(qemu='7.2.0'), profile(qemu='8.2.0')
        src = host('src', new)
        hp_old = hoststate.classify(traits.encode(old))
        hp_new = hoststate.classify(traits.encode(new))
        grouped = []
        for i, hp in enumerate([hp_old] * 5 + [hp_new] * 5):
            h = inventory.Host('h%d' % i, 'u%d' % i)
            h.adopt(hp)
            grouped.append(h)
        judged = matrix.accepts(grouped, src)
        verdicts = {h.profile is hp_old.profile: v
                    for h, _ok, _w, v in judged}
        for h, ok, why, v in judged:
            # One verdict object per group: evaluated once.
            self.assertIs(verdicts[h.profile is hp_old.profile], v)
        # ... and the same as judging each host on its own.
        single = {h.name: (ok, why) for h, ok, why, _v in matrix.accepts(
            [host('h%d' % i, old if i < 5 else new) for i in range(10)],
            src)}
        self.assertEqual(single, {h.name: (ok, why)
                                  for h, ok, why, _v in judged})
