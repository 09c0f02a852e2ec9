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

"""The trait codec: profile -> CUSTOM_MIGCOMPAT_* traits -> profile."""

import os
import re

from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
import testtools

from migcompat_filter.exception import InputError
from migcompat_filter.host import reader
from migcompat_filter.host import source as hostsource
from migcompat_filter.profile import Profile
from migcompat_filter.profile import Unknown
from migcompat_filter.rules import engine
from migcompat_filter.traits import codec as traits
from migcompat_filter.traits import payloads as trait_payloads

HOSTS = os.path.join(os.path.dirname(__file__), '..', 'fixtures', 'hosts')
TRAIT_RE = re.compile(r'^CUSTOM_[A-Z0-9_]+$')
MODES = ('host-model', 'host-passthrough', 'custom')


def fixture_profiles():
    out = {}
    for name in sorted(os.listdir(HOSTS)):
        source = hostsource.SnapshotSource(os.path.join(HOSTS, name))
        out[name] = reader.read_profile(source)
    return out


_PROFILES = []


def real_profiles():
    if not _PROFILES:
        _PROFILES.append(fixture_profiles())
    return _PROFILES[0]


def canonical(value):
    """What the codec promises to keep: feature lists become sorted sets,
    tuples lists; an Unknown stays unknown (its reason may be shortened).
    """
    if isinstance(value, Unknown):
        return 'UNKNOWN'
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if k in ('features', 'disabled') and isinstance(v, list):
                out[k] = sorted(set(v))
            else:
                out[k] = canonical(v)
        return out
    if isinstance(value, (list, tuple)):
        return [canonical(v) for v in value]
    return value


def assert_valid_names(case, names):
    case.assertEqual(sorted(set(names)), names)
    for name in names:
        case.assertRegex(name, TRAIT_RE)
        case.assertLessEqual(len(name), 255, name)
        case.assertTrue(name.startswith(traits.PREFIX), name)


def verdict_key(verdict):
    return verdict.compatible, sorted(set(verdict.factors()))


class TestTextEscaping(testtools.TestCase):

    def test_values_normalize_name_merges_stay_apart(self):
        # os_traits.normalize_name maps all of these to one name.
        values = ['8.2.0', '8-2-0', '8_2_0', '8 2 0', '8/2/0', '8:2:0',
                  '8+2+0', '8,2,0', '8=2=0', '8~2~0', '8@2@0', '8.2.0 ',
                  'abc', 'ABC', 'aBc', 'é', 'e']
        encoded = [traits.escape_text(v) for v in values]
        self.assertEqual(len(values), len(set(encoded)))
        for value, payload in zip(values, encoded):
            self.assertRegex(payload, r'^[A-Z0-9_]*$')
            self.assertEqual(value, traits.unescape_text(payload))

    @given(st.text(max_size=60))
    @settings(max_examples=300, deadline=None)
    def test_any_text_round_trips(self, text):
        payload = traits.escape_text(text)
        self.assertRegex(payload, r'^[A-Z0-9_]*$')
        self.assertEqual(text, traits.unescape_text(payload))

    @given(st.text(max_size=20), st.text(max_size=20))
    @settings(max_examples=300, deadline=None)
    def test_distinct_texts_never_share_a_trait(self, a, b):
        if a != b:
            for schema in traits.SCHEMAS:
                self.assertNotEqual(
                    traits.encode_factor('kernel_version', a, schema),
                    traits.encode_factor('kernel_version', b, schema))

    def test_versions_stay_readable(self):
        self.assertEqual(['CUSTOM_MIGCOMPAT_QEMU_7_02_022'],
                         traits.encode_factor('qemu_version', '7.2.22', 1))
        self.assertEqual(['CUSTOM_MIGCOMPAT_QEMU_8_2_2'],
                         traits.encode_factor('qemu_version', '8.2.2'))
        self.assertEqual(['CUSTOM_MIGCOMPAT_UCODE_0X1000065'],
                         traits.encode_factor('microcode_version',
                                              '0x1000065'))


