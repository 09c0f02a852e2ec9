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

"""What every migcompat trait name shares, whatever its schema.

The prefix, the schema and digest traits, what a name may look like, and
the result types of decoding (:class:`Parsed`, :class:`TraitProblem`).
"""

import collections
import re

PREFIX = 'CUSTOM_MIGCOMPAT_'
SCHEMA_CODE = 'SCHEMA'
UNKNOWN_CODE = 'UNKNOWN'
#: One trait naming the whole profile: CUSTOM_MIGCOMPAT_DIGEST_<sha256>.
#: Hosts with the same profile carry the same digest, so the scheduler's
#: cache finds every host of a profile with one Placement query and reads
#: each distinct profile once (see migcompat_filter.placement.grouping).
DIGEST_CODE = 'DIGEST'
DIGEST_PREFIX = PREFIX + DIGEST_CODE + '_'
SCHEMA_PREFIX = PREFIX + SCHEMA_CODE + '_'
DIGEST_LENGTH = 40
#: Placement's limit; schema 1 used all of it.
MAX_TRAIT_LENGTH = 255

NAME_RE = re.compile(r'^CUSTOM_[A-Z0-9_]+$')

#: What a host's schema trait says (Parsed.schema).
SCHEMA_OK = 'ok'            # one schema trait, one this codec reads
SCHEMA_MISSING = 'missing'  # traits of ours but no (valid) schema trait
SCHEMA_NEWER = 'newer'      # written by a newer migcompat
SCHEMA_MIXED = 'mixed'      # several schema traits
SCHEMA_NONE = 'none'        # no trait of ours at all
#: schema 3: traits that contradict themselves, or point at no valid record
SCHEMA_BROKEN = 'broken'


class Parsed(collections.namedtuple('Parsed', 'profile problems')):
    """What parsing returns: unpacks as (profile, problems).

    ``schema`` is one of the SCHEMA_* statuses, so callers need not read
    problem texts to tell a newer schema from a broken one; ``version``
    is the schema the traits were read with (None when not read).
    """

    def __new__(cls, profile, problems, schema=SCHEMA_OK, version=None):
        self = super(Parsed, cls).__new__(cls, profile, problems)
        self.schema = schema
        self.version = version
        #: schema 3: the host's note (a dict; {} for older schemas)
        self.note = {}
        return self


class TraitProblem(object):
    """A trait of ours that could not be decoded, and why."""

    def __init__(self, trait, message, factor=None):
        self.trait = trait
        self.message = message
        self.factor = factor

    def __str__(self):
        return '%s: %s' % (self.trait, self.message)

    __repr__ = __str__


def is_ours(trait):
    return trait.startswith(PREFIX)


def is_valid_name(trait):
    """True for a name Placement accepts as a custom trait."""
    return bool(NAME_RE.match(trait)) and len(trait) <= MAX_TRAIT_LENGTH


def schema_trait(version):
    return '%s%d' % (SCHEMA_PREFIX, version)
