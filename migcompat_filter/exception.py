"""Errors a user can act on. The CLI prints their message, no traceback."""


class InputError(ValueError):
    """Bad input or usage (a path, a file's content, an option).

    The message names the input and what is wrong with it; the CLI exits
    with status 2.
    """


class FactorUnknown(Exception):
    """A factor cannot be read on this host; str(exc) says why.

    Part of the factor plugin API (also importable as
    ``migcompat_filter.factors.base.FactorUnknown``).
    """


class SourceError(FactorUnknown):
    """A file or libvirt document could not be read; says which and why."""
