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

"""The test suite.

nova's functional harness runs nova's services eventlet-patched, and
nova/tests/__init__.py patches when it is imported. In a test run that is
too late: the test modules before the first nova harness module import
oslo.db, oslo.context and urllib3 first, and oslo.db's per-thread
transaction state then stays a native thread-local that all of nova's
green threads share. Two of them using one context at once then fail
with "Can't upgrade a READER transaction to a WRITER mid-transaction"
(nova warns: "Modules with known eventlet monkey patching issues were
imported prior to eventlet monkey patching"). So a test runner patches
here, before any test module is imported, as nova's own test suite does.
Scripts that import test helpers (tools/bench_*.py) keep native threads.
"""

import sys

_RUNNERS = ('stestr.subunit_runner.run', 'testtools.run', 'subunit.run',
            'unittest.__main__')


def _run_by_a_test_runner():
    spec = getattr(sys.modules.get('__main__'), '__spec__', None)
    return getattr(spec, 'name', None) in _RUNNERS


if _run_by_a_test_runner():
    from nova import monkey_patch
    monkey_patch.patch()
    # The CI runs 8 workers on 2 cores: generating an example may be slow
    # there, which is no failure of the code under test. Every hypothesis
    # test inherits this profile (its own @settings override the rest).
    from hypothesis import HealthCheck
    from hypothesis import settings as _hypothesis_settings
    _hypothesis_settings.register_profile(
        'loaded', deadline=None,
        suppress_health_check=[HealthCheck.too_slow])
    _hypothesis_settings.load_profile('loaded')
