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

"""URLs given on the command line: checked before use, shown safely."""

import urllib.parse

from migcompat_filter import exception
from migcompat_filter import redaction


def check_url(option, url):
    """InputError (exit 2) naming option when url cannot be an HTTP
    endpoint; the message never shows the URL's userinfo.
    """
    shown = redaction.strip_userinfo(url)
    problem = None
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # raises ValueError for a port that is not a number
    except ValueError as e:
        problem = str(e)
    else:
        if parts.scheme not in ('http', 'https'):
            problem = 'not an http:// or https:// URL'
        elif not parts.hostname:
            problem = 'no host name'
        elif any(c.isspace() for c in url):
            problem = 'contains white space'
    if problem:
        raise exception.InputError('%s %s: %s' % (option, shown, problem))
    return url
