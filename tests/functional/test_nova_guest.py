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

"""The filter judges the migrating guest, not its host, inside
a real nova (nova 34's functional harness).

Fake libvirt computes, the real nova API, conductor, scheduler and
database, and a real placement (in process). Each compute's traits come
from a real host snapshot under tests/fixtures/hosts (some factors changed
to make the situation: the same host after an update), read with the
reader and published with the reporter, as ``migcompat report`` does it;
a source's running guests are published as the ``running_guests`` record
the reporter builds from their live XML.

The fake libvirt driver records the CPU config it generated as
``instance.vcpu_model`` (mode host-model, or host-passthrough when the
computes' nova.conf says so). It cannot start custom-mode guests of the
models these hosts have (its compareCPU knows one host model), so the
custom cases set ``instance.vcpu_model`` through nova's objects, as nova's
libvirt driver would have stored it, and the destination's own CPU check
is off (``[workarounds] skip_cpu_compare_on_dest``, as many clouds run).

Run with stestr (or python -m testtools.run), not pytest.
"""

from nova.db.main import api as main_db_api
from nova import objects
from sqlalchemy import event

from migcompat_filter.cpu import map_migratable as cpu_map_migratable
from migcompat_filter.scheduler import state
from tests.functional import nova_base
from tests.functional import nova_fixtures as mc

MILAN = 'epyc-milan-nested-l1'
SKYLAKE = 'libvirt-cpuid-xeon-gold-6148-host'
ICELAKE = 'libvirt-cpuid-ice-lake-server-host'
CASCADELAKE = 'libvirt-cpuid-xeon-platinum-8268-host'

#: The factors the libvirt-cpuid fixtures lack (they are CPUID dumps):
#: the same QEMU, libvirt, machine types and nova.conf as the Milan host,
#: so only the CPU differs between the hosts of a case.
_MILAN = mc.real_profile(MILAN)
SAME_STACK = {name: _MILAN[name] for name in (
    'qemu_version', 'libvirt_version', 'machine_types', 'cpu_mode',
    'kernel_version', 'microcode_version', 'phys_bits', 'tsc')}


def intel(name, **changes):
    factors = dict(SAME_STACK)
    factors.update(changes)
    return mc.real_profile(name, **factors)


def host_model_without(prof, *features):
    """prof's host_model value with features moved to its disabled list
    (the same CPU after an update took them away).
    """
    hm = dict(prof['host_model'])
    hm['features'] = sorted(set(hm['features']) - set(features))
    hm['disabled'] = sorted(set(hm.get('disabled') or ()) | set(features))
    return hm


def running_guests(mode, features, count=1, **extra):
    """A running_guests record as the reporter publishes it: `count`
    guests of one mode running with these CPU features.
    """
    record = {'count': count, 'modes': {mode: count},
              'host_model_features': [], 'custom_features': [],
              'unexpanded': [], 'machine_types': ['pc-q35-7.2'],
              'invtsc_frequencies': [], 'invtsc_unpinned': 0,
              'phys_bits': [], 'passthrough_extra': []}
    key = {'host-model': 'host_model_features',
           'custom': 'custom_features'}.get(mode)
    if key:
        record[key] = sorted(features)
    record.update(extra)
    return record


def migratable_host_model(prof):
    """The features a host-model guest started on prof runs with: its
    host-model features minus those libvirt never migrates (invtsc).
    """
    return sorted(set(prof['host_model']['features']) -
                  cpu_map_migratable.non_migratable(prof['arch']))


