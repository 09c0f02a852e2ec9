"""The migcompat CLI: one cliff command per verb."""


class FastEpilog(object):
    """Every migcompat command mixes this in, first.

    cliff's default epilog looks up which distribution provides the
    command (importlib.metadata.packages_distributions: ~170 ms per run);
    ours are all in migcompat itself, so there is nothing to say.
    """

    def get_epilog(self):
        return self._epilog or ''


def main(argv=None):
    """The ``migcompat`` console script.

    The base install is nova's scheduler plugin only; the commands need
    the ``[reporter]`` or ``[cli]`` extra (cliff and friends). Say so
    instead of a traceback when they are missing.
    """
    import sys
    try:
        from migcompat_filter.cmd import shell
    except ImportError as e:
        sys.stderr.write(
            'migcompat: the command line is not installed (%s); install '
            'an extra: pip install "migcompat-filter[cli]" (operator '
            'workstation) or "migcompat-filter[reporter]" (compute node)\n'
            % e)
        return 2
    return shell.main(argv)
