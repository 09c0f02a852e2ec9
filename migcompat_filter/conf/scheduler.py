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

"""Options of the nova scheduler filter and weigher (group ``[migcompat]``).

They go into nova.conf of the nova-scheduler service, next to the policy
options (migcompat_filter.conf.policy) that decide what blocks. Every
option here is about how the filter behaves when it cannot judge a host,
and about how much Placement traffic it may cost.
"""

from oslo_config import cfg

from migcompat_filter.conf import group

PASS = 'pass'
REFUSE = 'refuse'
#: What the filter may do with a host it cannot judge (the *_action options).
HOST_ACTIONS = [
    (PASS, 'let the host through unjudged: only nova\'s own checks at '
           'migration time remain (the QEMU version, and a CPU compare of '
           'the source host\'s CPU unless skip_cpu_compare_on_dest is set)'),
    (REFUSE, 'refuse the host as a live-migration destination'),
]

scheduler_opts = [
    cfg.StrOpt(
        'untraited_host_action',
        default=PASS,
        choices=HOST_ACTIONS,
        help="""
What the filter does with a destination whose resource provider has no
migcompat traits at all, typically because "migcompat profile publish" has not
run on that compute host yet.

"pass" lets such hosts be chosen as before the filter was enabled, so that
enabling the filter before the reporter reaches every host changes nothing
for them; "refuse" keeps live migrations on hosts that are known to be
compatible. Switch to "refuse" once every compute host reports.

Related options:

* ``untraited_source_action``: the same question for the source host.
"""),
    cfg.StrOpt(
        'untraited_source_action',
        default=PASS,
        choices=HOST_ACTIONS,
        help="""
What the filter does when the live-migration source host has no migcompat
traits, so there is nothing to compare destinations with.

"pass" lets every destination through (the filter stays out of the way);
"refuse" refuses every destination, so a guest on an unreported host cannot
be live-migrated until its host reports.

Related options:

* ``untraited_host_action``: the same question for a destination.
* ``newer_schema_action``: a source host with a newer trait schema follows
  this option, not that one.
* ``placement_error_action``: a source host Placement could not tell about
  follows that option.
"""),
    cfg.StrOpt(
        'newer_schema_action',
        default=PASS,
        choices=HOST_ACTIONS,
        help="""
What the filter does with a host whose traits were written by a newer
migcompat reporter than this scheduler understands (a newer trait schema
version), which happens while a deployment is upgraded reporter first.

Such a host cannot be judged. "pass" lets it through (only nova's own checks
at migration time remain, which compare the source host's CPU, not the
guest's, and are off with ``[workarounds] skip_cpu_compare_on_dest``);
"refuse" keeps it out until nova-scheduler is upgraded too.

Related options:

* ``untraited_source_action``: what a source host with a newer schema does.
"""),
    cfg.StrOpt(
        'placement_error_action',
        default=PASS,
        choices=HOST_ACTIONS,
        help="""
What the filter does with the hosts it could not judge because Placement
failed, timed out or the time budget of the request (request_time_budget)
ran out while the profiles were being read, and with the hosts the
background read has not covered yet (right after nova-scheduler starts,
see initial_profile_wait, or after a failed read).

"pass" keeps live migration working while Placement is sick (only nova's own
checks at migration time remain, see untraited_host_action); "refuse" refuses
those hosts, so a live migration fails
with "No valid host" rather than going to an unchecked host. Profiles
already cached are still used either way.

Related options:

* ``request_time_budget``: the time budget of one request.
* ``profile_refresh_interval``: how often the profiles are read.
"""),
    cfg.IntOpt(
        'profile_change_poll_interval',
        default=5,
        min=0,
        help="""
Seconds between two polls of the change marker: the resource provider
``migcompat-changes-<token>`` (UUID b8329855-d9d6-5bc7-bb09-9225a1d1b6f3)
that every reporter renames after it wrote a host's traits. When its name
or generation moved since the last read, the host profiles are read again at
once, so a new or changed profile is judged about this long plus one read
after the reporter's write (about 6 seconds by default at 10,000 hosts).

A poll is one small GET per nova-scheduler process that serves requests,
in a background thread: requests never wait for it. A failed poll changes
nothing (the next one tries again). Any writer that can bump the marker
can only make the schedulers read again, at most once per poll interval.
Measured at 10,000 hosts (tools/bench_refresher.py, a real placement):
with no change, 0.05 % of one core in each nova-scheduler worker and
0.1 % in Placement per worker; with one change per minute, 0.25 % and
1.3 % (a full read costs Placement about 0.8 s of CPU).

Possible values:

* 0: no polling; the profiles are read every profile_refresh_interval
  seconds only.
* A positive integer: seconds between two polls.

Related options:

* ``profile_refresh_interval``: the full read that runs whatever the
  marker says.
"""),
    cfg.IntOpt(
        'profile_refresh_interval',
        default=300,
        min=0,
        deprecated_name='profile_cache_ttl',
        help="""
Seconds from the start of one full read of the host profiles from
Placement to the start of the next, whatever the change marker says (see
profile_change_poll_interval): the safety net for a write that bumped no
marker (an older reporter, traits set by hand, a failed bump), which is
judged at most this long plus one read after it.

Each nova-scheduler process that serves requests reads the profiles in a
background thread; live-migration requests use the last reading and never
wait for one. A read lists the hosts of each profile, not each host's
traits: 2 + (distinct profiles) Placement GETs whose answers together name
every host with migcompat traits once; profiles already known are not
decoded again. The cost grows with the number of hosts and falls with a
longer interval: at 10,000 hosts in 15 profiles a read costs about 150 ms
of CPU in the nova-scheduler process and 800 ms in Placement
(tools/bench_refresher.py). After a failed read the next one comes after
at most 30 seconds.

Possible values:

* 0: read again as soon as a read ends (at least 1 second apart).
* A positive integer: seconds between two full reads.

Related options:

* ``profile_change_poll_interval``: reads sooner when a reporter wrote.
* ``initial_profile_wait``: what the first request after a start waits for.
* ``request_time_budget``: bounds each Placement call of a read.
"""),
    cfg.FloatOpt(
        'initial_profile_wait',
        default=0.0,
        min=0.0,
        help="""
Seconds a live-migration request that arrives while nova-scheduler's first
read of the host profiles is still running may wait for it (see
profile_refresh_interval).

The background read starts when nova-scheduler starts (when nova builds
the filter), so the first live migration usually finds the profiles read.
By default a request never waits: one that arrives during the first read
uses what is there, and every destination not read yet follows
placement_error_action. A wait here trades that request's latency for
judged destinations. Every request after the first read uses the last
reading without waiting.

Only until that first read has ended (succeeded or failed) does any request
wait, and never longer than this nor past half its own
request_time_budget (the other half is kept for reading the source, without
which no destination can be judged); afterwards requests never wait for a
read. Hosts the read has not covered
yet when the wait ends are unjudged and follow placement_error_action. A
cold read costs 2 + 2 x profiles Placement calls (about 1 second for 10,000
hosts of 17 profiles).

Possible values:

* 0 (default): never wait; requests during the first read judge the
  source and treat the destinations not read yet according to
  placement_error_action.
* A number of seconds to wait at most.

Related options:

* ``placement_error_action``: what happens to the hosts not read yet.
* ``request_time_budget``: caps the wait too.
"""),
    cfg.FloatOpt(
        'request_time_budget',
        default=10.0,
        min=0.1,
        help="""
Upper bound, in seconds, for the Placement reads of one live-migration
request: the source host's own traits, and for a guest with a pinned
invariant TSC the candidates' own traits (their TSC frequency is per host).

When it runs out the filter stops reading, uses what it has and treats the
hosts it could not judge according to placement_error_action. Each
Placement call's timeout is capped at what is left of the budget (also with
nova's [placement] timeout unset, which is no bound at all), and so is the
first request's wait for the first read of the profiles
(initial_profile_wait), so a request never takes much longer than this,
whatever Placement does. Each call of the background read of the profiles
is bounded by this many seconds too.

Possible values:

* A number of seconds, 0.1 or more.

Related options:

* ``placement_error_action``: what happens to the hosts left unjudged.
* nova's ``[placement] timeout``: may bound each single Placement call
  further (unset by default).
"""),
    cfg.IntOpt(
        'verdict_cache_size',
        default=100000,
        min=0,
        help="""
How many verdicts the filter keeps, one per (source traits, migrating guest:
its CPU mode and the instance's own vcpu_model, destination profile,
policy).

Hosts share profiles, so a few hundred entries usually cover a whole cloud;
the cache only bounds memory.

Possible values:

* 0: no verdict caching.
* A positive integer: the most verdicts kept, the least recently used
  dropped first.

Related options:

* None: a verdict is kept per source traits, guest, destination profile
  digest and policy, so a changed profile, guest or policy never reuses an
  old one.
"""),
    cfg.FloatOpt(
        'similarity_weight_multiplier',
        default=1.0,
        help="""
Multiplier of the MigrationSimilarityWeigher.

For a live migration of a host-passthrough guest the weigher gives each
destination its similarity to the source (the share of factors it has
identical, weighted; 1.0 for an identical host), in [0, 1] and not stretched
over the candidates, times this multiplier, so at the default 1.0 it counts
like one of nova's own weighers (RAM, CPU, soft-(anti-)affinity, ...): a
host that is 0.05 less similar loses only 0.05. Host-model guests get a
tie-break only (a millionth of their similarity), custom-mode guests and
every other request 0, so it never changes where new servers go.

An aggregate can override it for its hosts with the metadata key
``migration_similarity_weight_multiplier``, as nova's
``ram_weight_multiplier`` and the others.

Possible values:

* A positive number: raise it (e.g. 10) to keep host-passthrough guests on
  identical hosts over resource spreading.
* 0: turns the weigher off.
* A negative number: prefers dissimilar hosts.

Related options:

* nova's ``[filter_scheduler] weight_classes``: must list the weigher.
* nova's ``[filter_scheduler] ram_weight_multiplier``,
  ``soft_anti_affinity_weight_multiplier`` and the other weighers'
  multipliers: what similarity is weighed against.
"""),
]


def list_opts():
    return {group.GROUP: scheduler_opts}