class TestRealHosts(testtools.TestCase):
    """Every real-host fixture survives the trip through traits."""

    def test_names_valid_and_deterministic(self):
        for name, profile in real_profiles().items():
            for schema in traits.SCHEMAS:
                names = traits.encode(profile, schema)
                assert_valid_names(self, names)
                self.assertIn('CUSTOM_MIGCOMPAT_SCHEMA_%d' % schema, names)
                self.assertEqual(names, traits.encode(profile, schema))
            # Schema 1 packs a factor into few traits; schema 2 is one
            # trait per fact (every CPU feature), each <= 128 characters.
            self.assertLess(len(traits.encode(profile, 1)), 40, name)
            names = traits.encode(profile)
            self.assertLessEqual(max(map(len, names)), 128, name)
            self.assertLess(len(names), 600, name)

    def test_schema2_is_exact(self):
        for name, profile in real_profiles().items():
            parsed = traits.parse(traits.encode(profile))
            self.assertEqual([], parsed.problems, name)
            self.assertEqual(traits.canonical(profile), parsed.profile, name)
            self.assertEqual(2, parsed.version)

    def test_factors_round_trip(self):
        for name, profile in real_profiles().items():
            decoded, problems = traits.parse(traits.encode(profile, 1))
            self.assertEqual([], problems, name)
            self.assertEqual(sorted(profile.factors),
                             sorted(decoded.factors), name)
            for factor, value in profile.factors.items():
                self.assertEqual(canonical(value),
                                 canonical(decoded.factors[factor]),
                                 '%s: %s' % (name, factor))
                if isinstance(value, Unknown):
                    self.assertIsInstance(decoded.factors[factor], Unknown)

    def test_verdicts_from_traits_equal_verdicts_from_profiles(self):
        profiles = real_profiles()
        for schema in traits.SCHEMAS:
            decoded = {n: traits.decode(traits.encode(p, schema))
                       for n, p in profiles.items()}
            pairs = 0
            blocked = 0
            for src in profiles:
                for dst in profiles:
                    for mode in MODES:
                        want = engine.evaluate(profiles[src], profiles[dst],
                                               mode)
                        got = engine.evaluate(decoded[src], decoded[dst],
                                              mode)
                        self.assertEqual(verdict_key(want),
                                         verdict_key(got),
                                         '%s -> %s (%s, schema %d)'
                                         % (src, dst, mode, schema))
                        pairs += 1
                        blocked += not want.compatible
            # The fixtures must exercise both outcomes for this to mean
            # much.
            self.assertGreater(blocked, 0)
            self.assertLess(blocked, pairs)

    def test_feature_bitmap_keeps_trait_count_low(self):
        profile = real_profiles()['libvirt-domcaps-genoa-qemu-10.0.0-expanded']
        features = profile['host_model']['features']
        self.assertGreater(len(features), 100)
        names = traits.encode_factor('host_model', profile['host_model'],
                                     schema=1)
        self.assertLessEqual(len(names), 2)


# -- generated profiles ------------------------------------------------------

_names = st.text(alphabet='abcdefghijklmnopqrstuvwxyz0123456789-_.',
                 min_size=1, max_size=12)
_features = st.lists(st.one_of(st.sampled_from(traits.FEATURE_CATALOGUE),
                               _names), max_size=60, unique=True).map(sorted)
_unknown = st.builds(Unknown, st.text(max_size=40))
_version = st.lists(st.integers(0, 30), min_size=1, max_size=4).map(
    lambda parts: '.'.join(map(str, parts)))
_scalar = st.one_of(st.none(), st.booleans(), st.integers(-2 ** 40, 2 ** 40),
                    st.text(max_size=20))


def _maybe(strategy):
    return st.one_of(strategy, _unknown)


