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

"""A rolling-upgrade simulation: nova alone against nova with migcompat.

* :mod:`.migration_model`: what nova, libvirt and QEMU do with one live
  migration, written from their documentation, independent of the rules
  engine;
* :mod:`.core`: the fleet, the guests, the schedule of changes and the
  tally (``tools/simulate_rolling_upgrade.py`` runs it).
"""
