"""Errors a user can act on. The CLI prints their message, no traceback."""


class InputError(ValueError):
    """Bad input or usage (a path, a file's content, an option).

    The message names the input and what is wrong with it; the CLI exits
    with status 2.
    """