FACTOR_STRATEGIES = {
    'arch': st.sampled_from(['x86_64', 'aarch64', 's390x']),
    'cpu_model': st.fixed_dictionaries({
        'vendor': st.sampled_from(['Intel', 'AMD']),
        'family': st.integers(0, 30), 'model': st.integers(0, 255),
        'stepping': _maybe(st.integers(0, 15)),
        'model_name': st.text(max_size=40),
        'libvirt_model': st.one_of(st.none(), _names)}),
    'cpu_features': st.fixed_dictionaries({
        'source': st.sampled_from(['cpuinfo', 'libvirt',
                                   'libvirt-unexpanded']),
        'model': st.one_of(st.none(), _names), 'features': _features}),
    'firmware_version': st.fixed_dictionaries({
        'vendor': st.text(max_size=20), 'version': st.text(max_size=20),
        'date': st.text(max_size=10)}),
    'firmware_settings': st.fixed_dictionaries({
        'smt': st.sampled_from(['on', 'off', 'forceoff', 'notsupported']),
        'threads_per_core': _maybe(st.integers(1, 8)),
        'virtualization': st.sampled_from(['vmx', 'svm', 'none'])}),
    'kernel_version': st.text(max_size=40),
    'kernel_settings': st.fixed_dictionaries({
        'cmdline': st.dictionaries(_names, st.one_of(st.just(True),
                                                     st.text(max_size=20)),
                                   max_size=6),
        'modprobe': st.dictionaries(_names, st.dictionaries(
            _names, st.text(max_size=8), max_size=3), max_size=3),
        'module_parameters': st.dictionaries(_names, st.dictionaries(
            _names, st.text(max_size=8), max_size=3), max_size=3),
        'vulnerabilities': st.dictionaries(_names, st.text(max_size=80),
                                           max_size=8)}),
    'microcode_version': st.integers(0, 2 ** 32).map(hex),
    'qemu_version': _version,
    'libvirt_version': _version,
    'nested_virt': st.fixed_dictionaries({
        'nested': st.booleans(), 'hypervisor': st.one_of(st.none(), _names),
        'nested_enabled': _maybe(st.booleans())}),
    'cpu_mode': st.sampled_from(['host-model', 'host-passthrough', 'custom',
                                 'none']),
    'cpu_models': st.lists(_names, max_size=3),
    'host_model': st.fixed_dictionaries({
        'model': _names, 'vendor': st.sampled_from(['Intel', 'AMD']),
        'features': _maybe(_features), 'disabled': _features,
        'expanded': st.booleans()}),
    'usable_models': st.lists(_names, max_size=20, unique=True),
    'tsc': st.fixed_dictionaries({
        'frequency': st.integers(1, 5 * 10 ** 9),
        'scaling': st.one_of(st.none(), st.booleans())}),
    'phys_bits': st.integers(32, 64),
    'machine_types': st.lists(_names, max_size=30, unique=True),
    'running_guests': st.fixed_dictionaries({
        'count': st.integers(0, 5000),
        'modes': st.dictionaries(st.sampled_from(
            ['host-model', 'host-passthrough', 'custom']),
            st.integers(1, 5000), max_size=3),
        'host_model_features': _features, 'custom_features': _features,
        'unexpanded': st.lists(_names, max_size=3, unique=True),
        'machine_types': st.lists(_names, max_size=5, unique=True),
        'invtsc_frequencies': st.lists(st.integers(1, 5 * 10 ** 9),
                                       max_size=3, unique=True),
        'invtsc_unpinned': st.integers(0, 5000),
        'phys_bits': st.lists(st.integers(32, 64), max_size=3, unique=True),
        'passthrough_extra': _features}),
}


@st.composite
def profiles(draw):
    factors = {}
    for name in sorted(FACTOR_STRATEGIES):
        choice = draw(st.integers(0, 9))
        if choice == 0:
            continue  # not reported
        if choice == 1:
            factors[name] = draw(_unknown)
        else:
            factors[name] = draw(FACTOR_STRATEGIES[name])
    return Profile(factors)


class TestGeneratedProfiles(testtools.TestCase):

    # Generating a profile is slow on a loaded machine: tests/__init__.py
    # turns the health check on generation speed off for every test.
    @given(profiles())
    @settings(max_examples=150, deadline=None)
    def test_round_trip(self, profile):
        names = traits.encode(profile, 1)
        assert_valid_names(self, names)
        decoded, problems = traits.parse(names)
        self.assertEqual([], problems)
        self.assertEqual(sorted(profile.factors), sorted(decoded.factors))
        for factor, value in profile.factors.items():
            self.assertEqual(canonical(value),
                             canonical(decoded.factors[factor]), factor)

    @given(profiles())
    @settings(max_examples=150, deadline=None)
    def test_schema2_round_trip_is_exact(self, profile):
        # Unknown reasons included: the profiles compare as JSON.
        names = traits.encode(profile)
        assert_valid_names(self, names)
        self.assertLessEqual(max(map(len, names)), 128)
        decoded, problems = traits.parse(names)
        self.assertEqual([], problems)
        self.assertEqual(traits.canonical(profile), decoded)

    @given(profiles(), profiles(), st.sampled_from(MODES),
           st.sampled_from(traits.SCHEMAS))
    @settings(max_examples=150, deadline=None)
    def test_same_verdict_and_blocking_factors(self, src, dst, mode,
                                               schema):
        want = engine.evaluate(src, dst, mode)
        got = engine.evaluate(traits.decode(traits.encode(src, schema)),
                              traits.decode(traits.encode(dst, schema)),
                              mode)
        self.assertEqual(verdict_key(want), verdict_key(got))

    @given(st.dictionaries(
        st.text(min_size=1, max_size=15).filter(
            lambda n: n not in traits.FACTOR_CODECS),
        st.one_of(_scalar, st.lists(_scalar, max_size=4)), max_size=3))
    @settings(max_examples=100, deadline=None)
    def test_plugin_factors_round_trip(self, factors):
        for schema in traits.SCHEMAS:
            names = traits.encode(Profile(factors), schema)
            assert_valid_names(self, names)
            decoded, problems = traits.parse(names)
            self.assertEqual([], problems)
            self.assertEqual(factors, decoded.factors)


