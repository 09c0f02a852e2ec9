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

"""What a host is, as far as its Placement traits tell: defined once.

The scheduler filter and the fleet commands both read a host from its
``CUSTOM_MIGCOMPAT_*`` traits and act on the same states, so both use
:func:`classify`.
"""

from migcompat_filter.traits import codec as traits_codec

PROFILE_PREFIX = traits_codec.PREFIX + 'PROFILE_'
SCHEMA_3 = traits_codec.SCHEMA_PREFIX + '3'

TRAITED = 'traited'            # has our traits, decoded into a Profile
UNTRAITED = 'untraited'        # has none of our traits
NEWER_SCHEMA = 'newer-schema'  # our traits, of a schema we cannot read
UNREADABLE = 'unreadable'      # our traits, but they do not decode
UNJUDGED = 'unjudged'          # Placement failed or the time ran out

#: The states of a host that cannot be judged.
NOT_JUDGED = (UNTRAITED, NEWER_SCHEMA, UNREADABLE, UNJUDGED)

_SCHEMA_STATE = {
    traits_codec.SCHEMA_OK: TRAITED,
    traits_codec.SCHEMA_NONE: UNTRAITED,
    traits_codec.SCHEMA_NEWER: NEWER_SCHEMA,
    traits_codec.SCHEMA_MISSING: UNREADABLE,
    traits_codec.SCHEMA_MIXED: UNREADABLE,
    traits_codec.SCHEMA_BROKEN: UNREADABLE,
}


class HostProfile(object):
    """A host's state and (when TRAITED) its profile and profile key;
    note: a schema-3 host's note record ({} when none).
    """

    __slots__ = ('state', 'profile', 'key', 'reason', 'problems', 'note')

    def __init__(self, state, profile=None, key=None, reason=None,
                 problems=(), note=None):
        self.state = state
        self.profile = profile
        self.key = key
        self.reason = reason
        self.problems = list(problems)
        self.note = note if note is not None else {}

    def __repr__(self):
        return 'HostProfile(%s, %s)' % (self.state, self.key)


def ours(trait_names):
    """Our trait names among trait_names, sorted."""
    return sorted(t for t in trait_names if traits_codec.is_ours(t))


def classify(trait_names, records=None, provider=None):
    """A host's trait names -> HostProfile (never raises).

    Every trait schema is read (1 and 2 of older reporters, 3); a
    provider carrying several schema traits is UNREADABLE ("mixed").
    Schema 3 is decoded with records (the migcompat store: digest ->
    schema3.Record/Invalid; by default those an Encoded list carries); a
    schema-3 host whose traits contradict themselves or point at no valid
    record is UNREADABLE, its reason naming the provider (``provider``,
    a label) and the traits. Its key is its PROFILE trait: the record's
    content is checked against that digest.

    The key is the digest of the profile traits themselves, so a stale or
    hand-set digest trait can never make two profiles share a key. Like
    the digest trait, it leaves out the per-host facts (the running
    guests; in schema 2 also the calibrated TSC frequency): hosts that
    differ only in those share a key, while the profile still holds each
    host's own values. So a cache that keeps one Profile per key must read
    a host's per-host facts from that host's own traits
    (traits.is_per_host tells them apart; grouping.without_per_host blanks
    them in a group's profile).
    """
    mine = [t for t in ours(trait_names)
            if not t.startswith(traits_codec.DIGEST_PREFIX)]
    if not mine:
        return HostProfile(UNTRAITED, reason='no %s* traits'
                           % traits_codec.PREFIX)
    if records is None:
        records = getattr(trait_names, 'records', None)
    if SCHEMA_3 in mine:  # a schema-2 digest beside it contradicts it
        mine = ours(trait_names)
    try:
        parsed = traits_codec.parse(mine, records)
    except Exception as e:  # decoding promises not to raise; be safe
        return HostProfile(UNREADABLE, reason='cannot decode: %s' % e)
    state = _SCHEMA_STATE[parsed.schema]
    if parsed.version == 3 and state == TRAITED:
        return HostProfile(TRAITED, profile=parsed.profile, key=next(
            t for t in mine if t.startswith(PROFILE_PREFIX)),
            problems=parsed.problems, note=parsed.note)
    if parsed.schema == traits_codec.SCHEMA_BROKEN:
        return HostProfile(state, reason='provider %s (%s): %s' % (
            provider or '?', ' '.join(mine), parsed.reason),
            problems=parsed.problems)
    if state != TRAITED:
        why = '; '.join(str(p) for p in parsed.problems
                        if p.trait == traits_codec.PREFIX +
                        traits_codec.SCHEMA_CODE) or 'no usable schema trait'
        if provider and parsed.schema in (traits_codec.SCHEMA_MIXED,
                                          traits_codec.SCHEMA_MISSING):
            why = 'provider %s (%s): %s' % (provider, ' '.join(mine), why)
        return HostProfile(state, reason=why, problems=parsed.problems)
    return HostProfile(TRAITED, profile=parsed.profile,
                       key=traits_codec.digest_trait(mine),
                       problems=parsed.problems)
