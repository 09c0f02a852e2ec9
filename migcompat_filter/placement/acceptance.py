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

"""Would the filter accept this host for this guest: answered once.

The scheduler's filter, ``fleet matrix`` (``matrix.accepts``), ``host
drain`` and ``server check`` all decide through :func:`decide`, so what
the CLI predicts is what the scheduler does. The rule, in order:

1. A source that cannot be judged (no traits, a newer schema, traits that
   do not decode) gets ``untraited_source_action`` for every destination;
   a source Placement could not tell about (failure, time budget) gets
   ``placement_error_action``.
2. A destination that cannot be judged gets the action its state names in
   :data:`ACTION_OPTIONS`.
3. Any other destination is accepted when the rules engine's verdict for
   the guest is compatible (no finding blocks).

Pure: no I/O, no option reading (the caller hands in :class:`Actions`) and
no rules engine of its own (the caller hands in how to get a verdict, so
the scheduler can use its verdict cache and the CLI the engine directly).
"""

import collections

from migcompat_filter.conf.scheduler import PASS
from migcompat_filter.placement import hoststate

#: The [migcompat] option that decides about a destination the filter
#: cannot judge, by the destination's state.
ACTION_OPTIONS = {
    hoststate.UNTRAITED: 'untraited_host_action',
    hoststate.NEWER_SCHEMA: 'newer_schema_action',
    # Traits of ours that do not decode: as unreadable as a newer schema.
    hoststate.UNREADABLE: 'newer_schema_action',
    hoststate.UNJUDGED: 'placement_error_action',
}
#: The option that decides about every destination when the source cannot
#: be judged: Placement failing on it, else its traits being unusable.
SOURCE_PLACEMENT_OPTION = 'placement_error_action'
SOURCE_OPTION = 'untraited_source_action'

#: Where a decision came from (Decision.by).
BY_SOURCE = 'source'
BY_STATE = 'state'
BY_VERDICT = 'verdict'


class Decision(collections.namedtuple(
        'Decision', 'accepted by state action option verdict')):
    """One destination's answer.

    accepted: bool; by: BY_SOURCE, BY_STATE or BY_VERDICT; state: the
    state of the host that decided (the source's for BY_SOURCE); action
    and option: the configured action and its option name (None for
    BY_VERDICT); verdict: the rules engine's Verdict (BY_VERDICT only).
    """


class Actions(object):
    """The filter's configured actions for what it cannot judge: the
    [migcompat] *_action options (all default to 'pass').
    """

    OPTIONS = tuple(sorted(set(ACTION_OPTIONS.values()) |
                           {SOURCE_OPTION, SOURCE_PLACEMENT_OPTION}))

    def __init__(self, **actions):
        unknown = set(actions) - set(self.OPTIONS)
        if unknown:
            raise TypeError('no such action option: %s'
                            % ', '.join(sorted(unknown)))
        self._by_option = dict.fromkeys(self.OPTIONS, PASS)
        self._by_option.update(actions)

    @classmethod
    def from_options(cls, options):
        """From the [migcompat] group of a ConfigOpts (or any object with
        those attributes).
        """
        return cls(**{name: getattr(options, name) for name in cls.OPTIONS})

    def option(self, name):
        return self._by_option[name]

    def key(self):
        return tuple(sorted(self._by_option.items()))


def source_option(state):
    """The option deciding every destination for a source in state."""
    if state == hoststate.UNJUDGED:
        return SOURCE_PLACEMENT_OPTION
    return SOURCE_OPTION


def for_source(source_state, actions):
    """The Decision for every destination of a source that cannot be
    judged, or None when the source is TRAITED (judge each destination).
    """
    if source_state == hoststate.TRAITED:
        return None
    option = source_option(source_state)
    action = actions.option(option)
    return Decision(action == PASS, BY_SOURCE, source_state, action, option,
                    None)


def for_state(state, actions):
    """The Decision for a destination in a state that cannot be judged."""
    option = ACTION_OPTIONS[state]
    action = actions.option(option)
    return Decision(action == PASS, BY_STATE, state, action, option, None)


def decide(source_state, destination_state, actions, verdict):
    """The Decision for one destination.

    source_state, destination_state: hoststate states; verdict: a callable
    returning the rules engine's Verdict for the guest and this
    destination, called only when both are TRAITED.
    """
    decision = for_source(source_state, actions)
    if decision is not None:
        return decision
    if destination_state != hoststate.TRAITED:
        return for_state(destination_state, actions)
    found = verdict()
    return Decision(found.compatible, BY_VERDICT, hoststate.TRAITED, None,
                    None, found)