class TestUnknownAndLimits(testtools.TestCase):

    def test_unknown_factor_keeps_a_reason(self):
        reason = 'no DMI data: sys/class/dmi/id/bios_vendor: does not exist'
        profile = Profile({'firmware_version': Unknown(reason)})
        names = traits.encode(profile, 1)
        self.assertIn('CUSTOM_MIGCOMPAT_UNKNOWN_FWVER_NO_DMI_DATA_SYS_CLASS_'
                      'DMI_ID_BIOS_VENDOR_DOES_NOT_EXIST', names)
        value = traits.decode(names)['firmware_version']
        self.assertIsInstance(value, Unknown)
        self.assertIn('no dmi data', value.reason)
        # Schema 2: a readable marker, and the reason exactly.
        names = traits.encode(profile)
        self.assertIn('CUSTOM_MIGCOMPAT_UNKNOWN_FWVER', names)
        self.assertEqual(reason,
                         traits.decode(names)['firmware_version'].reason)

    def test_unknown_inside_a_value_keeps_its_reason(self):
        value = {'smt': 'on', 'threads_per_core': Unknown('no topology'),
                 'virtualization': 'vmx'}
        decoded = traits.decode(traits.encode(
            Profile({'firmware_settings': value})))['firmware_settings']
        self.assertEqual('on', decoded['smt'])
        self.assertIsInstance(decoded['threads_per_core'], Unknown)
        self.assertEqual('no topology', decoded['threads_per_core'].reason)

    def test_long_value_is_split_and_reassembled(self):
        cmdline = {'p%d' % i: 'value-%d' % (i * 7919) for i in range(150)}
        value = {'cmdline': cmdline, 'modprobe': {},
                 'module_parameters': {}, 'vulnerabilities': {}}
        names = traits.encode_factor('kernel_settings', value, 1)
        self.assertGreater(len(names), 1)
        self.assertLessEqual(len(names), traits.MAX_PARTS)
        for schema in traits.SCHEMAS:
            names = traits.encode(Profile({'kernel_settings': value}),
                                  schema)
            assert_valid_names(self, names)
            self.assertEqual(value, traits.decode(names)['kernel_settings'])
        # Schema 2: one trait per parameter (p0 is not a name the kernel
        # vocabulary knows, so its name is escaped: "__V" ends it).
        names = traits.encode(Profile({'kernel_settings': value}), 2)
        self.assertIn('CUSTOM_MIGCOMPAT_KPARAM_P0__VVALUE__D0', names)

    def test_over_long_value_is_published_as_unknown(self):
        # Incompressible text far beyond MAX_PARTS traits.
        import random
        rnd = random.Random(4)
        text = ''.join(rnd.choice('abcdefghijklmnopqrstuvwxyz.-')
                       for _ in range(5000))
        for schema, count in ((1, 3), (2, 4)):
            names = traits.encode(Profile({'kernel_version': text}), schema)
            assert_valid_names(self, names)
            # schema + the unknown marker (+ its reason) + the digest
            self.assertEqual(count, len(names))
            value = traits.decode(names)['kernel_version']
            self.assertIsInstance(value, Unknown)
            self.assertIn('too large', value.reason)

    def test_value_of_the_wrong_shape_is_an_input_error(self):
        e = self.assertRaises(InputError, traits.encode,
                              Profile({'qemu_version': 7002022}))
        self.assertIn('qemu_version', str(e))
        self.assertIn('expected a string', str(e))
        e = self.assertRaises(InputError, traits.encode,
                              Profile({'tsc': {'frequency': {1, 2}}}))
        self.assertIn('tsc', str(e))
        e = self.assertRaises(InputError, traits.encode,
                              Profile({'phys_bits': True}))
        self.assertIn('phys_bits', str(e))


