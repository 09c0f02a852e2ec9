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

"""Play nova-compute on one resource provider, in a process of its own.

``python -m tests.functional.nova_compute_writer URL RP_UUID TRAIT...``
toggles one of its own TRAITs per round with read-modify-write on the
provider generation, retrying its own write on 409 as nova-compute does,
until its standard input closes, pausing a random 0-20 ms between rounds
(nova-compute writes traits on changes and in its periodic task, once a
minute; this is thousands of times as often). It then prints JSON: the
rounds done and which of its traits it left set. It is a separate
process, as nova-compute is, so the two writers really race (threads in a
test process patched by eventlet would take turns instead).
"""

import json
import random
import sys
import threading
import time

from migcompat_filter.placement import client as placement


def main():
    url, rp, mine = sys.argv[1], sys.argv[2], sys.argv[3:]
    client = placement.PlacementClient(placement.adapter_noauth(url))
    stop = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), stop.set()),
                     daemon=True).start()
    present = set()
    rounds = 0
    while not stop.is_set():
        name = mine[rounds % len(mine)]
        while True:
            current, generation = client.get_traits(rp)
            new = set(current) ^ {name}
            try:
                client.put_traits(rp, new, generation)
            except placement.Conflict:
                continue
            break
        present ^= {name}
        rounds += 1
        time.sleep(random.uniform(0, 0.02))
    print(json.dumps({'rounds': rounds, 'present': sorted(present)}))


if __name__ == '__main__':
    main()
