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

"""MigrationSimilarityWeigher: prefer destinations most like the source.

Enable it in nova-scheduler's nova.conf::

    [filter_scheduler]
    # a list option: one line, comma-separated, nova's default first
    weight_classes = nova.scheduler.weights.all_weighers,<see below>

with ``migcompat_filter.scheduler.all_weighers`` (or this class's path)
in place of ``<see below>``.

The rule: for a live migration of a host-passthrough guest, a host weighs
its similarity to the source (the rules engine's similarity(): the share
of factors identical to the source, 1.0 = identical in every factor but
the per-host ones such as the calibrated TSC frequency, unknown counts as
different), in [0, 1] and not normalised over the
candidates, times the multiplier: the aggregate metadata key
``migration_similarity_weight_multiplier`` of the host's aggregates, else
``[migcompat] similarity_weight_multiplier`` (default 1.0, as nova's own
weighers). A host-model guest only gets a tie-break
(:data:`HOST_MODEL_SHARE` of its similarity): any difference nova's own
weighers see wins over it. Custom-mode guests, other requests and hosts
without a profile weigh 0.
"""

from nova.scheduler import utils
from nova.scheduler import weights
from oslo_log import log as logging

from migcompat_filter import cpu_modes
from migcompat_filter.placement import hoststate
from migcompat_filter.rules import engine
from migcompat_filter.scheduler import migration_filter
from migcompat_filter.scheduler import state

LOG = logging.getLogger(__name__)

#: The aggregate metadata key that overrides the multiplier per host (as
#: nova's ram_weight_multiplier, cpu_weight_multiplier, ...).
AGGREGATE_KEY = 'migration_similarity_weight_multiplier'
#: The share of its similarity a host-model guest's destination weighs: a
#: tie-break only (a host-model guest sees the same CPU on any compatible
#: host, so resource spreading should decide).
HOST_MODEL_SHARE = 1e-6


class MigrationSimilarityWeigher(weights.BaseHostWeigher):
    """Live migration: weigh hosts by similarity to the source host, for
    host-passthrough guests in [0, 1], for host-model guests as a
    tie-break only, for custom-mode guests not at all.
    """

    # Fixed bounds: nova does not stretch the weights over the candidates,
    # so a 0.01 difference in similarity stays 0.01 next to nova's
    # weighers (RAM, CPU, soft-(anti-)affinity), not 1.
    minval = 0.0
    maxval = 1.0

    def weight_multiplier(self, host_state):
        return utils.get_weight_multiplier(
            host_state, AGGREGATE_KEY,
            migration_filter.conf().migcompat.similarity_weight_multiplier)

    def _weigh_object(self, host_state, weight_properties):
        # Only reached through weigh_objects below.
        return 0.0

    def weigh_objects(self, weighed_obj_list, weight_properties):
        zeros = [0.0] * len(weighed_obj_list)
        try:
            judgement = migration_filter.judgement_for(weight_properties)
            if judgement is None:
                return zeros
            share = _share(judgement)
            if not share:
                return zeros
            return self._similarities(judgement, weighed_obj_list, share)
        except Exception:
            LOG.exception('migcompat: weighing failed; all hosts weigh 0')
            return zeros

    @staticmethod
    def _similarities(judgement, weighed_obj_list, share):
        """share x similarity to the source of each host (0 unjudged)."""
        source = judgement.source
        cache = state.shared()
        # The filter already waited (if at all) for the first read.
        snapshot = cache.profiles.snapshot(wait=False)
        known = judgement.hosts
        out = []
        append = out.append
        memo = {}  # destination profile key -> weight
        for weighed in weighed_obj_list:
            uuid = weighed.obj.uuid
            hp = known.get(uuid) or snapshot.host(uuid)
            if hp is None or hp.state != hoststate.TRAITED:
                append(0.0)
                continue
            value = memo.get(hp.key)
            if value is None:
                value = memo[hp.key] = share * \
                    cache.similarities.get_or_compute(
                        (source.key, hp.key),
                        lambda: engine.similarity(source.profile,
                                                  hp.profile))
            append(value)
        if LOG.isEnabledFor(logging.DEBUG):  # 10,000 hosts: not for free
            LOG.debug('migcompat: weights by similarity to %s: %s',
                      judgement.migration.source_host,
                      {w.obj.host: s for w, s in zip(weighed_obj_list, out)})
        return out


def _share(judgement):
    """How much similarity counts for the guest's mode (1, tiny, 0)."""
    mode = judgement.mode
    if mode == cpu_modes.HOST_PASSTHROUGH:
        return 1.0
    if mode == cpu_modes.HOST_MODEL:
        return HOST_MODEL_SHARE
    return 0.0
