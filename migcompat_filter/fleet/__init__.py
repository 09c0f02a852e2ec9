"""The cloud as migcompat sees it: compute nodes, their profiles, and who
can receive live migrations from whom.

One module per concern, lowest first:

* :mod:`.nova_api`: the few nova API calls (hypervisors, servers,
  aggregates);
* :mod:`.inventory`: the compute nodes (:class:`~.inventory.Host`) read
  from Placement, named by nova when its API is reachable;
* :mod:`.matrix`: hosts with identical traits grouped, the group x group
  verdicts, and which hosts the scheduler filter would accept;
* :mod:`.baseline`: the EVC-style guest CPU every listed host can offer.

Display text lives with the commands (:mod:`migcompat_filter.cmd`).
"""

from migcompat_filter.exception import InputError


class NotFound(InputError):
    """No compute node, server or aggregate by that name."""
