"""The one option group every migcompat option lives in: ``[migcompat]``.

Its own module so that the option modules (policy, reporter, scheduler)
share one OptGroup object without importing their package.
"""

from oslo_config import cfg

GROUP = cfg.OptGroup(
    'migcompat',
    title='Live-migration compatibility',
    help='Options of the migcompat live-migration compatibility policy, '
         'reporter and nova scheduler filter.')
