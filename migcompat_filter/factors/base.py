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

"""The factor plugin API.

A factor is one thing about a hypervisor host that can make a live
migration fail (see doc/source/factors.rst). Each factor is a small class
registered as a stevedore extension in the ``migcompat.factors`` entry-point
namespace, so a third party adds a factor (say, a GPU driver version) with
an entry point of its own and no change to migcompat::

    [entry_points]
    migcompat.factors =
        gpu_driver = mypkg.factors:GpuDriverFactor

Its catalogue row (migcompat_filter.factors.catalogue, or a row of its own
in the ``migcompat.catalogue`` namespace) describes it: description,
schema, trait code, snapshot files.

``read(host)`` gets a :class:`migcompat_filter.host.source.HostSource` (the
live host or an offline snapshot: the same code serves both) and returns a
JSON-able value, or raises :class:`FactorUnknown` with a reason an operator
can act on. Any other exception is a bug in the factor; the profile reader
still reports it as unknown (with the exception) rather than crash.
"""

import abc

from migcompat_filter import bounds
from migcompat_filter.exception import FactorUnknown  # noqa: F401
from migcompat_filter.factors import catalogue


class Factor(metaclass=abc.ABCMeta):
    #: The profile key. Defaults to the entry point name.
    name = None

    @property
    def description(self):
        """One line for ``migcompat factor list``: the catalogue row's."""
        row = catalogue.get(self.name)
        return row.description if row else ''

    @abc.abstractmethod
    def read(self, host):
        """Return the factor's value on ``host`` or raise FactorUnknown."""


def bounded_int(text, what, low=None, high=None, base_=10, kind=None):
    """int(text) within [low, high] (None: open) or kind's range
    (migcompat_filter.bounds, the one range check), else FactorUnknown.

    ``what`` names the file and the field ("libvirt/capabilities.xml: TSC
    frequency"), so the reason says where the impossible value was read.
    ``base_=0``: decimal or 0x hex.
    """
    try:
        return bounds.parse_int(text, what, kind=kind, low=low, high=high,
                                hex_ok=base_ in (0, 16))
    except bounds.OutOfRange as e:
        raise FactorUnknown(str(e)) from None
