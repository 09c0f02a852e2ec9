"""The migcompat CLI: one cliff command per verb."""


class FastEpilog(object):
    """Every migcompat command mixes this in, first.

    cliff's default epilog looks up which distribution provides the
    command (importlib.metadata.packages_distributions: ~170 ms per run);
    ours are all in migcompat itself, so there is nothing to say.
    """

    def get_epilog(self):
        return self._epilog or ''
