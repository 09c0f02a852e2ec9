#!/usr/bin/env python3
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

"""Print the last stestr run as one line: "N passed, N failed, N skipped".

CI reads that closing line; the exit status is 1 when anything failed or
nothing ran, so a broken import that runs no test cannot pass.
"""

import subprocess
import sys

import subunit
import testtools


def main():
    stream = subprocess.run(['stestr', 'last', '--subunit'],
                            stdout=subprocess.PIPE, check=False).stdout
    case = subunit.ByteStreamToStreamResult(
        __import__('io').BytesIO(stream), non_subunit_name='stdout')
    counts = {'success': 0, 'fail': 0, 'skip': 0}
    other = []

    class Count(testtools.StreamResult):
        def status(self, test_id=None, test_status=None, **kwargs):
            if test_status in counts:
                counts[test_status] += 1
            elif test_status in ('xfail', 'uxsuccess'):
                counts['fail' if test_status == 'uxsuccess'
                       else 'success'] += 1
            elif test_status in ('exists', 'inprogress', None):
                pass
            else:
                other.append((test_id, test_status))

    result = Count()
    result.startTestRun()
    case.run(result)
    result.stopTestRun()
    failed = counts['fail'] + len(other)
    print('%d passed, %d failed, %d skipped'
          % (counts['success'], failed, counts['skip']))
    return 1 if failed or not counts['success'] else 0


if __name__ == '__main__':
    sys.exit(main())
