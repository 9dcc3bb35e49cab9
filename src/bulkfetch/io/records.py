"""What a sink writes: an input row's record, an answer as rendered, and the names of the
columns a flat output adds."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

__all__ = [
    "NOTHING",
    "OutputRecord",
    "RecordValues",
    "Rendered",
    "added_columns",
    "distinct_names",
    "output_names",
]


class Rendered(NamedTuple):
    """An answer as a sink writes it (see :meth:`Sink.render`). A tuple: one is made for
    every lookup written, and a tuple costs the least to make."""

    lines: Sequence[Sequence[Any]] = ()  # value cells, a line each (none: one blank line)
    document: Mapping[str, Any] | None = None  # JSON Lines: the nested answer
    quoted: bool = False  # CSV and TSV: its lines quoted whole (see bulkfetch.io.cells)
    # Its lines as the sink writes them, text each, when it can without looking again: a
    # sink's own, read by that sink alone (None: written from the above).
    texts: tuple[str, ...] | None = None


NOTHING = Rendered()  # an answer with nothing to write: blank cells


@dataclass(frozen=True, slots=True)
class OutputRecord:
    """What one input row became: its fields, its status, and its answer as rendered."""

    row_no: int
    fields: Sequence[str]
    status: str
    answer: Rendered = NOTHING
    error: str | None = None


# An OutputRecord's values, in its order, as a plain tuple: what a sink writes in bulk.
RecordValues = tuple[int, Sequence[str], str, Rendered, str | None]


def output_names(header: Sequence[str], added: Sequence[str]) -> list[str]:
    """The names of the columns bulkfetch adds after the input's: each as given, unless an
    input column has that name; then with ``_`` after it, as many as make it unique
    (``status`` beside an input ``status`` is ``status_``). Input columns keep their names."""
    taken = set(header)
    names = []
    for name in added:
        while name in taken:
            name += "_"
        taken.add(name)
        names.append(name)
    return names


def added_columns(columns: Sequence[str], *, row_column: bool) -> list[str]:
    """What a flat output adds after the input's columns, in order."""
    return [*(["row"] if row_column else []), "status", "error", *columns]


def distinct_names(header: Sequence[str]) -> list[str]:
    """Header names as object keys: a repeated name gets ``(2)``, ``(3)``... so no field is
    lost to a duplicate key."""
    seen: dict[str, int] = {}
    names = []
    for name in header:
        seen[name] = seen.get(name, 0) + 1
        names.append(name if seen[name] == 1 else f"{name} ({seen[name]})")
    return names
