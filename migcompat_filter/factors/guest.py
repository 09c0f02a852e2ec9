"""Guest CPU mode factors: nova-compute's [libvirt] cpu_mode / cpu_models.

The host source reads them (``host.nova_cpu_mode()``,
``host.nova_cpu_models()``): the live host from nova's config file, a
snapshot from the nova/cpu_mode and nova/cpu_models files that
``migcompat snapshot`` writes (never nova.conf itself). See
migcompat_filter.nova_cpu_options.
"""

from migcompat_filter.factors import base


class CpuModeFactor(base.Factor):
    def read(self, host):
        return host.nova_cpu_mode()


class CpuModelsFactor(base.Factor):
    def read(self, host):
        return host.nova_cpu_models()
