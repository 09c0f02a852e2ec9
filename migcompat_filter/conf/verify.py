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

"""Options of the reporter's verification round (group [migcompat]): each
report also checks migcompat's CPU verdicts on the fleet's guest CPUs
against this host's libvirt and publishes the counts.
"""

from oslo_config import cfg

from migcompat_filter.conf import group

verify_opts = [
    cfg.BoolOpt(
        'verify_with_libvirt',
        default=True,
        help="""
Whether "migcompat profile publish" also checks migcompat's CPU verdicts
against this host's libvirt (compareHypervisorCPU) for every distinct guest
CPU of the fleet, and publishes the counts (checked, agree, disagree,
unchecked) that "migcompat fleet verify" and "host list" show.

A round is skipped when neither this host's profile nor the fleet's guest
CPUs changed since the last one; a disagreement is logged at WARNING once per
guest CPU and host change, with both answers.

Possible values:

* True: verify in each report that has something new to verify.
* False: never (nothing is published; the fleet shows no counts).

Related options:

* ``verify_budget``: how long a round may take.
* ``verify_state_file``: where the last round is remembered.
"""),
    cfg.FloatOpt(
        'verify_budget',
        default=30.0,
        min=1.0,
        max=3600.0,
        help="""
Seconds a verification round may take (reading the fleet's guest CPUs from
Placement, this host's profile and libvirt's answers). Guest CPUs not reached
in time are counted as unchecked, and the round is done again next time.

Possible values:

* A number of seconds from 1 to 3600. A fleet has a few dozen distinct guest
  CPUs, each checked in a few milliseconds.

Related options:

* ``verify_with_libvirt``: turns the round on or off.
"""),
    cfg.StrOpt(
        'verify_state_file',
        default='',
        help="""
File where the reporter remembers its last verification round (what was
checked, the counts and the disagreements already logged), so that an
unchanged round is skipped and a disagreement is logged once.

Possible values:

* A path writable by the reporter.
* Empty: ``verify-state.json`` in migcompat's cache directory
  (``$MIGCOMPAT_CACHE_DIR``, else ``$XDG_CACHE_HOME/migcompat``, else
  ``~/.cache/migcompat``); with the cache turned off
  (``MIGCOMPAT_CACHE_DIR=``) nothing is remembered and every round runs.

Related options:

* ``verify_with_libvirt``.
"""),
]


def list_opts():
    return {group.GROUP: verify_opts}
