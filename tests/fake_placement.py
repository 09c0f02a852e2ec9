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

"""The Placement GETs the scheduler's profile cache sends, over a dict.

Answers as Placement does (400 for a trait nobody has created, 404 for an
unknown provider) and records every URL, so tests and the scheduler
benchmark can count calls. It stands in for nova's report client, whose
``get`` it mimics; the real Placement is exercised by the functional tests.
"""

import collections
import urllib.parse

from migcompat_filter.placement import change_marker


class Response(object):
    def __init__(self, status, body):
        self.status_code = status
        self._body = body

    def json(self):
        return self._body


class FakePlacement(object):

    def __init__(self, provider_traits=None):
        self.urls = []
        self.fail = None  # an exception every get() raises, when set
        #: The change marker's generation (None: no marker, 404).
        self.marker = None
        self.traits = dict(provider_traits or {})
        #: The migcompat store: [(uuid, name, parent)] (add_records).
        self.store = []

    def add_records(self, records):
        """Publish schema-3 records (schema3.Record) in the store."""
        from migcompat_filter.traits import schema3
        have = {u for u, _n, _p in self.store}
        for rec in records:
            for provider in schema3.providers_of(rec):
                if provider[0] not in have:
                    have.add(provider[0])
                    self.store.append(provider)

    @property
    def traits(self):
        """Provider uuid -> set of trait names."""
        return self._traits

    @traits.setter
    def traits(self, provider_traits):
        self._traits = provider_traits
        self._by_trait = None

    def set(self, rp, names):
        self._traits[rp] = set(names)
        self._by_trait = None

    @property
    def calls(self):
        return len(self.urls)

    def _index(self):
        # Built once per change: the benchmark asks with 10,000 providers.
        if self._by_trait is None:
            self._by_trait = collections.defaultdict(list)
            for rp, names in sorted(self._traits.items()):
                for name in names:
                    self._by_trait[name].append(rp)
        return self._by_trait

    def _list(self, required, by_trait):
        # Placement's required= (1.39): repeated values all apply; each is
        # "in:A,B" (any of them) or "A,!B" (A and not B); 400 for a trait
        # that does not exist.
        found = None
        for value in required:
            names = value[3:].split(',') if value.startswith('in:') \
                else value.split(',')
            if any(n.lstrip('!') not in by_trait for n in names):
                return Response(400, {})
            if value.startswith('in:'):
                match = set().union(*(by_trait[n] for n in names))
            else:
                match = set(self._traits)
                for n in names:
                    if n.startswith('!'):
                        match -= set(by_trait[n[1:]])
                    else:
                        match &= set(by_trait[n])
            found = match if found is None else found & match
        return Response(200, {'resource_providers': [
            {'uuid': rp} for rp in sorted(found)]})

    def get(self, url, version=None, global_request_id=None):
        self.urls.append(url)
        if self.fail:
            raise self.fail
        parsed = urllib.parse.urlsplit(url)
        query = urllib.parse.parse_qs(parsed.query)
        by_trait = self._index()
        if parsed.path == '/traits':
            # associated=true: only traits some provider carries.
            prefix = query['name'][0].split(':', 1)[1]
            return Response(200, {'traits': sorted(
                t for t in by_trait if t.startswith(prefix))})
        if parsed.path == '/resource_providers' and 'member_of' in query:
            return Response(200, {'resource_providers': [
                {'uuid': u, 'name': n, 'parent_provider_uuid': p}
                for u, n, p in self.store]})
        if parsed.path == '/resource_providers':
            return self._list(query['required'], by_trait)
        rp = parsed.path.split('/')[2]
        if parsed.path == '/resource_providers/%s' % change_marker.UUID:
            if self.marker is None:
                return Response(404, {})
            return Response(200, {'uuid': rp, 'generation': self.marker,
                                  'name': change_marker.NAME})
        if rp not in self._traits:
            return Response(404, {})
        return Response(200, {'traits': sorted(self._traits[rp]),
                              'resource_provider_generation': 1})
