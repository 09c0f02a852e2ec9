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


"""Step 1 of the flow: read a host and its guests.

Owns the live host source (libvirt, /proc, /sys, nova.conf) and the offline
snapshot source, libvirt I/O, CPU-model expansion and its caches, domain
XML parsing, snapshot writing and the reader that turns a source into a
Profile through the factor plugins.

May import: the top-level shared modules, cpu, factors (its sibling on the
same step: the factor plugins read through this package). Never traits,
placement, rules, scheduler, fleet, pictures, cmd or demo.
"""