class TestDigest(testtools.TestCase):
    """One trait names the whole profile, so the scheduler groups hosts."""

    def setUp(self):
        super(TestDigest, self).setUp()
        self.profiles = real_profiles()

    def digest(self, names):
        found = [t for t in names if t.startswith(traits.DIGEST_PREFIX)]
        self.assertEqual(1, len(found), names)
        return found[0]

    def test_same_profile_same_digest_different_profile_different(self):
        digests = {}
        for name, prof in sorted(self.profiles.items()):
            digests.setdefault(self.digest(traits.encode(prof)),
                               set()).add(name)
            # Encoding is deterministic: a second encode agrees.
            self.assertEqual(self.digest(traits.encode(prof)),
                             self.digest(traits.encode(prof)))
        encoded = {name: traits.encode(prof)
                   for name, prof in self.profiles.items()}
        for digest, names in digests.items():
            bodies = {tuple(t for t in encoded[n]
                            if not t.startswith(traits.DIGEST_PREFIX))
                      for n in names}
            self.assertEqual(1, len(bodies), names)

    def test_digest_is_not_a_factor(self):
        prof = self.profiles['epyc-milan-nested-l1']
        names = traits.encode(prof)
        decoded, problems = traits.parse(names)
        self.assertEqual([], [str(p) for p in problems])
        self.assertEqual(traits.decode(
            [t for t in names if not t.startswith(traits.DIGEST_PREFIX)]),
            decoded)


class TestDecodingWhatPlacementHolds(testtools.TestCase):

    schema = 1
    #: This schema's spelling of a malformed QEMU trait (a lone "_"
    #: escape), of a second QEMU version, of the second part of a value.
    MALFORMED = 'CUSTOM_MIGCOMPAT_QEMU_8_'
    CONFLICTING = 'CUSTOM_MIGCOMPAT_QEMU_9_00_00'
    SECOND_PART = r'^CUSTOM_MIGCOMPAT_[A-Z]+2OF'

    def setUp(self):
        super(TestDecodingWhatPlacementHolds, self).setUp()
        self.profile = real_profiles()['epyc-milan-nested-l1']
        self.names = traits.encode(self.profile, self.schema)

    def test_traits_of_others_are_ignored(self):
        names = self.names + ['HW_CPU_X86_AVX2', 'CUSTOM_MIGCOMPATX',
                              'CUSTOM_OTHER_7_02_022', 'COMPUTE_STATUS']
        decoded, problems = traits.parse(names)
        self.assertEqual([], problems)
        self.assertEqual(traits.decode(self.names), decoded)

    def test_hand_set_malformed_trait_makes_only_its_factor_unknown(self):
        bad = self.MALFORMED
        names = [n for n in self.names if '_QEMU_' not in n] + [bad]
        decoded, problems = traits.parse(names)
        self.assertEqual([bad], [p.trait for p in problems])
        self.assertIsInstance(decoded['qemu_version'], Unknown)
        self.assertIn(bad, decoded['qemu_version'].reason)
        self.assertEqual(self.profile['kernel_version'],
                         decoded['kernel_version'])

    def test_second_value_for_a_factor_is_a_conflict(self):
        names = self.names + [self.CONFLICTING]
        decoded, problems = traits.parse(names)
        self.assertIsInstance(decoded['qemu_version'], Unknown)
        self.assertEqual(2, len(problems))
        self.assertEqual(self.profile['libvirt_version'],
                         decoded['libvirt_version'])

    def test_missing_part_makes_the_factor_unknown(self):
        part = [n for n in self.names if re.match(self.SECOND_PART, n)][0]
        names = [n for n in self.names if n != part]
        decoded, problems = traits.parse(names)
        factor = problems[0].factor
        self.assertIsInstance(decoded[factor], Unknown)
        self.assertIn('do not make a whole', decoded[factor].reason)

    def _corrupt_each_character(self, sample):
        """Each name of sample with one character changed, at every
        position: parse never raises, and each factor known before is a
        value or an Unknown, an Unknown that names the changed trait (in
        its reason or in the problems parse reports) or its kind (e.g. the
        schema trait).
        """
        before, _problems = traits.parse(self.names)
        for name in sample:
            kind = name.rsplit('_', 1)[0]
            others = [n for n in self.names if n != name]
            for i in range(len(traits.PREFIX), len(name)):
                repl = 'A_29'[i % 4]
                repl = 'B' if name[i] == repl else repl
                mutated = name[:i] + repl + name[i + 1:]
                decoded, problems = traits.parse(others + [mutated])
                told = ' '.join(str(p) for p in problems)
                for factor in before.factors:
                    value = decoded[factor]
                    if isinstance(before[factor], Unknown) or \
                            not isinstance(value, Unknown):
                        continue
                    self.assertTrue(
                        mutated in value.reason or mutated in told or
                        kind in value.reason,
                        '%s -> %s: %s is %r, naming neither'
                        % (name, mutated, factor, value.reason))

    def test_corrupt_payloads_give_a_value_or_an_unknown_naming_it(self):
        self._corrupt_each_character(self.names)

    def test_unparseable_names_are_reported(self):
        for bad in ('CUSTOM_MIGCOMPAT_', 'CUSTOM_MIGCOMPAT_QEMU',
                    'CUSTOM_MIGCOMPAT_1OF2_AA', 'CUSTOM_MIGCOMPAT_NOSUCH_X',
                    'CUSTOM_MIGCOMPAT_SCHEMA_X', 'CUSTOM_MIGCOMPAT_UNKNOWN_'):
            decoded, problems = traits.parse(self.names + [bad])
            self.assertEqual([bad], [p.trait for p in problems], bad)
            self.assertEqual(traits.decode(self.names).to_dict(),
                             decoded.to_dict())

    def test_newer_schema_makes_everything_unknown(self):
        names = [n for n in self.names if 'SCHEMA' not in n]
        newer = names + ['CUSTOM_MIGCOMPAT_SCHEMA_%d'
                         % (max(traits.SCHEMAS) + 1)]
        decoded, problems = traits.parse(newer)
        self.assertTrue(problems)
        for factor in self.profile.factors:
            self.assertIsInstance(decoded[factor], Unknown)
            self.assertIn('upgrade migcompat', decoded[factor].reason)
        decoded, problems = traits.parse(names)  # no schema at all
        self.assertIsInstance(decoded['qemu_version'], Unknown)

    def test_newer_feature_catalogue_is_unknown_not_wrong(self):
        name = [n for n in self.names if n.startswith(
            'CUSTOM_MIGCOMPAT_FEAT_')][0]
        payload = name[len('CUSTOM_MIGCOMPAT_FEAT_'):]
        data = trait_payloads._unb32(payload)
        newer = 'CUSTOM_MIGCOMPAT_FEAT_' + trait_payloads._b32(
            bytes([99]) + data[1:])
        decoded = traits.decode(
            [n for n in self.names if n != name] + [newer])
        self.assertIsInstance(decoded['cpu_features'], Unknown)
        self.assertIn('upgrade migcompat', decoded['cpu_features'].reason)

    def test_decoded_values_are_independent(self):
        # Decoding is cached; a caller changing its profile must not
        # change what the next decode returns.
        first = traits.decode(self.names)
        first['host_model']['features'].append('not-a-feature')
        first['kernel_settings']['cmdline']['injected'] = True
        second = traits.decode(self.names)
        self.assertNotIn('not-a-feature', second['host_model']['features'])
        self.assertNotIn('injected', second['kernel_settings']['cmdline'])

    def test_trait_list_file(self):
        text = '# traits\n\n' + '\n'.join(self.names) + '\n'
        self.assertTrue(traits.looks_like_trait_list(text))
        self.assertEqual(traits.decode(self.names),
                         traits.load_trait_list(text))
        e = self.assertRaises(InputError, traits.load_trait_list,
                              'HW_CPU_X86_AVX\n', 'f.txt')
        self.assertIn('f.txt', str(e))
        e = self.assertRaises(InputError, traits.load_trait_list,
                              'CUSTOM_MIGCOMPAT_SCHEMA_1\nnot a trait\n',
                              'f.txt')
        self.assertIn('line 2', str(e))


