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

"""Rules about the source host's running guests as a whole."""

from migcompat_filter.rules.base import Rule
from migcompat_filter.rules.verdict import BLOCK
from migcompat_filter.rules.verdict import Finding

#: How many of the recorded reasons a finding quotes.
_QUOTED = 2


class UnjudgedGuestsRule(Rule):
    """A running guest of the source whose domain XML could not be read
    (an impossible number such as a TSC of 10^30 Hz or 65 address bits,
    a document that is not XML, ...) is *unjudged*: what it needs from a
    destination is not known, so no destination can be shown to suit it.
    A move judged from the source's running guests then blocks, in every
    mode and whatever ``unknown_action`` says: garbage must never pass
    where a plausible value would be refused. The readable guests still
    count. One guest judged by its own domain XML (``profile compare
    --guest``) is exact and does not depend on the others.
    """

    factor = 'running_guests'

    def check(self, ctx):
        if ctx.guest.exact:
            return []
        running = ctx.source[self.factor]
        if not isinstance(running, dict) or 'unjudged' not in running:
            return []
        count, reasons = _read(running['unjudged'])
        shown = '; '.join(reasons[:_QUOTED])
        if len(reasons) > _QUOTED or (
                isinstance(count, int) and count > _QUOTED):
            shown += '; ...'

        # The destination's guests do not matter: None, not its value.
        return [Finding(
            self.factor, BLOCK, running['unjudged'], None,
            '%s running guest(s) of the source cannot be judged (%s): '
            'what they need of a destination is not known' % (count, shown),
            'fix or remove the named domain XML (libvirt never writes such '
            'a value), or judge one guest alone with "migcompat profile '
            'compare SOURCE DEST --guest GUEST.xml"')]


def _read(unjudged):
    """(count, [reason]) of an ``unjudged`` value; a malformed one (a
    hand-edited or damaged record) still says that some guest is
    unjudged.
    """
    if not isinstance(unjudged, dict):
        return '?', ['its record is malformed (%s)'
                     % type(unjudged).__name__]
    count = unjudged.get('count')
    reasons = unjudged.get('reasons')
    reasons = ([str(r)[:300] for r in reasons]
               if isinstance(reasons, list) else [])
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        count = '?'
    # Placement's records keep no reasons (they name the guests' files).
    return count, reasons or ['"migcompat guest list" on the source names '
                              'them']
