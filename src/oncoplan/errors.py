"""One error hierarchy for oncoplan.

Every error raised because of user input is an :class:`OncoplanError`; its message names the field,
the rows and a fix. The CLI turns it into exit code 2 with no traceback, the service into a 4xx.

Example:
    >>> raise CohortError("column 'time' has negative values in rows 3, 7", hint="times must be >= 0")
    Traceback (most recent call last):
    ...
    oncoplan.errors.CohortError: column 'time' has negative values in rows 3, 7 (hint: times must be >= 0)
"""

from __future__ import annotations

from collections.abc import Sequence


class OncoplanError(Exception):
    """Base class for errors caused by input the user can fix."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        self.message = message
        self.hint = hint
        super().__init__(message if hint is None else f"{message} (hint: {hint})")


class CohortError(OncoplanError):
    """A cohort, cohort spec or patient file is malformed."""


class DataSourceError(OncoplanError):
    """A data source could not be found or read."""


class ModelError(OncoplanError):
    """A model cannot be fitted, loaded or used as asked."""


class ConfigError(OncoplanError):
    """A configuration value is invalid."""


def describe_rows(rows: Sequence[object], limit: int = 5) -> str:
    """Render a list of row labels for an error message, e.g. ``rows 3, 7, 9 and 12 more``.

    >>> describe_rows([3, 7])
    'rows 3, 7'
    >>> describe_rows(list(range(10)), limit=3)
    'rows 0, 1, 2 and 7 more'
    """
    rows = list(rows)
    shown = ", ".join(str(r) for r in rows[:limit])
    more = len(rows) - limit
    word = "row" if len(rows) == 1 else "rows"
    return f"{word} {shown}" + (f" and {more} more" if more > 0 else "")