class TestCatalogue(testtools.TestCase):

    def test_catalogue_is_plain_unique_and_versioned(self):
        self.assertEqual(len(traits.FEATURE_CATALOGUE),
                         len(set(traits.FEATURE_CATALOGUE)))
        sizes = [traits.CATALOGUE_SIZES[v]
                 for v in sorted(traits.CATALOGUE_SIZES)]
        self.assertEqual(sorted(sizes), sizes)  # append-only
        self.assertEqual(len(traits.FEATURE_CATALOGUE), sizes[-1])

    def test_libvirt_feature_names_are_in_the_catalogue(self):
        # Every feature named in the real host fixtures has a bit.
        missing = set()
        for profile in real_profiles().values():
            for factor in ('host_model', 'cpu_features'):
                value = profile[factor]
                if isinstance(value, dict) and value.get('source') != \
                        'cpuinfo':
                    missing.update(set(value.get('features') or ()) -
                                   set(traits.FEATURE_CATALOGUE))
        self.assertEqual(set(), missing)


class TestDecodingSchema2(TestDecodingWhatPlacementHolds):
    """The same promises for what a schema-2 reporter wrote."""

    schema = 2
    MALFORMED = 'CUSTOM_MIGCOMPAT_QEMU_8__Z'  # no such escape
    CONFLICTING = 'CUSTOM_MIGCOMPAT_QEMU_9_0_0'
    SECOND_PART = r'^CUSTOM_MIGCOMPAT_(WHY|PACKED)_[A-Z]+_2OF'

    def test_corrupt_payloads_give_a_value_or_an_unknown_naming_it(self):
        # A sample of the ~300 names (every kind), each mutated everywhere.
        self._corrupt_each_character(
            [n for i, n in enumerate(self.names)
             if i % 15 == 0 or 'WHY' in n or 'PACKED' in n])

    def test_newer_feature_catalogue_is_unknown_not_wrong(self):
        # Schema 2 has no bitmap: a feature this migcompat does not know
        # is spelt as any other text and read back as it was.
        names = self.names + ['CUSTOM_MIGCOMPAT_FEAT_NEWFEATURE']
        self.assertIn('newfeature',
                      traits.decode(names)['cpu_features']['features'])

    def test_unknown_code_is_a_problem_naming_the_trait(self):
        bad = 'CUSTOM_MIGCOMPAT_NEWTHING_X'
        decoded, problems = traits.parse(self.names + [bad])
        self.assertEqual([bad], [p.trait for p in problems])
        self.assertIn('newer migcompat', problems[0].message)


