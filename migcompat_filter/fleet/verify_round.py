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

"""The reporter's verification round: the fleet's guest CPUs against this
host's libvirt, the counts published.

One round: when the fleet's trait names of ours (one request) or this
host's profile changed since the last round, read the fleet's guest CPUs
from Placement (the grouped read the fleet commands use), and when they
changed too, judge each with migcompat's rules and with libvirt
(:mod:`migcompat_filter.fleet.verify`), publish the counts, and log each
disagreement at WARNING once per guest CPU and host change, with both
answers. The round keeps to a time budget: guest CPUs not reached in time
count as unchecked and the round is not remembered, so the next report
does it again. A small JSON state file remembers the last round.
"""

import hashlib
import json
import logging
import os
import tempfile
import time

from migcompat_filter.fleet import inventory
from migcompat_filter.fleet import verify
from migcompat_filter.host import expansion_cache
from migcompat_filter.host import verify as lv
from migcompat_filter.profile import to_jsonable
from migcompat_filter.traits import names as traits_names

LOG = logging.getLogger(__name__)
STATE_NAME = 'verify-state.json'
#: GET /traits?associated= (placement microversion 1.6).
TRAITS_VERSION = '1.6'
_VERSION = 1


def state_path(configured):
    """The state file: configured, else in the cache dir, else None."""
    if configured:
        return configured
    base = expansion_cache.cache_dir()
    return os.path.join(base, STATE_NAME) if base else None


def _load(path):
    if not path:
        return {}
    try:
        with open(path, encoding='utf-8') as f:
            state = json.load(f)
    except (OSError, ValueError):
        return {}
    if not isinstance(state, dict) or state.get('version') != _VERSION:
        return {}
    return state


def _save(path, state):
    if not path:
        return
    state = dict(state, version=_VERSION)
    try:
        folder = os.path.dirname(os.path.abspath(path))
        os.makedirs(folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix='.verify-')
        with os.fdopen(fd, 'w', encoding='utf-8') as f:
            json.dump(state, f, sort_keys=True)
        os.replace(tmp, path)
    except OSError as e:
        LOG.warning('cannot remember the verification round in %s: %s',
                    path, e)


def _digest(*parts):
    return hashlib.sha256(json.dumps(parts, sort_keys=True,
                                     default=str).encode()).hexdigest()[:32]


class Round(object):
    """One reporter's verification rounds (keeps nothing but the path).

    ``host_key`` identifies this host's profile (the reporter passes its
    wanted traits); with the fleet's guest CPUs it decides whether a round
    has anything new. A disagreement is logged once per guest CPU and
    this host's CPU part (host-model CPU, usable models, vendor, arch), so
    guests starting and stopping here do not repeat it. ``open_host(uri)``
    returns a :class:`verify.LocalHost` (tests pass their own).
    """

    def __init__(self, uri, state_file, budget, open_host=None,
                 clock=time.monotonic):
        self.uri = uri
        self.path = state_path(state_file)
        self.budget = budget
        self.open_host = open_host or verify.LocalHost
        self.clock = clock
        #: What the last run did: 'skipped', 'verified', 'partial'.
        self.last = None
        self.rows = []

    def run(self, client, rp_uuid, host_key):
        """Verify and publish; returns the counts published (or kept).

        PlacementError and libvirt failures propagate: the caller logs
        them and the next report retries.
        """
        start = self.clock()
        before = client.deadline
        client.set_budget(self.budget)
        try:
            return self._run(client, rp_uuid, host_key, start)
        finally:
            client.deadline = before

    def _run(self, client, rp_uuid, host_key, start):
        state = _load(self.path)
        # One request tells whether the fleet may have changed: the trait
        # names of ours that some provider carries (a new or gone profile
        # changes them). Unchanged, with this host unchanged: skip.
        names = client.get_json(
            '/traits?associated=true&name=startswith:%s'
            % traits_names.PREFIX, 'list the fleet\'s trait names',
            microversion=TRAITS_VERSION).get('traits')
        # Hosts' notes (which carry these very counts) and TSC buckets say
        # nothing about the fleet's guest CPUs.
        notes = (traits_names.PREFIX + 'NOTE_', traits_names.PREFIX + 'TSC')
        quick = _digest(host_key, sorted(
            n for n in names or () if not str(n).startswith(notes)))
        if self._unchanged(state, rp_uuid, 'quick', quick):
            return state.get('counts')
        hosts = inventory.Fleet(client, None).load()
        cases = verify.distinct(verify.cases_from_hosts(hosts))
        key = _digest(host_key, sorted(c.key() for c in cases))
        if self._unchanged(state, rp_uuid, 'key', key):
            state['quick'] = quick
            _save(self.path, state)
            return state.get('counts')
        host = self.open_host(self.uri)
        try:
            rows = self._judge(host, cases, start)
            # "This host" for the warnings: its CPU as a destination (not
            # its running guests, which come and go).
            dest_key = _digest({f: to_jsonable(host.profile[f])
                                for f in verify.CPU_FACTORS + ('arch',)})
        finally:
            host.close()
        counts = verify.counts(rows)
        warned = set(state.get('warned') or ()) if \
            state.get('host_key') == dest_key else set()
        for row in rows:
            if row.agree is False:
                mark = _digest(dest_key, row.case.key())
                if mark not in warned:
                    warned.add(mark)
                    LOG.warning(
                        'migcompat and libvirt disagree on guest CPU %s '
                        '(from %s) on this host: migcompat says %s, libvirt '
                        'says %s; %s', row.case.label, row.case.source,
                        row.ours, row.answer.verdict, row.detail())
        complete = self.last == 'verified'
        _save(self.path, {'key': key if complete else None,
                          'quick': quick if complete else None,
                          'published': rp_uuid, 'counts': counts,
                          'host_key': dest_key, 'warned': sorted(warned)})
        self.rows = rows
        return counts

    def _unchanged(self, state, rp_uuid, field, value):
        if state.get(field) == value and state.get('published') == rp_uuid:
            self.last, self.rows = 'skipped', []
            return True
        return False

    def _judge(self, host, cases, start):
        """Rows of the cases reached within the budget; the rest are
        unchecked ("time ran out").
        """
        rows, self.last = [], 'verified'
        for i, case in enumerate(cases):
            if self.clock() - start > self.budget:
                self.last = 'partial'
                why = ('not checked: the verification round ran out of its '
                       '%g s budget (verify_budget)' % self.budget)
                rows.extend(verify.Row(c, lv.UNCHECKED, why,
                                       lv.unchecked(why))
                            for c in cases[i:])
                break
            rows.extend(host.verify([case]))
        return rows
