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

"""Options of the trait reporter (``migcompat profile publish``), group
[migcompat].

How to reach Placement is not here: the reporter reads nova's own
``[placement]`` section (auth_type, auth_url, username, ..., region_name,
valid_interfaces, cafile, timeout), so on a compute node it can be pointed
at nova.conf and needs no second copy of the credentials.
"""

from oslo_config import cfg

from migcompat_filter.conf import group

#: The longest interval (and jitter) accepted: a week. Longer is surely a
#: typo, and far longer overflows the platform's time_t.
MAX_INTERVAL = 7 * 24 * 3600

#: report_deadline = 0 means this many times the per-request timeout.
DEFAULT_DEADLINE_FACTOR = 4

reporter_opts = [
    cfg.IntOpt(
        'report_interval',
        default=0,
        min=0,
        max=MAX_INTERVAL,
        help="""
Seconds between two reports when "migcompat profile publish" keeps running (its
--interval option overrides this).

A host's factors change rarely (a microcode, firmware, kernel or QEMU update,
usually with a restart), so an hour is plenty; an unchanged host costs one
GET to Placement per report.

Possible values:

* 0: report once and exit, which suits a systemd timer or cron job.
* A positive integer: seconds between two reports, at most 604800 (a
  week).

Related options:

* ``report_jitter``: added to every interval.
"""),
    cfg.IntOpt(
        'report_jitter',
        default=60,
        min=0,
        max=MAX_INTERVAL,
        help="""
Up to this many seconds, chosen at random each time, are added to every
interval (and waited before the first report when running with an interval),
so that compute nodes started together do not all hit Placement in the same
second.

Possible values:

* 0: no jitter.
* A positive integer: the most seconds added, at most 604800.

Related options:

* ``report_interval``: the interval the jitter is added to.
"""),
    cfg.IntOpt(
        'max_conflict_retries',
        default=5,
        min=0,
        help="""
How many times a report re-reads the provider and tries again when Placement
answers 409 Conflict because another writer (normally nova-compute updating
its own traits) changed the provider between our read and our write.

After that the report fails without writing; the next one starts afresh.

Possible values:

* 0: no retry; the first conflict fails the report.
* A positive integer: the most retries.

Related options:

* ``report_interval``: when the next report starts.
"""),
    cfg.StrOpt(
        'provider_name',
        help="""
Name or UUID of the resource provider that carries this host's traits: the
compute node's root provider, which nova names after the hypervisor hostname.

The "report --provider" option overrides this. Give the UUID to save a
look-up request per report.

Possible values:

* Unset: nova's [DEFAULT] host, then this machine's fully qualified domain
  name.
* A resource provider name or UUID.

Related options:

* nova's ``[DEFAULT] host``: the name used when this is unset.
"""),
    cfg.FloatOpt(
        'request_timeout',
        default=30.0,
        min=0.1,
        help="""
Seconds to wait for Placement to answer one request when [placement] timeout
is not set.

A report that times out fails with a clear error and writes nothing; the next
report retries.

Possible values:

* A number of seconds, 0.1 or more.

Related options:

* nova's ``[placement] timeout``: used instead when set.
"""),
    cfg.FloatOpt(
        'report_deadline',
        default=0.0,
        min=0.0,
        help="""
Seconds one report may spend talking to Placement in all, however many
requests it makes (a fresh host makes about a dozen).

Each request gets at most the time left. When the deadline passes the report
stops with an error saying so, before any further write; the provider's
traits are either written whole or not at all (the write is one request), and
the next report retries.

Possible values:

* 0: four times the per-request timeout (``request_timeout``, or nova's
  ``[placement] timeout`` when set).
* A positive number of seconds.

Related options:

* ``request_timeout``: the bound of each request.
"""),
    cfg.StrOpt(
        'provider_config_file',
        default='migcompat.yaml',
        help="""
File name that "report --provider-config DIR" writes in DIR (nova's [compute]
provider_config_location, by default /etc/nova/provider_config/).

It must end in .yaml for nova to read it, and no other file there may name
$COMPUTE_NODE, or nova-compute refuses to start.

Possible values:

* A plain file name ending in .yaml.

Related options:

* nova's ``[compute] provider_config_location``: the directory to give
  "report --provider-config".
"""),
    cfg.StrOpt(
        'kept_values_file',
        default='/var/lib/migcompat/last-good.json',
        help="""
Where "migcompat profile publish" keeps the last good value of each factor
of this host. When a factor cannot be read for a cause that may pass
(libvirt unreachable or restarting, a timeout, permission denied on a
file), report publishes the kept value instead of unknown and exits 1
naming the factor.

Possible values:

* A file path; its directory is created when missing. When it cannot be
  written, report warns and publishes what it read (no value is kept).

Related options:

* ``kept_value_max_runs``: how long a value is kept.
"""),
    cfg.IntOpt(
        'kept_value_max_runs',
        default=24,
        min=0,
        max=100000,
        help="""
How many reports in a row may publish a factor's kept value before it is
published as unknown (the rule for a factor that is really gone, such as
libvirt removed). With the hourly timer, 24 is a day.

Possible values:

* 0: never keep a value (a factor that cannot be read is unknown at once).
* A positive integer.

Related options:

* ``kept_values_file``; ``report --forget-kept`` drops every kept value
  at once.
"""),
    cfg.BoolOpt(
        'readable_profile_traits',
        default=False,
        help="""
Also put each new profile record's facts, spelled as schema 2's readable
trait names, on that record's root provider in the migcompat store, so that
"openstack resource provider trait list <root>" shows them and a flavor may
read them; they are on the record, not on hosts, so no flavor can require
them.

Off by default: every new global trait name is loaded by Placement in each
of nova's trait requests (about 300 names per distinct profile; measured by
tools/bench_placement_tax.py, see doc/source/traits.rst), and the first
report of a new profile costs one request per new name. Compute nodes carry
at most 7 traits of ours either way.

Possible values:

* True: readable names on the profile records' roots (costs Placement
  time in every trait request of nova, and rows).
* False: only the records; "migcompat trait list" and "host show" spell
  the facts out.

Related options:

* None.
"""),
]


def list_opts():
    return {group.GROUP: reporter_opts}
