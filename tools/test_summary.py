#!/usr/bin/env python3
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