class InstanceReadTest(nova_base.GuestTestBase):
    """The vcpu_model comes with the one instance read the filter makes."""

    def setUp(self):
        super().setUp()
        self._start('src', _MILAN)
        self.server = self._boot_on('src')

    def test_vcpu_model_costs_no_extra_query(self):
        cctx, _instance = self._instance(self.server)
        engine = main_db_api.get_engine(context=cctx)
        statements = []

        def count(_conn, _cursor, statement, *args):
            if statement.lstrip().upper().startswith('SELECT'):
                statements.append(statement)
        event.listen(engine, 'before_cursor_execute', count)
        self.addCleanup(event.remove, engine, 'before_cursor_execute',
                        count)
        for attrs in ([], ['vcpu_model']):
            statements[:] = []
            instance = objects.Instance.get_by_uuid(
                cctx, self.server['id'], expected_attrs=attrs)
            self.assertEqual(1, len(statements), (attrs, statements))
        # Loaded by that query (no lazy load later) and what the fake
        # driver recorded at spawn.
        self.assertTrue(instance.obj_attr_is_set('vcpu_model'))
        self.assertEqual('host-model', instance.vcpu_model.mode)
        self.assertEqual(1, len(statements), statements)


class CustomModeTest(nova_base.GuestTestBase):
    """A custom guest is judged by its one model and its extra flags, not
    by every model of the source's [libvirt] cpu_models.
    """

    def setUp(self):
        super().setUp()
        self.flags(skip_cpu_compare_on_dest=True, group='workarounds')
        models = sorted(set(_MILAN['usable_models']) |
                        {'EPYC-Rome', 'EPYC-Milan'})
        src = mc.real_profile(MILAN, cpu_mode='custom',
                              cpu_models=['EPYC-Milan', 'EPYC-Rome'],
                              usable_models=models)
        # The destination's libvirt cannot run EPYC-Milan, and its CPU
        # lacks clwb (an older generation as far as the guest can tell).
        dest = mc.real_profile(
            MILAN, cpu_mode='custom', cpu_models=['EPYC-Rome'],
            usable_models=[m for m in models if m != 'EPYC-Milan'],
            host_model=host_model_without(_MILAN, 'clwb'))
        self._start('src', src)
        self._start('dest', dest)
        self.server = self._boot_on('src')

    def test_own_model_usable_on_destination_passes(self):
        # The source's cpu_models also lists EPYC-Milan, which the
        # destination lacks; the guest runs EPYC-Rome.
        self._set_vcpu_model(self.server, 'custom', 'EPYC-Rome')
        self._migrate_live(self.server, 'src', dest='dest')
        self.assertEqual('dest', self._host_of(self.server))
        line = self._filter_lines()[-1]
        self.assertIn('from src (custom: instance vcpu_model)', line)
        self.assertIn('1 candidates, 1 passed, 0 refused', line)

    def test_extra_flag_the_destination_lacks_is_refused(self):
        # nova's cpu_model_extra_flags land in vcpu_model.features.
        self._set_vcpu_model(self.server, 'custom', 'EPYC-Rome',
                             [('clwb', 'require')])
        self._post_live_migration_expect_no_valid_host(host='dest')
        line = self._filter_lines()[-1]
        self.assertIn('1 candidates, 0 passed, 1 refused', line)
        # The rule that judges a custom guest's model and its flags.
        self.assertEqual({'dest': 'usable_models'}, self._refused(line))


class HostModelBackAndForthTest(nova_base.GuestTestBase):
    """A host-model guest moved Skylake -> Ice Lake can move back: it
    still runs the Skylake-level CPU it was started with.
    """

    def setUp(self):
        super().setUp()
        self.skylake = intel(SKYLAKE)
        self.icelake = intel(ICELAKE)
        self._start('src', self.skylake)   # the host it was started on
        self._start('b', self.icelake)
        self.server = self._boot_on('src')

    def _to_b(self):
        self._migrate_live(self.server, 'src', dest='b')
        self.assertEqual('b', self._host_of(self.server))

    def test_moved_guest_can_move_back(self):
        self._to_b()
        # The reporter on b reads the guest's live XML: the CPU libvirt
        # expanded on src at start, in the migratable view.
        mc.publish(self, 'b', intel(ICELAKE, running_guests=(
            running_guests('host-model',
                           migratable_host_model(self.skylake)))))
        self._migrate_live(self.server, 'b', dest='src')
        self.assertEqual('src', self._host_of(self.server))
        line = self._filter_lines()[-1]
        self.assertIn('from b (host-model: instance vcpu_model)', line)
        self.assertIn('1 candidates, 1 passed, 0 refused', line)

    def test_without_the_record_the_host_model_stands_in(self):
        # The control: without b's running-guests record the judgement
        # falls back to b's own host-model (Ice Lake), which Skylake
        # lacks - the refusal the record corrects.
        self._to_b()
        self._expect_no_valid_host('src', stays_on='b')
        self.assertIn('0 passed, 1 refused: src (',
                      self._filter_lines()[-1])


