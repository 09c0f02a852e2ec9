"""OpenStackClient plugin: ``openstack migcompat ...``."""
