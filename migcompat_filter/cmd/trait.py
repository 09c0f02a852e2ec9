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

from cliff import lister

from migcompat_filter.cmd import common

#: What happened to each name (the "result" column).
DELETED = 'deleted'
WOULD_DELETE = 'would delete'
IN_USE = 'in use, kept'
GONE = 'already gone'


class TraitPrune(common.FleetCommand, lister.Lister):
    """Delete the CUSTOM_MIGCOMPAT_* trait names no resource provider has.

    Every new microcode, kernel or feature combination a host reports
    creates trait names; Placement keeps them after no provider has them
    any more. This asks Placement for the names of ours that no provider
    has (GET /traits?associated=false, by name prefix) and deletes each.
    A name a provider got in the meantime is refused by Placement (409)
    and kept: it is listed as "in use, kept", not an error. No other
    trait is ever touched. With --dry-run, only lists.
    """

    empty_message = None

    def get_parser(self, prog_name):
        parser = super(TraitPrune, self).get_parser(prog_name)
        parser.add_argument(
            '--dry-run', action='store_true',
            help='List the names that would be deleted; delete nothing.')
        if common.osc_client(self.app) is None:
            common.add_placement_arguments(
                parser.add_argument_group('cloud connection'))
        return parser

    def take_action(self, parsed_args):
        from migcompat_filter.placement import client as placement
        from migcompat_filter.traits import codec as traits
        client = self._client(parsed_args)
        rows = []
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

    def _client(self, parsed_args):
        from migcompat_filter.placement import client as placement
        if common.osc_client(self.app) is not None:
            return placement.PlacementClient(
                self.app.client_manager.migcompat.placement)
        return placement.PlacementClient(common.placement_adapter(
            self.conf(), parsed_args.os_cloud, parsed_args.placement_url,
            os_env=True))


def _summary(rows, dry_run):
    counts = {}
    for _, result in rows:
        counts[result] = counts.get(result, 0) + 1
    if not rows:
        return 'no unused CUSTOM_MIGCOMPAT_* trait names'
    if dry_run:
        return ('dry run: %d unused CUSTOM_MIGCOMPAT_* trait names would be '
                'deleted' % len(rows))
    return ', '.join('%d %s' % (counts[r], r)
                     for r in (DELETED, IN_USE, GONE) if r in counts)
