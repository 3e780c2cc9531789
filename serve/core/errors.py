"""Errors the user can act on. The CLI prints them as one line, without a traceback."""


class UserError(Exception):
    """Bad input or environment: the message names the problem and the fix."""
