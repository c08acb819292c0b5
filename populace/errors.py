"""Exceptions for the mistakes a user can make, each raised at the edge with context.

The command line maps every :class:`PopulaceInputError` to exit code 2 and prints its
message on one line; :class:`FitError` maps to exit code 1.
"""

from __future__ import annotations


class PopulaceError(Exception):
    """Base class of every error populace raises on purpose."""


class PopulaceInputError(PopulaceError):
    """Bad input: the message names the file, row, column and value where it can.

    Examples
    --------
    >>> str(DataError("not a number", file="wage.csv", row=3, column="count", value="x"))
    "wage.csv, row 3, column 'count': not a number"
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        row: int | None = None,
        column: str | None = None,
        value: object = None,
    ) -> None:
        self.file = file
        self.row = row
        self.column = column
        self.value = value
        where = []
        if file is not None:
            where.append(str(file))
        if row is not None:
            where.append(f"row {row}")
        if column is not None:
            where.append(f"column '{column}'")
        prefix = ", ".join(where)
        text = f"{prefix}: {message}" if prefix else message
        super().__init__(" ".join(text.split()))


class SpecError(PopulaceInputError):
    """The spec file is malformed: an unknown key, a bad value, an unknown attribute."""


class DataError(PopulaceInputError):
    """A data file (marginal table, microdata, posterior) is malformed or inconsistent."""


class FitError(PopulaceError):
    """Inference failed (for example the sampler produced no finite draws)."""
