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

"""Helpers for running migcompat inside nova's own functional harness.

Gotchas met while getting nova 34's harness (from the PyPI wheel) to run an
out-of-tree filter, kept here so the tests stay readable:

* nova's paste config is not found from a wheel: ``[wsgi] api_paste_config``
  must point at ``<sys.prefix>/etc/nova/api-paste.ini``.
* ``available_filters`` must repeat nova's default
  (``nova.scheduler.filters.all_filters``) before ours, and both flags
  must be set before ``ServersTestBase.setUp`` starts the scheduler.
* Run with stestr or ``python -m testtools.run``; pytest cannot run these
  classes. ``tests/__init__.py`` and ``tests/functional/__init__.py`` must
  exist for stestr's discovery.
* The filter's profile cache is process-global (as in nova-scheduler);
  every test resets it, or traits from an earlier test leak in.
* nova's PlacementFixture intercepts HTTP to a random endpoint with
  wsgi-intercept; the reporter reaches the same placement through a
  keystoneauth adapter on ``fixture.endpoint`` (no auth: noauth2).
"""

import functools
import os
import sys

from migcompat_filter.host import reader
from migcompat_filter.host import source as hostsource
from migcompat_filter.placement import client as placement
from migcompat_filter.placement import reporter
from migcompat_filter import profile as profile_mod
from migcompat_filter.traits import codec as traits

HOSTS = os.path.join(os.path.dirname(os.path.dirname(__file__)),
                     'fixtures', 'hosts')

FILTER = 'MigrationCompatibilityFilter'


def nova_flags(test):
    """The nova.conf lines the docs give, as test flags."""
    test.flags(api_paste_config=os.path.join(
        sys.prefix, 'etc', 'nova', 'api-paste.ini'), group='wsgi')
    test.flags(available_filters=['nova.scheduler.filters.all_filters',
                                  'migcompat_filter.scheduler.all_filters'],
               group='filter_scheduler')
    test.flags(weight_classes=['nova.scheduler.weights.all_weighers',
                               'migcompat_filter.scheduler.all_weighers'],
               group='filter_scheduler')


@functools.lru_cache(maxsize=None)
def _snapshot_profile(name):
    return reader.read_profile(
        hostsource.SnapshotSource(os.path.join(HOSTS, name)))


def real_profile(name, **changes):
    """The profile of a snapshot under tests/fixtures/hosts, optionally
    with some factors changed (the same host after an update).
    """
    base = _snapshot_profile(name)
    factors = dict(base.factors)
    factors.update(changes)
    return profile_mod.Profile(factors)


def reporter_client(test):
    """A reporter PlacementClient on the test's placement fixture."""
    return placement.PlacementClient(
        placement.adapter_noauth(test.placement.fixture.endpoint))


def publish(test, hostname, prof, digest=True):
    """Publish a profile on a compute's provider the way ``migcompat
    report`` does (reporter.sync: read-modify-write, keeps other traits).
    """
    wanted = traits.encode(prof)  # the digest trait included
    if not digest:  # as an older reporter published them
        wanted = [t for t in wanted
                  if not t.startswith(traits.DIGEST_PREFIX)]
    rp_uuid = test._get_provider_uuid_by_host(hostname)
    result = reporter.sync(reporter_client(test), rp_uuid, wanted)
    if getattr(test, 'REFRESH_AFTER_PUBLISH', True):
        scheduler_reads_again()
    return result


def scheduler_reads_again():
    """The scheduler's next refresh after a write (its interval passing),
    now, when its refresher has read before; a test whose subject is that
    timing sets REFRESH_AFTER_PUBLISH = False. Imports nothing of the
    scheduler (nova loads it).
    """
    state = sys.modules.get('migcompat_filter.scheduler.state')
    shared = getattr(state, '_SHARED', None)
    if shared is not None and shared.profiles.reads_done:
        shared.profiles.refresh_now()


def our_traits(test, hostname):
    rp_uuid = test._get_provider_uuid_by_host(hostname)
    return sorted(t for t in test._get_provider_traits(rp_uuid)
                  if t.startswith(traits.PREFIX))
