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

"""The scheduler's state shared by the filter, the weigher and every
request of one nova-scheduler process: the profile snapshot (kept fresh by
its refresher thread), the verdict and similarity caches, the per-host
reads and the compute-node cache. Each part is immutable or behind its own
lock (scheduler/profiles.py).
"""

import threading

from migcompat_filter.scheduler import instances
from migcompat_filter.scheduler import per_host
from migcompat_filter.scheduler import profiles


#: The bound of the verdict and similarity caches until an option sets it.
CACHE_SIZE = 100000


def _report_client():
    from nova.scheduler.client import report
    return report.report_client_singleton()


class Shared(object):
    """State shared by the filter, the weigher and every request: each
    part is immutable (the profile snapshot) or behind its own lock.
    """

    def __init__(self, client_factory=_report_client):
        self.profiles = profiles.ProfileCache(client_factory)
        # (guest key, destination profile key, policy key) -> Verdict;
        # sized per request by [migcompat] verdict_cache_size.
        self.verdicts = profiles.BoundedLRU(CACHE_SIZE)
        # (source key, destination profile key) -> similarity (weigher)
        self.similarities = profiles.BoundedLRU(CACHE_SIZE)
        self.host_reads = per_host.HostReads()
        self.compute_nodes = instances.ComputeNodes()


_SHARED = None
_SHARED_LOCK = threading.Lock()


def shared():
    global _SHARED
    state = _SHARED
    if state is None:
        with _SHARED_LOCK:  # taken once per process, at the first request
            if _SHARED is None:
                _SHARED = Shared()
            state = _SHARED
    return state


def reset_shared(client_factory=None, clock=None, background=True):
    """Forget every cached profile and verdict (tests, the benchmark); the
    old refresher thread ends.
    """
    global _SHARED
    with _SHARED_LOCK:
        if _SHARED is not None:
            _SHARED.profiles.stop()
        _SHARED = Shared(client_factory or _report_client)
        if clock is not None:
            _SHARED.profiles.clock = clock
        _SHARED.profiles.background = background
        return _SHARED


def configure(cache, options):
    """Apply the [migcompat] options of the profile cache (read on every
    request, so that a changed option applies without a restart).
    """
    cache.ttl = options.profile_refresh_interval
    cache.poll_interval = options.profile_change_poll_interval
    cache.read_timeout = options.request_time_budget
    cache.initial_wait = options.initial_profile_wait