class TestSchema2Spelling(testtools.TestCase):
    """Readable names; values a plain spelling would merge stay apart."""

    def names(self, factor, value):
        return traits.encode_factor(factor, value)

    def test_examples_an_operator_reads(self):
        self.assertEqual(['CUSTOM_MIGCOMPAT_QEMU_8_2_2'],
                         self.names('qemu_version', '8.2.2'))
        self.assertEqual(['CUSTOM_MIGCOMPAT_KPARAM_TSX_OFF'],
                         self.names('kernel_settings',
                                    {'cmdline': {'tsx': 'off'}}))
        self.assertEqual(['CUSTOM_MIGCOMPAT_KPARAM_NOSMT'],
                         self.names('kernel_settings',
                                    {'cmdline': {'nosmt': True}}))
        hm = self.names('host_model', {'features': ['avx512f', 'sse4.1']})
        self.assertEqual(['CUSTOM_MIGCOMPAT_HM_AVX512F',
                          'CUSTOM_MIGCOMPAT_HM_SSE4_1'], hm)
        self.assertEqual(['CUSTOM_MIGCOMPAT_USABLE_EPYC_MILAN'],
                         self.names('usable_models', ['EPYC-Milan']))
        self.assertEqual(['CUSTOM_MIGCOMPAT_TSCHZ_2445426000',
                          'CUSTOM_MIGCOMPAT_TSCSCALING_FALSE'],
                         self.names('tsc', {'frequency': 2445426000,
                                            'scaling': False}))

    def test_colliding_spellings_stay_apart_and_round_trip(self):
        groups = [
            ('kernel_version', ['6.8.0-50', '6.8.0.50', '6.8.0_50',
                                '6.8.0 50', '6-8-0-50', 'v6.8.0-50']),
            ('usable_models', [['EPYC-Milan'], ['epyc-milan'],
                               ['EPYC_Milan'], ['epyc.milan'],
                               ['EPYC-MILAN'], ['Haswell'], ['haswell']]),
            ('cpu_features', [{'features': ['sse4.1']},
                              {'features': ['sse4_1']},
                              {'features': ['sse4-1']},
                              {'features': ['SSE4.1']}]),
            ('kernel_settings', [{'cmdline': {'tsx': 'off'}},
                                 {'cmdline': {'tsx': True}},
                                 {'cmdline': {'tsx_off': True}},
                                 {'cmdline': {'tsx': 'OFF'}},
                                 {'cmdline': {'spectre_v2': 'user_on'}},
                                 {'cmdline': {'spectre_v2_user': 'on'}},
                                 {'cmdline': {'tsx': ''}}]),
            ('cpu_models', [['EPYC', 'Haswell'], ['Haswell', 'EPYC']]),
            ('machine_types', [['pc-q35-7.2'], ['pc-q35-7-2'],
                               ['pc.q35.7.2']]),
        ]
        for factor, values in groups:
            spelt = [tuple(self.names(factor, v)) for v in values]
            self.assertEqual(len(values), len(set(spelt)), factor)
            for value, names in zip(values, spelt):
                got = traits.decode(['CUSTOM_MIGCOMPAT_SCHEMA_2'] +
                                    list(names))[factor]
                self.assertEqual(value, got, (factor, names))
                self.assertFalse(any('PACKED' in n for n in names), names)

    def test_random_texts_round_trip_with_a_fixed_seed(self):
        # Hypothesis explores; this pins 3,000 nasty cases for every run.
        from migcompat_filter.traits import text as trait_text
        from migcompat_filter.traits import vocabulary as trait_vocabulary
        import random
        rnd = random.Random(20261201)
        alphabet = 'aZ09._- ,=/:+~()@\u00e9\u4e2d_'
        vocabularies = (trait_text.EMPTY_VOCABULARY,
                        trait_vocabulary.MODELS, trait_vocabulary.FEATURES)
        seen = {}
        for _i in range(3000):
            text = ''.join(rnd.choice(alphabet)
                           for _j in range(rnd.randint(0, 12)))
            if rnd.random() < 0.2:
                text = rnd.choice(trait_vocabulary._BASE_MODELS)
            for sep in ('.', '-', '_', ' '):
                for vocab in vocabularies:
                    for upper in (False, True):
                        spelt = trait_text.spell(text, sep, vocab, upper)
                        self.assertRegex(spelt, r'^[A-Z0-9_]*$')
                        self.assertEqual(text, trait_text.read(
                            spelt, sep, vocab, upper), spelt)
                        key = (sep, id(vocab), upper, spelt)
                        self.assertEqual(text, seen.setdefault(key, text))

    def test_no_name_over_128_and_long_text_is_packed(self):
        value = {'vendor': 'x' * 300, 'version': '1', 'date': '2'}
        names = self.names('firmware_version', value)
        self.assertTrue(all(len(n) <= 128 for n in names))
        self.assertTrue(any('_PACKED_FWVER_' in n for n in names))
        self.assertEqual(value, traits.decode(
            ['CUSTOM_MIGCOMPAT_SCHEMA_2'] + names)['firmware_version'])

    def test_kernel_parameters_vocabulary_follows_the_reader(self):
        from migcompat_filter.factors import kernel
        from migcompat_filter.traits import vocabulary as trait_vocabulary
        self.assertEqual(set(), set(kernel.CPU_PARAMS) - set(
            trait_vocabulary.KERNEL_PARAMS.spelling))


