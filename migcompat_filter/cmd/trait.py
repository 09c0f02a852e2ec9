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

"""``migcompat trait prune``: delete the trait names nobody uses any more."""

import datetime

from cliff import lister

from migcompat_filter.cmd import common

#: What happened to each name (the "result" column).
DELETED = 'deleted'
WOULD_DELETE = 'would delete'
IN_USE = 'in use, kept'
GONE = 'already gone'
RECENT = 'new, kept'
#: A record younger than this may be one a reporter has written and not
#: yet named in its host's traits (a report's deadline is far shorter).
RECORD_GRACE = 3600


class TraitPrune(common.FleetCommand, lister.Lister):
    """Delete our trait names and store records that nothing uses.

    The CUSTOM_MIGCOMPAT_* trait names no resource provider has, and the
    migcompat store's records no host points at.

    Every new microcode, kernel or feature combination a host reports
    creates trait names (schema 3: a profile record in the migcompat
    store, and a few names); Placement keeps them after no provider has
    them any more. This first deletes the store's records whose digest
    no provider's traits name (each record is a root provider and its
    parts, all in the store's aggregate), then asks Placement for the
    names of ours that no provider has (GET /traits?associated=false, by
    name prefix: after an upgrade, the old schema-1/2 names) and deletes
    each. A name a provider got in the meantime is refused by Placement
    (409) and kept: it is listed as "in use, kept", not an error. No
    other trait or provider is ever touched. With --dry-run, only lists.
    A record changed in the last hour (--min-age) is kept ("new, kept"):
    a reporter may have written it and not yet named it in its host's
    traits.
    """

    empty_message = None

    def get_parser(self, prog_name):
        parser = super(TraitPrune, self).get_parser(prog_name)
        parser.add_argument(
            '--dry-run', action='store_true',
            help='List the names that would be deleted; delete nothing.')
        parser.add_argument(
            '--min-age', type=_seconds, default=RECORD_GRACE,
            metavar='SECONDS',
            help='Keep store records changed less than SECONDS ago (default '
                 '%d): a reporter may have written one and not yet named '
                 'it in its host\'s traits.' % RECORD_GRACE)
        if common.osc_client(self.app) is None:
            common.add_placement_arguments(
                parser.add_argument_group('cloud connection'))
        return parser

    def take_action(self, parsed_args):
        from migcompat_filter.placement import client as placement
        from migcompat_filter.traits import codec as traits
        client = self._client(parsed_args)
        rows = self._records(client, parsed_args.dry_run,
                             parsed_args.min_age)
        for name in client.list_unused_traits(traits.PREFIX):
            if not traits.is_ours(name):
                continue  # a placement ignoring the filter: not ours
            if parsed_args.dry_run:
                rows.append((name, WOULD_DELETE))
                continue
            try:
                rows.append((name, DELETED if client.delete_trait(name)
                             else GONE))
            except placement.Conflict:
                rows.append((name, IN_USE))
        self.app.stderr.write(_summary(rows, parsed_args.dry_run) + '\n')
        return ('name', 'result'), rows

    def _records(self, client, dry_run, min_age):
        """Delete (or, dry, list) the store's unreferenced records; rows."""
        from migcompat_filter.placement import store
        from migcompat_filter.placement import store_writes
        from migcompat_filter.traits import codec as traits
        body = client.get_json('/traits?associated=true&name=startswith:%s'
                               % traits.PREFIX, 'list the traits in use')
        from migcompat_filter.placement import client as placement
        used = body.get('traits')
        if not isinstance(used, list):
            raise placement.PlacementError(
                'placement listed the traits in use without a "traits" '
                'list; nothing deleted')
        st = store.read(store.client_get(client))
        by_record = {}
        for rp in store.unreferenced(st, store.referenced_by(
                [t for t in used if isinstance(t, str)])):
            by_record.setdefault(_record_label(rp[1]), []).append(rp)
        rows = []
        now = datetime.datetime.now(datetime.timezone.utc)
        for label, rps in sorted(by_record.items()):
            roots = [rp[0] for rp in rps if store.schema3.is_root_name(rp[1])]
            stamp = client.provider_updated(roots[0]) if roots else None
            if stamp is not None and \
                    (now - stamp).total_seconds() < min_age:
                rows.append((label, RECENT))
                continue
            if dry_run:
                rows.append((label, WOULD_DELETE))
                continue
            deleted = store_writes.delete(client, rps)
            rows.append((label, DELETED if deleted else GONE))
        return rows

    def _client(self, parsed_args):
        from migcompat_filter.placement import client as placement
        if common.osc_client(self.app) is not None:
            return placement.PlacementClient(
                self.app.client_manager.migcompat.placement)
        return placement.PlacementClient(common.placement_adapter(
            self.conf(), parsed_args.os_cloud, parsed_args.placement_url,
            os_env=True))


def _seconds(text):
    import argparse
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 10 ** 8:
        raise argparse.ArgumentTypeError(
            '%r: must be a whole number of seconds, 0 or more' % text)
    return value


def _record_label(name):
    """'store record <digest>' for a store provider's name."""
    from migcompat_filter.placement import store
    digest = store.digest_of_name(name)
    return 'store record %s' % digest if digest else 'store provider %s' % (
        name[:80])


def _summary(rows, dry_run):
    counts = {}
    for _, result in rows:
        counts[result] = counts.get(result, 0) + 1
    if not rows:
        return 'no unused CUSTOM_MIGCOMPAT_* trait names'
    if dry_run:
        return ('dry run: %d unused CUSTOM_MIGCOMPAT_* trait names and store '
                'records would be deleted' % len(rows))
    return ', '.join('%d %s' % (counts[r], r)
                     for r in (DELETED, IN_USE, GONE, RECENT) if r in counts)
