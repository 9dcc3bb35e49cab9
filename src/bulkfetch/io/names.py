"""The names of the columns bulkfetch adds to an output, as written: as they are, or as
names pandas and SQL take as they are (``--column-names snake``)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from typing import Literal, get_args

__all__ = ["NAMINGS", "ColumnNaming", "named", "snake"]

ColumnNaming = Literal["as-is", "snake"]
NAMINGS: tuple[str, ...] = get_args(ColumnNaming)

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_NOT_WORD = re.compile(r"[^a-z0-9]+")


def snake(name: str) -> str:
    """``occupation.residents.1. Managers, directors`` as
    ``occupation_residents_1_managers_directors``, ``totalMeanAnnualIncome`` as
    ``total_mean_annual_income``: ASCII letters, digits and ``_``, lower case, never a digit
    first (``_2021``), never empty (``column``)."""
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    words = _NOT_WORD.sub("_", _CAMEL.sub("_", plain).lower()).strip("_")
    if not words:
        return "column"
    return f"_{words}" if words[0].isdigit() else words


def named(names: Sequence[str], naming: ColumnNaming, *, taken: Sequence[str] = ()) -> list[str]:
    """Columns' names as ``naming`` writes them, each distinct, and none of ``taken``: a
    name that snake case makes the same as one before gets ``_2``, ``_3``... after it."""
    if naming == "as-is":
        return list(names)
    seen = set(taken)
    written: list[str] = []
    for name in names:
        base = found = snake(name)
        more = 1
        while found in seen:
            more += 1
            found = f"{base}_{more}"
        seen.add(found)
        written.append(found)
    return written
