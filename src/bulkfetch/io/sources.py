"""Where a run reads its rows from: the :class:`Source` protocol, and what every source
shares. Each format is a module of its own (``delimited``, ``jsonl``, ``xlsx``, ``parquet``,
``stdin``, ``iterable``); ``formats.open_source`` picks one by the input's name."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Any, Protocol

import anyio.lowlevel

from bulkfetch.errors import MissingColumnError, UsageError

__all__ = ["Picker", "Row", "Source", "column_index", "each_row", "picker", "text"]

_CHECKPOINT_ROWS = 2000  # rows read between two chances for other tasks to run


Row = tuple[int, list[str]]  # (row number from 0, the row's fields as text)


class Source(Protocol):
    """Where a run reads its rows from: a header, then rows of text fields, in order."""

    @property
    def name(self) -> str:
        """How messages and the run's description call it (a file's path)."""
        ...

    def header(self) -> list[str]:
        """The column names."""
        ...

    def identity(self) -> dict[str, object]:
        """Where it is and how it is read (not what it holds): with the content, what
        names a run over it."""
        ...

    def content_hash(self) -> str | None:
        """A hash of everything it holds, read now; None for an input that can be read only
        once (an iterator), which a run names otherwise."""
        ...

    def rows(
        self, *, on_end: Callable[[str], None] | None = None
    ) -> Iterator[Row] | AsyncIterator[Row]:
        """Every data row, as wide as the header. Read to its end, ``on_end`` gets the hash
        of what was read (the same as :meth:`content_hash` if nothing changed meanwhile)."""
        ...


class Picker(Protocol):
    """Which value of a row a run looks up: one column, or several read together (an API's
    own, such as latitude and longitude)."""

    @property
    def key(self) -> str:
        """What names it in a run's identity (a plain column: its name)."""
        ...

    def bind(self, header: Sequence[str]) -> Callable[[Sequence[str]], str]:
        """The value of a row with this header; a usage error for a column not there. The
        value may raise :class:`~bulkfetch.errors.InvalidInputError`: the row has none."""
        ...


class _Column:
    """One column's value as it is."""

    def __init__(self, column: str) -> None:
        self.key = column

    def bind(self, header: Sequence[str]) -> Callable[[Sequence[str]], str]:
        index = column_index(header, self.key)
        return lambda fields: fields[index]


def picker(column: str | Picker) -> Picker:
    """A column's name as the picker of its value; a picker as it is."""
    return _Column(column) if isinstance(column, str) else column


def column_index(header: Sequence[str], column: str) -> int:
    """Where ``column`` is in ``header``; a usage error when it is not, or is twice."""
    if column not in header:
        raise MissingColumnError(column, list(header))
    if header.count(column) > 1:
        places = ", ".join(str(i + 1) for i, name in enumerate(header) if name == column)
        raise UsageError(
            f"the column name {column!r} appears more than once (columns {places}); "
            "rename one in the file"
        )
    return header.index(column)


async def each_row(rows: Iterator[Row] | AsyncIterator[Row]) -> AsyncIterator[Row]:
    """A source's rows, whether it gives them at once or awaits them; reading a big file
    lets other tasks run (a signal's handler) every few thousand rows."""
    if isinstance(rows, AsyncIterator):
        async for row in rows:
            yield row
        return
    for row in rows:
        yield row
        if row[0] % _CHECKPOINT_ROWS == 0:
            await anyio.lowlevel.checkpoint()


def text(value: Any) -> str:
    """A typed value (a spreadsheet's or a Parquet file's cell, a JSON value) as the text
    a lookup reads: whole numbers without ``.0``, nothing for none, JSON for the rest."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False)
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    return str(value)