class PassthroughGuestOnHostModelHostTest(nova_base.GuestTestBase):
    """A host-passthrough guest still running after the operator switched
    the host's cpu_mode to host-model is judged as host-passthrough.
    """

    def setUp(self):
        super().setUp()
        # The guest was started while nova.conf said host-passthrough.
        self.flags(cpu_mode='host-passthrough', group='libvirt')
        # The host now says host-model. On the other host avx2 is off (a
        # kernel that hides it): the nested host-model disables avx2 on
        # both hosts, so host-model guests never see it and pass; a
        # host-passthrough guest runs with it.
        features = dict(_MILAN['cpu_features'])
        features['features'] = sorted(set(features['features']) - {'avx2'})
        self._start('src', mc.real_profile(MILAN, cpu_mode='host-model'))
        self._start('other', mc.real_profile(MILAN, cpu_mode='host-model',
                                             cpu_features=features))
        self._start('twin', mc.real_profile(MILAN, cpu_mode='host-model'))
        self.server = self._boot_on('src')

    def test_judged_as_host_passthrough(self):
        self._migrate_live(self.server, 'src')
        self.assertEqual('twin', self._host_of(self.server))
        line = self._filter_lines()[-1]
        self.assertIn('from src (host-passthrough: instance vcpu_model)',
                      line)
        self.assertIn('2 candidates, 1 passed, 1 refused', line)
        self.assertEqual({'other': 'cpu_features'}, self._refused(line))


class TsxGuestsTest(nova_base.GuestTestBase):
    """Guests booted before an update took TSX away still have hle/rtm:
    a TSX-less destination is refused although the source's own
    host-model lacks TSX now.
    """

    def setUp(self):
        super().setUp()
        cascade = intel(CASCADELAKE)
        self.assertTrue({'hle', 'rtm'} <= set(
            cascade['host_model']['features']))
        tsx_off = host_model_without(cascade, 'hle', 'rtm')
        # The source after the update, its guests still running with TSX
        # (their CPU as libvirt expanded it before the update).
        self._start('src', intel(CASCADELAKE, host_model=tsx_off,
                                 running_guests=running_guests(
                                     'host-model',
                                     migratable_host_model(cascade),
                                     count=3)))
        # The same update everywhere else: the same profile (the same
        # digest: the running guests are per host).
        self._start('tsxoff', intel(CASCADELAKE, host_model=tsx_off))
        self._start('tsxon', cascade)  # not updated yet
        self.server = self._boot_on('src')

    def test_tsx_less_destination_refused(self):
        self._migrate_live(self.server, 'src')
        self.assertEqual('tsxon', self._host_of(self.server))
        line = self._filter_lines()[-1]
        self.assertIn('2 candidates, 1 passed, 1 refused', line)
        self.assertEqual(['tsxoff'], list(self._refused(line)))
        # The reasons line names what only the running guests need.
        reasons = [r for r in self._log().splitlines()
                   if ': refused tsxoff: ' in r]
        self.assertEqual(1, len(reasons))
        self.assertIn('hle', reasons[0])
        self.assertIn('rtm', reasons[0])

    def test_the_source_read_is_its_own(self):
        # tsxoff shares the source's digest; were the source taken from
        # the cached profile of that digest group (tsxoff's, without the
        # guests), tsxoff would pass.
        self.assertEqual(
            [t for t in mc.our_traits(self, 'src') if '_DIGEST_' in t],
            [t for t in mc.our_traits(self, 'tsxoff') if '_DIGEST_' in t])
        self._post_live_migration_expect_no_valid_host(host='tsxoff')


