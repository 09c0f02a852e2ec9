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

"""The suite's own set-up (tests/__init__.py): under a test runner,
nova's eventlet patching comes before oslo.db, oslo.context and urllib3
are imported, so oslo.db keeps its transaction state per green thread.
Without it nova's harness fails now and then with "Can't upgrade a READER
transaction to a WRITER mid-transaction".
"""

import sys

import testtools


class EventletPatchedFirstTest(testtools.TestCase):

    def test_oslo_db_state_is_per_green_thread(self):
        if not getattr(sys.modules.get('nova.monkey_patch'),
                       'MONKEY_PATCHED', False):
            self.skipTest('not run by a test runner (no eventlet patching)')
        import eventlet.corolocal
        from oslo_db.sqlalchemy import enginefacade
        self.assertTrue(issubclass(enginefacade._TransactionContextTLocal,
                                   eventlet.corolocal.local))
