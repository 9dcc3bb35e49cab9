"""Where a run reads its rows from: the :class:`Source` protocol, and what every source
shares. Each format is a module of its own (``delimited``, ``jsonl``, ``xlsx``, ``parquet``,
``stdin``, ``iterable``); ``formats.open_source`` picks one by the input's name."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import IO, Any, Protocol

import anyio.lowlevel

from bulkfetch.errors import MissingColumnError, UsageError

__all__ = [
    "MAX_CELL_CHARS",
    "MAX_COLUMNS",
    "MAX_LINE_CHARS",
    "XLSX_MAX_CELL_CHARS",
    "XLSX_MAX_SHARED_STRINGS_BYTES",
    "XLSX_READ_BUDGET",
    "ZIP_BOMB_FLOOR",
    "ZIP_BOMB_RATIO",
    "LineTooLong",
    "Picker",
    "Row",
    "Source",
    "bounded_lines",
    "column_index",
    "each_row",
    "picker",
    "streamable",
    "text",
]

_CHECKPOINT_ROWS = 2000  # rows read between two chances for other tasks to run

# -- What one input file may ask of memory ------------------------------------------------
# An input comes from whoever made the file; each bound below is far above anything a lookup
# needs and keeps a hostile file's cost to a few hundred MB at most, refused with a usage
# error that says where. (A delimited file's cells are bounded by the csv module's own
# ``csv.field_size_limit()``, 131,072 characters unless the embedding program changed it:
# it is process-wide, so it is not ours to raise.)

# One physical line of delimited text or JSON Lines, in characters. Reading stops here, so a
# line with no end (100 MB without a newline) costs this much, not the whole file.
MAX_LINE_CHARS = 1 << 20
# Columns a JSON Lines file's objects may name between them (each is a column of every row):
# Excel's own limit, 16,384, far past any table lookups are made from.
MAX_COLUMNS = 16_384
# One Parquet cell of text: a lookup is a postcode or a name, not a megabyte.
MAX_CELL_CHARS = 1 << 20
# Excel's own limit on a cell's text: a longer one was not written by Excel, nor read by it.
XLSX_MAX_CELL_CHARS = 32_767
# A part of a workbook's zip, or a column chunk of a Parquet file, whose uncompressed size
# is over the floor and over the ratio times its compressed size is a zip bomb: the text of
# real spreadsheets packs 5 to 10 times (a sheet of 1,000,000 postcodes: 6.6 times), and
# Parquet's pages, encoded already, a few times; the floor spares small, repetitive parts.
ZIP_BOMB_FLOOR = 16 << 20
ZIP_BOMB_RATIO = 100
# openpyxl streams a sheet's rows but reads some parts whole. Its shared strings: each a
# Python str in a list, beside every <si> element parsed (cleared, not freed), some 160
# bytes a string besides its text, so that their size says little (1,000,000 distinct
# postcodes are 24 MB of XML and take 155 MB; 5,000,000 empty strings, 25 MB, take 460
# MB). Its styles and the like: a tree, then objects (1,000,000 empty cell formats, 5 MB
# packed into 9 KB, take 650 MB). What openpyxl will hold of them is counted first, in a
# streaming parse (``xlsx._Tally``), and refused over this budget: with the 90 MB the
# command takes besides (openpyxl loaded), and a sheet's rows as they stream, the process
# stays under 500 MB.
XLSX_READ_BUDGET = 360 << 20
# Shared strings declared larger than this are refused unread: a real table holds a string
# every 20 to 60 bytes of XML, so at this size it is at or past the budget already (and
# counting it takes seconds). 2.7 times 1,000,000 postcodes' 24 MB.
XLSX_MAX_SHARED_STRINGS_BYTES = 64 << 20


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


def streamable(source: Source) -> bool:
    """Whether a run may call the first rows of ``source`` while it reads the rest: unless
    a quick pass finds what its reader would refuse further on (a source may say, with a
    ``streamable()`` of its own; most refuse nothing after their header, or check it all
    in reading it)."""
    check: Callable[[], bool] | None = getattr(source, "streamable", None)
    return check() if check is not None else True


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


class LineTooLong(Exception):
    """A physical line longer than :data:`MAX_LINE_CHARS`: it was not read to its end."""


def bounded_lines(handle: IO[str], limit: int = MAX_LINE_CHARS) -> Iterator[str]:
    """The lines of a text file, each read no further than ``limit`` characters: a longer
    one raises :class:`LineTooLong` (its source names where), in memory of that size."""
    readline, most = handle.readline, limit + 1  # bound once: this runs for every line
    while line := readline(most):
        if len(line) > limit:
            raise LineTooLong
        yield line


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


_MISSING = frozenset({"NAType", "NaTType"})  # pandas' missing values, without pandas


def text(value: Any) -> str:
    """A typed value (a spreadsheet's or a Parquet file's cell, a JSON value) as the text
    a lookup reads: whole numbers without ``.0``, nothing for none or a missing value (NaN,
    pandas' NA and NaT), JSON for the rest."""
    if isinstance(value, str):
        return value
    if value is None or type(value).__name__ in _MISSING:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value != value:  # NaN: a DataFrame's missing value
        return ""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False)
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    return str(value)
