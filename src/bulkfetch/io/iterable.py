"""A program's own values as a source: a list, a generator, an async iterator, a column of
a DataFrame. One column, ``input``; each value as text. It can be read only once, so a run
over it is named by the caller (``run="customers"``) or is a run of its own."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable
from typing import Any

from bulkfetch.io.sources import Row, text

__all__ = ["COLUMN", "IterableSource"]

COLUMN = "input"


class IterableSource:
    """The values of ``inputs``, a row each."""

    name = "<inputs>"

    def __init__(self, inputs: Iterable[Any] | AsyncIterable[Any]) -> None:
        self._inputs = inputs

    def header(self) -> list[str]:
        return [COLUMN]

    def identity(self) -> dict[str, object]:
        return {"path": self.name}

    def content_hash(self) -> str | None:
        return None

    async def rows(self, *, on_end: Callable[[str], None] | None = None) -> AsyncIterator[Row]:
        row_no = 0
        if isinstance(self._inputs, AsyncIterable):
            async for value in self._inputs:
                yield row_no, [text(value)]
                row_no += 1
        else:
            for value in self._inputs:
                yield row_no, [text(value)]
                row_no += 1
