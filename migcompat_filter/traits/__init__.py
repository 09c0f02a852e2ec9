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


"""Step 3 of the flow: the trait codec, a Profile <-> Placement trait names.

Owns every schema: the names and their grammar (names), the payload
encodings (payloads, text), the fixed vocabularies (vocabulary, the feature
catalogue), schema 2's layout, schema 1 and schema 2, and the codec's public
entry points (codec: encode, decode, digest).

May import: the top-level shared modules, cpu and factors (the catalogue
says which factors exist). Never host readers, placement, rules,
scheduler, fleet, pictures, cmd or demo: decoding must not need a libvirt.
"""


def __getattr__(name):
    # What the flat layout's traits module held (moved.py).
    import importlib  # not 'from migcompat_filter import': recursion
    moved = importlib.import_module('migcompat_filter.moved')
    return moved.attribute('traits', name)
