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

"""Shared by the scheduler's unit tests: real host profiles as Placement
holds them, a fake clock, the nova objects the filter reads (host states,
a request, a vcpu_model) and the base of the filter tests.

Placement is the in-memory stand-in (tests/fake_placement.py); profiles
are real snapshots (tests/fixtures/hosts) encoded with the real codec.
"""

import os
import uuid

import fixtures
import testtools

from migcompat_filter.host import reader
from migcompat_filter.host import source as hostsource
from migcompat_filter.placement import grouping
from migcompat_filter.placement import hoststate
from migcompat_filter import profile as profile_mod
from migcompat_filter.scheduler import instances
from migcompat_filter.scheduler import migration_filter
from migcompat_filter.scheduler import state
from migcompat_filter.traits import codec as traits
from tests.fake_placement import FakePlacement

HOSTS = os.path.join(os.path.dirname(os.path.dirname(__file__)),
                     'fixtures', 'hosts')
MILAN = 'epyc-milan-nested-l1'
INTEL = 'libvirt-cpuid-xeon-gold-6148-host'

_PROFILES = {}


def real(name, **changes):
    """The profile of a snapshot under tests/fixtures/hosts, with changes."""
    if name not in _PROFILES:
        _PROFILES[name] = reader.read_profile(
            hostsource.SnapshotSource(os.path.join(HOSTS, name)))
    factors = dict(_PROFILES[name].factors)
    factors.update(changes)
    return profile_mod.Profile(factors)


def as_placement_says(prof):
    """What the scheduler can know: the profile after the trait round trip
    (unknown reasons are shortened on the way).
    """
    return traits.decode(traits.encode(prof))


def as_group_says(prof):
    """A digest group's profile: one host's, its per-host factors blanked
    (grouping.without_per_host).
    """
    return grouping.without_per_host(hoststate.HostProfile(
        hoststate.TRAITED, as_placement_says(prof))).profile


def published(prof, digest=True):
    """The trait names the reporter publishes for prof."""
    names = traits.encode(prof)  # the digest trait included
    if digest:
        return names
    return [t for t in names if not t.startswith(traits.DIGEST_PREFIX)]


class Clock(object):
    """A clock the test moves by hand."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


class HostState(object):
    """The fields of nova's HostState the filter and weigher read."""

    def __init__(self, name):
        self.host = self.nodename = name
        self.uuid = str(uuid.uuid4())


class Spec(object):
    """A request object that takes attributes, as a RequestSpec does."""


class VCPUModel(object):
    """The fields of nova's VirtCPUModel the filter reads."""

    def __init__(self, mode, model=None, features=()):
        self.mode, self.model = mode, model
        self.features = [Feature(n, p) for n, p in features]


class Feature(object):
    def __init__(self, name, policy):
        self.name, self.policy = name, policy


def record(features, mode='host-model', count=2):
    """A running_guests record as the reporter publishes it."""
    return {'count': count, 'modes': {mode: count},
            'host_model_features': sorted(features) if mode == 'host-model'
            else [], 'custom_features': [], 'unexpanded': [],
            'machine_types': [], 'invtsc_frequencies': [],
            'invtsc_unpinned': 0, 'phys_bits': [], 'passthrough_extra': []}


class FilterBase(testtools.TestCase):
    """The filter over the in-memory Placement: a Milan source, hosts
    added with _host(name, profile), a request judged with _judge().
    """

    def setUp(self):
        super().setUp()
        self.placement = FakePlacement()
        state.reset_shared(lambda: self.placement)
        self.addCleanup(state.reset_shared)
        # The hosts are added after the "scheduler start": the first
        # request waits for the first read (by default it would not).
        conf = migration_filter.CONF
        conf.set_override('initial_profile_wait', 10, 'migcompat')
        self.addCleanup(conf.clear_override, 'initial_profile_wait',
                        'migcompat')
        self.milan = real(MILAN)
        self.intel = real(INTEL)
        self.src = self._host('src', self.milan)
        self.log = self.useFixture(fixtures.FakeLogger(
            name='migcompat_filter.scheduler.filter'))

    def _host(self, name, prof=None, traits=None):
        hs = HostState(name)
        names = traits if traits is not None else (
            published(prof) if prof else [])
        self.placement.set(hs.uuid, list(names) + ['COMPUTE_NODE'])
        return hs

    def _judge(self, hosts, spec=None, vcpu_model=None):
        migration = instances.LiveMigration(
            'inst-1', self.src.host, self.src.nodename, self.src.uuid,
            vcpu_model=vcpu_model)
        return migration_filter.judge(hosts, spec or Spec(), migration)