class TscFrequencyTest(nova_base.GuestTestBase):
    """host-model guests have no invtsc (libvirt leaves it out of the
    CPU it gives them): hosts of another TSC frequency suit them.
    """

    def setUp(self):
        super().setUp()
        self._start('src', _MILAN)
        self._start('other', mc.real_profile(
            MILAN, tsc={'frequency': 2999999000, 'scaling': False}))
        self.server = self._boot_on('src')

    def test_other_tsc_frequency_passes(self):
        self._migrate_live(self.server, 'src', dest='other')
        self.assertEqual('other', self._host_of(self.server))
        self.assertIn('1 candidates, 1 passed, 0 refused',
                      self._filter_lines()[-1])

    def test_with_running_guests_record_too(self):
        mc.publish(self, 'src', mc.real_profile(
            MILAN, running_guests=running_guests(
                'host-model', migratable_host_model(_MILAN), count=2)))
        self._migrate_live(self.server, 'src', dest='other')
        self.assertEqual('other', self._host_of(self.server))


class PinnedInvtscTest(nova_base.GuestTestBase):
    """Guests with an invariant TSC at a pinned frequency need each
    destination's own TSC frequency (per host: calibrated at boot), read
    from its own traits when the digest group does not carry it.
    """

    HZ = _MILAN['tsc']['frequency']

    def setUp(self):
        super().setUp()
        record = running_guests('host-model', migratable_host_model(_MILAN),
                                invtsc_frequencies=[self.HZ])
        self._start('src', mc.real_profile(MILAN, running_guests=record))
        self._start('near', mc.real_profile(
            MILAN, tsc={'frequency': self.HZ + 1000, 'scaling': False}))
        self._start('far', mc.real_profile(
            MILAN, tsc={'frequency': self.HZ + 30000000, 'scaling': False}))
        self.server = self._boot_on('src')

    def test_other_frequency_refused(self):
        self._migrate_live(self.server, 'src')
        self.assertEqual('near', self._host_of(self.server))
        line = self._filter_lines()[-1]
        self.assertEqual({'far': 'tsc'}, self._refused(line))
        # near and far differ only in their frequency: one digest group,
        # each host read by its own traits (memoised per snapshot).
        snap = state.shared().profiles.snapshot()
        self.assertEqual(1, len(snap.grouping.profiles))
        reads = state.shared().host_reads
        for name in ('near', 'far'):
            rp = self._get_provider_uuid_by_host(name)
            self.assertIsNotNone(reads.get(rp, snap.serial), name)


class WorkaroundsTest(nova_base.GuestTestBase):
    """nova's [workarounds] skip_hypervisor_version_check_on_lm (read from
    nova's own CONF) relaxes our version rules as it relaxes nova's.
    """

    def setUp(self):
        super().setUp()
        self._start('src', _MILAN)
        # A host not upgraded yet: older QEMU and libvirt.
        self._start('older', mc.real_profile(
            MILAN, qemu_version='7.1.0', libvirt_version='8.0.0'))
        self.server = self._boot_on('src')

    def test_older_destination_refused_by_default(self):
        self._post_live_migration_expect_no_valid_host(host='older')
        refused = self._refused(self._filter_lines()[-1])
        self.assertIn('qemu_version', refused['older'])

    def test_skip_hypervisor_version_check_passes_it(self):
        self.flags(skip_hypervisor_version_check_on_lm=True,
                   group='workarounds')
        self._migrate_live(self.server, 'src', dest='older')
        self.assertEqual('older', self._host_of(self.server))
        self.assertIn('1 candidates, 1 passed, 0 refused',
                      self._filter_lines()[-1])
