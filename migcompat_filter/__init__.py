"""migcompat: live-migration compatibility for OpenStack nova."""
