"""Streaming CSV input: one row at a time, never the whole file."""

from __future__ import annotations

import csv
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from bulkfetch.errors import MissingColumnError, UsageError

__all__ = ["CsvSource"]

# Fields as long as a whole file's worth of text can occur in legitimate quoted input.
csv.field_size_limit(2**31 - 1)


@dataclass(frozen=True, slots=True)
class CsvSource:
    """A CSV file with a header row; rows are lists, so duplicate header names survive."""

    path: Path
    encoding: str = "utf-8-sig"  # a BOM, if present, is not part of the first column's name

    def header(self) -> list[str]:
        with self._open() as handle:
            try:
                return next(csv.reader(handle))
            except StopIteration:
                raise UsageError(f"{self.path} is empty: a CSV file needs a header row") from None
            except (UnicodeDecodeError, csv.Error) as exc:
                raise UsageError(self._unreadable(exc)) from None

    def column_index(self, column: str) -> int:
        header = self.header()
        if column not in header:
            raise MissingColumnError(column, header)
        if header.count(column) > 1:
            places = ", ".join(str(i + 1) for i, name in enumerate(header) if name == column)
            raise UsageError(
                f"the column name {column!r} appears more than once (columns {places}); "
                "rename one in the file"
            )
        return header.index(column)

    def rows(self, start: int = 0) -> Iterator[tuple[int, list[str]]]:
        """``(row number, fields)`` for every data row from ``start``, as wide as the header.

        A short row is padded with empty fields. A long row has its extra fields joined back
        into its last field with commas, which is what they were before an unquoted comma
        split them: nothing is dropped, and the columns before it stay where they were.
        """
        width = len(self.header())
        with self._open() as handle:
            reader = csv.reader(handle)
            next(reader, None)
            try:
                for row_no, fields in enumerate(reader):
                    if row_no < start:
                        continue
                    if len(fields) < width:
                        fields.extend([""] * (width - len(fields)))
                    elif len(fields) > width:
                        fields[width - 1 :] = [",".join(fields[width - 1 :])]
                    yield row_no, fields
            except (UnicodeDecodeError, csv.Error) as exc:
                raise UsageError(self._unreadable(exc)) from None

    def signature(self) -> dict[str, object]:
        """What identifies this input for resuming: its place, size and modification time."""
        stat = self.path.stat()
        return {
            "path": str(self.path.resolve()),
            "size": stat.st_size,
            "mtime_ns": stat.st_mtime_ns,
            "encoding": self.encoding,
        }

    def _open(self) -> IO[str]:
        try:
            return open(self.path, encoding=self.encoding, newline="")
        except FileNotFoundError:
            raise UsageError(f"no such input file: {self.path}") from None
        except LookupError:
            raise UsageError(f"unknown encoding: {self.encoding!r}") from None
        except OSError as exc:
            raise UsageError(f"cannot read {self.path}: {os.strerror(exc.errno or 0)}") from None

    def _unreadable(self, exc: Exception) -> str:
        hint = " (try --encoding latin-1)" if isinstance(exc, UnicodeDecodeError) else ""
        return f"cannot read {self.path} as {self.encoding} CSV: {exc.__class__.__name__}{hint}"
