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

"""The filter's log lines: how a host is named, and the summary of what a
request refused and could not judge (one INFO line per request).
"""

from migcompat_filter.placement import hoststate

#: The most refused hosts the INFO line names.
REFUSED_SHOWN = 50


def host_name(host_state):
    if host_state.nodename and host_state.nodename != host_state.host:
        return '%s/%s' % (host_state.host, host_state.nodename)
    return host_state.host


def refused_text(refused):
    if not refused:
        return ''
    return ': ' + ', '.join(
        '%s (%s)' % (host_name(h), why)
        for h, why in refused[:REFUSED_SHOWN]) + (
        ' ...' if len(refused) > REFUSED_SHOWN else '')


def extra(counts, failure):
    parts = ['%d %s' % (counts[state], state)
             for state in hoststate.NOT_JUDGED if counts.get(state)]
    if failure is not None:
        parts.append('Placement: %s' % failure)
    return ' [%s]' % '; '.join(parts) if parts else ''
