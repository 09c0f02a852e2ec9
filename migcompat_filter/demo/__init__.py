"""The whole flow on one machine, with no cloud: ``migcompat demo``.

1. An in-process Placement on a private sqlite database
   (``placement.direct.PlacementDirect``, from openstack-placement).
2. A fleet: real host profiles bundled in ``migcompat_filter/demo/data``
   (see ``tools/make_demo_fleet.py``) plus this machine's own live profile
   (whatever cannot be read, e.g. with libvirt down, is shown unknown).
3. The reporter (``reporter.sync``, what ``migcompat report`` runs)
   publishing every host's traits on its resource provider.
4. nova's own scheduler code (``HostManager.get_filtered_hosts`` and
   ``get_weighed_hosts``) with nova's default filters and weighers plus
   MigrationCompatibilityFilter and MigrationSimilarityWeigher, choosing a
   live-migration target for a guest on each host, in each guest CPU mode.

What is not real: nova's database. The filter asks it one question per
request (is this instance live-migrating, and from which compute node);
the demo answers it from its own fleet instead. Everything the filter and
weigher decide comes from the traits they read back from Placement.

The modules: :mod:`.hosts` (the bundled fleet and this machine),
:mod:`.embedded` (the in-process Placement), :mod:`.offline` (nova's
HostManager, HostStates and RequestSpecs without nova's database) and
:mod:`.runner` (the run itself). Besides migcompat_filter.scheduler, this
package is the only part of migcompat that imports nova; it does so inside
functions, so that loading the CLI stays fast.
"""