class TestSchemaUpgrade(testtools.TestCase):
    """Both schemas decode; a provider with both is mixed."""

    def setUp(self):
        super(TestSchemaUpgrade, self).setUp()
        self.profile = real_profiles()['epyc-milan-nested-l1']

    def test_each_schema_reads_back(self):
        for schema in traits.SCHEMAS:
            parsed = traits.parse(traits.encode(self.profile, schema))
            self.assertEqual(traits.SCHEMA_OK, parsed.schema)
            self.assertEqual(schema, parsed.version)

    def test_both_schemas_on_one_provider_is_mixed(self):
        names = set(traits.encode(self.profile, 1)) | set(
            traits.encode(self.profile, 2))
        parsed = traits.parse(names)
        self.assertEqual(traits.SCHEMA_MIXED, parsed.schema)
        self.assertIsInstance(parsed.profile['qemu_version'], Unknown)

    def test_unknown_schema_cannot_be_written(self):
        e = self.assertRaises(InputError, traits.encode, self.profile,
                              max(traits.SCHEMAS) + 1)
        self.assertIn('schema', str(e))


class TestDescribe(testtools.TestCase):
    """What ``migcompat traits`` shows beside each name."""

    def test_each_schema_2_trait_names_its_factor_and_value(self):
        profile = real_profiles()['epyc-milan-nested-l1']
        rows = {n: (f, v) for n, f, v in traits.describe(
            traits.encode(profile))}
        self.assertEqual(set(traits.encode(profile)), set(rows))
        self.assertEqual(('kernel_version', profile['kernel_version']),
                         rows['CUSTOM_MIGCOMPAT_KVER_6_18_44__DFC__DV595'])
        self.assertEqual(('tsc', 'frequency=%d'
                          % profile['tsc']['frequency']),
                         rows['CUSTOM_MIGCOMPAT_TSCHZ_%d'
                              % profile['tsc']['frequency']])
        self.assertEqual(('firmware_version', 'unknown'),
                         rows['CUSTOM_MIGCOMPAT_UNKNOWN_FWVER'])
        for name, (factor, value) in rows.items():
            if not name.startswith((traits.DIGEST_PREFIX,
                                    'CUSTOM_MIGCOMPAT_SCHEMA_')):
                self.assertIn(factor, profile.factors, name)
                self.assertTrue(value, name)

    def test_schema_1_traits_show_their_whole_factor(self):
        profile = real_profiles()['epyc-milan-nested-l1']
        rows = {n: (f, v) for n, f, v in traits.describe(
            traits.encode(profile, 1))}
        self.assertEqual(('qemu_version', '"7.2.22"'),
                         rows['CUSTOM_MIGCOMPAT_QEMU_7_02_022'])
