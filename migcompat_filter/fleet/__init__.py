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

"""The cloud as migcompat sees it: compute nodes, their profiles, and who
can receive live migrations from whom.

One module per concern, lowest first:

* :mod:`.nova_api`: the few nova API calls (hypervisors, servers,
  aggregates);
* :mod:`.inventory`: the compute nodes (:class:`~.inventory.Host`) read
  from Placement, named by nova when its API is reachable;
* :mod:`.matrix`: hosts with identical traits grouped, the group x group
  verdicts, and which hosts the scheduler filter would accept;
* :mod:`.baseline`: the EVC-style guest CPU every listed host can offer.

Display text lives with the commands (:mod:`migcompat_filter.cmd`).
"""

from migcompat_filter.exception import InputError


class NotFound(InputError):
    """No compute node, server or aggregate by that name."""
