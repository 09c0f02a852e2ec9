"""A rolling-upgrade simulation: nova alone against nova with migcompat.

* :mod:`.migration_model`: what nova, libvirt and QEMU do with one live
  migration, written from their documentation, independent of the rules
  engine;
* :mod:`.core`: the fleet, the guests, the schedule of changes and the
  tally (``tools/simulate_rolling_upgrade.py`` runs it).
"""
