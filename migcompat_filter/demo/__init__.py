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

"""The whole flow on one machine, with no cloud: ``migcompat demo``.

1. An in-process Placement on a private sqlite database
   (``placement.direct.PlacementDirect``, from openstack-placement).
2. A fleet: real host profiles bundled in ``migcompat_filter/demo/data``
   (see ``tools/make_demo_fleet.py``) plus this machine's own live profile
   (whatever cannot be read, e.g. with libvirt down, is shown unknown).
3. The reporter (``reporter.sync``, what ``migcompat profile publish`` runs)
   publishing every host's traits on its resource provider.
4. nova's own scheduler code (``HostManager.get_filtered_hosts`` and
   ``get_weighed_hosts``) with nova's default filters and weighers plus
   MigrationCompatibilityFilter and MigrationSimilarityWeigher, choosing a
   live-migration target for a guest on each host, in each guest CPU mode.

What is not real: nova's database. The filter asks it one question per
request (is this instance live-migrating, and from which compute node);
the demo answers it from its own fleet instead. Everything the filter and
weigher decide comes from the traits they read back from Placement.

The modules: :mod:`.hosts` (the bundled fleet and this machine),
:mod:`.embedded` (the in-process Placement), :mod:`.offline` (nova's
HostManager, HostStates and RequestSpecs without nova's database) and
:mod:`.runner` (the run itself). Besides migcompat_filter.scheduler, this
package is the only part of migcompat that imports nova; it does so inside
functions, so that loading the CLI stays fast.
"""
