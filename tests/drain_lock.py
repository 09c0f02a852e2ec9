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

"""A drain lock held by a real second process (the unit tests of the lock
and the functional tests of ``host drain --execute``).
"""

import subprocess
import sys

_HOLD = ('import sys, time\n'
         'from migcompat_filter.fleet import drain_state\n'
         'drain_state.DrainLock(sys.argv[1], sys.argv[2]).__enter__()\n'
         'print("locked", flush=True)\n'
         'time.sleep(600)\n')


def hold(test, path, host='src'):
    """A child process holding host's drain lock next to the state file
    path (it is killed at the test's cleanup at the latest); returns once
    the lock is held.
    """
    holder = subprocess.Popen([sys.executable, '-c', _HOLD, path, host],
                              stdout=subprocess.PIPE, text=True)
    test.addCleanup(holder.wait)
    test.addCleanup(holder.kill)
    test.assertEqual('locked\n', holder.stdout.readline())
    return holder
