r"""CSV and TSV lines made as text, as Python's csv writes them, where csv has nothing to do
but join the cells: most lines of a big output. What csv would quote, and what a
spreadsheet could run (see :mod:`bulkfetch.io.cells`), is left to csv and the sink.

Python's csv quotes a field for its line breaks only when they are characters of its line
terminator: with ``\n`` alone, a field holding a lone ``\r`` went unquoted, and readers
split the row there. With ``\r\n``, a field holding either is quoted; the sink's csv
writers end their rows so, and :class:`Lines` ends them with ``\n`` again. CPython's
writerow builds the whole row, terminator included, and hands it to one ``write()`` call
(``Modules/_csv.c``, ``csv_writerow``), so a row's terminator is its text's end."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["Lines", "as_text"]

_dumps: Callable[[Any], bytes] | None = None
with contextlib.suppress(ImportError):  # the fast extra: a line's cells joined in one call
    from orjson import dumps as _dumps


class Lines:
    r"""Where a CSV writer ending its rows with ``\r\n`` puts them, each ended with
    ``\n``, for the sink to write at once."""

    def __init__(self, pending: list[str]) -> None:
        self._pending = pending

    def write(self, row: str) -> int:
        self._pending.append(row[:-2] + "\n" if row.endswith("\r\n") else row)
        return len(row)


_NUMBERS = frozenset({int, float, bool})  # written as str() makes them, never changed
_INTS_AND_TEXTS = frozenset({int, str})
_FORMULA_START = frozenset("=+-@\t\r\n\0")
# What a text cell written as it is may not hold: what csv quotes it for (its separator, a
# quote, a line break), another reader's separator (see bulkfetch.io.cells), or NUL.
_NOT_AS_IS = re.compile('[,;\t"\r\n\0]')


def as_text(cells: Sequence[Any], delimiter: str) -> str | None:
    """A line's cells as csv writes them, each after ``delimiter``, when none is one csv
    quotes or a sink changes (a text that begins like a formula, or holds a separator):
    numbers, texts of nothing but plain characters, None; else None."""
    d = delimiter
    kinds = set(map(type, cells))
    if kinds <= _NUMBERS:
        return "".join([d, d.join(map(str, cells))]) if cells else ""
    if _dumps is not None and kinds <= _INTS_AND_TEXTS:
        try:
            found = _dumps(cells).decode()  # '[12,"x"]': ints as str() writes them
        except TypeError:  # an int beyond 64 bits, a lone surrogate
            return None
        # Nothing escaped (no quote, no control character), no separator but commas, and
        # no text that begins like a formula (a text begins after a quote, and no quote
        # there ends one: a comma or the bracket would follow it).
        if (
            "\\" in found
            or ";" in found
            or '"=' in found
            or '"+' in found
            or '"-' in found
            or '"@' in found
        ):
            return None
        text = found[1:-1].replace('"', "")
        if text.count(",") != len(cells) - 1:  # a text holding a comma
            return None
        return d + (text if d == "," else text.replace(",", d))
    parts = []
    for cell in cells:
        kind = type(cell)
        if kind is str:
            if cell[:1] in _FORMULA_START or _NOT_AS_IS.search(cell):
                return None
            parts.append(cell)
        elif kind in _NUMBERS:
            parts.append(str(cell))
        elif cell is None:
            parts.append("")
        else:
            return None
    return "".join([d + part for part in parts])
