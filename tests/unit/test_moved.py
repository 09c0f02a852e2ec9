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

"""The flat layout's import paths still work, with a DeprecationWarning
(what a script or a test harness written before the per-step folders
imports: nova's functional suite harness publishes with
``from migcompat_filter import placement, reporter, traits``).
"""

import importlib
import warnings

import testtools

import migcompat_filter
from migcompat_filter import moved
from migcompat_filter.placement import client
from migcompat_filter.placement import reporter
from migcompat_filter.traits import codec


class MovedPathsTest(testtools.TestCase):

    def _deprecated(self, func):
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter('always')
            got = func()
        self.assertEqual([DeprecationWarning],
                         [w.category for w in seen], seen)
        self.assertIn('moved to', str(seen[0].message))
        return got

    def test_a_harness_written_for_the_flat_layout_runs(self):
        def old_imports():
            from migcompat_filter import placement
            from migcompat_filter import reporter as old_reporter
            from migcompat_filter import traits
            return (placement.PlacementClient, old_reporter.sync,
                    traits.encode, traits.is_ours)
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            got = old_imports()
        self.assertEqual((client.PlacementClient, reporter.sync,
                          codec.encode, codec.is_ours), got)

    def test_each_old_module_is_the_new_one_with_a_warning(self):
        for old, new in sorted(moved.MODULES.items()):
            got = self._deprecated(lambda: getattr(migcompat_filter, old))
            self.assertIs(importlib.import_module(
                'migcompat_filter.' + new), got, old)

    def test_new_paths_warn_nothing(self):
        with warnings.catch_warnings():
            warnings.simplefilter('error')
            from migcompat_filter.placement import auth  # noqa: F401
            from migcompat_filter.traits import names  # noqa: F401
            importlib.import_module('migcompat_filter.host.reader')

    def test_a_name_that_never_existed_is_still_an_error(self):
        self.assertRaises(AttributeError, getattr, migcompat_filter,
                          'no_such_module')
        from migcompat_filter import placement
        self.assertRaises(AttributeError, getattr, placement, 'no_such')
        self.assertRaises(ImportError, importlib.import_module,
                          'migcompat_filter.no_such_module')

    def test_the_filter_module_reaches_the_shared_state(self):
        # Harnesses reset the process-wide state per test and trigger a
        # read through the module nova loads.
        from migcompat_filter.scheduler import migration_filter
        from migcompat_filter.scheduler import state
        shared = migration_filter.reset_shared(lambda: None,
                                               background=False)
        self.addCleanup(state.reset_shared)
        self.assertIs(shared, migration_filter.shared())
        self.assertIs(shared, state.shared())
