"""Standard input (``-``) as a source: copied to a temporary file first, so that it can be
read more than once (its header, its rows, its content hash), then read in its format."""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bulkfetch.io.sources import Row, Source, streamable

__all__ = ["STDIN", "Copied", "stdin_copy"]

STDIN = Path("-")


@contextmanager
def stdin_copy() -> Iterator[Path]:
    """A temporary file holding all of standard input, removed afterwards."""
    with tempfile.NamedTemporaryFile(prefix="bulkfetch-stdin-", suffix=".part") as copy:
        shutil.copyfileobj(sys.stdin.buffer, copy, 1 << 20)
        copy.flush()
        yield Path(copy.name)


@dataclass(frozen=True, slots=True)
class Copied:
    """A source read from a copy of another input (standard input), known by that one's
    name: a run over the same content piped again is the same run."""

    copy: Source
    label: str = "<stdin>"

    @property
    def name(self) -> str:
        return self.label

    def header(self) -> list[str]:
        return self.copy.header()

    def rows(self, *, on_end: Callable[[str], None] | None = None) -> Iterator[Row]:
        rows = self.copy.rows(on_end=on_end)
        assert isinstance(rows, Iterator)  # every file source reads at once
        return rows

    def content_hash(self) -> str | None:
        return self.copy.content_hash()

    def streamable(self) -> bool:
        return streamable(self.copy)

    def identity(self) -> dict[str, object]:
        return {**self.copy.identity(), "path": self.label}
