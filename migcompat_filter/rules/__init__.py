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

"""Live-migration compatibility rules.

``evaluate(source, destination, mode, policy, guest=...)`` judges the
live migration of a guest (a :class:`GuestCPU`: what is known of it, else
the source profile stands in) from one host profile to another and returns
a :class:`Verdict` (compatible, findings with reasons and hints);
``similarity(source, destination)``
scores how alike two hosts are for the scheduler weigher. Both are pure
functions of profiles, however they were read.
"""

from migcompat_filter.rules.engine import choose_mode  # noqa: F401
from migcompat_filter.rules.engine import evaluate  # noqa: F401
from migcompat_filter.rules.engine import similarity  # noqa: F401
from migcompat_filter.rules.guest_cpu import GuestCPU  # noqa: F401
from migcompat_filter.rules.verdict import BLOCK  # noqa: F401
from migcompat_filter.rules.verdict import Finding  # noqa: F401
from migcompat_filter.rules.verdict import INFO  # noqa: F401
from migcompat_filter.rules.verdict import SEVERITIES  # noqa: F401
from migcompat_filter.rules.verdict import Verdict  # noqa: F401
from migcompat_filter.rules.verdict import WARN  # noqa: F401
