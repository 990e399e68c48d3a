"""The exception root of accuguard.

Every error a user can cause derives from :class:`AccuguardError`. The CLI turns
them into a one-line message and exit code 2, never a traceback.
"""

from __future__ import annotations


class AccuguardError(Exception):
    """Root of every accuguard error."""


class InputError(AccuguardError, ValueError):
    """Bad user input: a file, a column, a config field or an argument.

    The message names the input (file, column or field), the value found and what
    was expected.
    """


class ConfigError(InputError):
    """A configuration file is malformed or has an invalid field."""


class DataError(InputError):
    """A data file is missing, empty, unreadable or lacks an expected column."""
