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

"""Where a host's libvirt-verification counts are published.

The counts (checked, agree, disagree, unchecked) are part of the host's
schema-3 ``note`` record under the key ``verify``: the reporter passes
``note={'verify': counts, ...}`` to :func:`reporter.sync
<migcompat_filter.placement.reporter.sync>`, and readers find them in
``host.note['verify']``. Hosts with the same counts share one note record,
so no name and no provider is unique to a host.
"""

KEYS = ('checked', 'agree', 'disagree', 'unchecked')
NOTE_KEY = 'verify'


def note_value(counts):
    """The note's ``verify`` value of counts, or None when there are none."""
    if not isinstance(counts, dict):
        return None
    try:
        return {k: int(counts[k]) for k in KEYS}
    except (KeyError, TypeError, ValueError):
        return None


def counts_of(host):
    """A host's published counts (its note's ``verify``), or None."""
    for note in (getattr(host, 'note', None),
                 getattr(getattr(host, 'profile', None), 'note', None)):
        if isinstance(note, dict) and isinstance(note.get(NOTE_KEY), dict):
            value = note[NOTE_KEY]
            if all(isinstance(value.get(k), int) and
                   not isinstance(value.get(k), bool) and value[k] >= 0
                   for k in KEYS):
                return {k: value[k] for k in KEYS}
    return None
