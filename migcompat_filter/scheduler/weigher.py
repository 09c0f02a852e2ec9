"""MigrationSimilarityWeigher: prefer destinations most like the source.

Enable it in nova-scheduler's nova.conf::

    [filter_scheduler]
    # a list option: one line, comma-separated, nova's default first
    weight_classes = nova.scheduler.weights.all_weighers,<see below>

with ``migcompat_filter.scheduler.all_weighers`` (or this class's path)
in place of ``<see below>``.

The rule: for a live migration, a host weighs the share of factors it has
identical to the source (the rules engine's similarity(): 1.0 = identical
in every factor, unknown counts as different), normalised by nova over the
candidates (most similar 1, least 0), times
``[migcompat] similarity_weight_multiplier``. Host-passthrough guests thus
go to identical hosts when there are any. Other requests, and hosts
without a profile, weigh 0.
"""

from nova.scheduler import weights
from oslo_log import log as logging

from migcompat_filter import hoststate
from migcompat_filter.rules import engine
from migcompat_filter.scheduler import migration_filter

LOG = logging.getLogger(__name__)


class MigrationSimilarityWeigher(weights.BaseHostWeigher):
    """Live migration: weigh hosts by similarity to the source host."""

    # No fixed bounds: nova normalises the weights over the candidates, so
    # the most similar candidate weighs 1 and the least 0, however close
    # their raw similarities are.

    def weight_multiplier(self, host_state):
        return migration_filter.conf().migcompat.similarity_weight_multiplier

    def _weigh_object(self, host_state, weight_properties):
        # Only reached through weigh_objects below.
        return 0.0

    def weigh_objects(self, weighed_obj_list, weight_properties):
        zeros = [0.0] * len(weighed_obj_list)
        try:
            judgement = migration_filter.judgement_for(weight_properties)
            if judgement is None:
                return zeros
            return self._similarities(judgement, weighed_obj_list)
        except Exception:
            LOG.exception('migcompat: weighing failed; all hosts weigh 0')
            return zeros

    @staticmethod
    def _similarities(judgement, weighed_obj_list):
        source = judgement.source
        cache = migration_filter.shared()
        out = []
        memo = {}  # destination profile key -> similarity
        for weighed in weighed_obj_list:
            uuid = weighed.obj.uuid
            hp = judgement.hosts.get(uuid) or cache.profiles.cached(uuid)
            if hp is None or hp.state != hoststate.TRAITED:
                out.append(0.0)
                continue
            value = memo.get(hp.key)
            if value is None:
                value = memo[hp.key] = cache.similarities.get_or_compute(
                    (source.key, hp.key),
                    lambda: engine.similarity(source.profile, hp.profile))
            out.append(value)
        LOG.debug('migcompat: similarity to %s: %s',
                  judgement.migration.source_host,
                  {w.obj.host: s for w, s in zip(weighed_obj_list, out)})
        return out
