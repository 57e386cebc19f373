"""Exceptions shared across the package."""


class CommandError(Exception):
    """An error the command line reports as one line, without a traceback."""
