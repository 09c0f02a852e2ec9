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


"""Step 4 of the flow: Placement.

Owns the HTTP client and its keystone auth (client, auth, urls), the
grouped read of the fleet's profiles (grouping), the per-host state that
read yields (hoststate), what the filter does with a host in each state
(acceptance, shared by the scheduler and the fleet commands) and the
reporter's sync of one host's traits (reporter).

May import: the top-level shared modules, cpu, factors, traits and conf
(the action options' values). Never host readers, rules, scheduler,
fleet, pictures, cmd or demo.
"""


def __getattr__(name):
    # What the flat layout's placement module held (moved.py).
    import importlib  # not 'from migcompat_filter import': recursion
    moved = importlib.import_module('migcompat_filter.moved')
    return moved.attribute('placement', name)
