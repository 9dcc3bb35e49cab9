"""Streaming CSV input: one row at a time, never the whole file."""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import os
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Protocol

import anyio.lowlevel

from bulkfetch.errors import MissingColumnError, UsageError

__all__ = ["CsvSource", "Row", "Source", "column_index", "each_row"]

# Fields as long as a whole file's worth of text can occur in legitimate quoted input.
csv.field_size_limit(2**31 - 1)
_CHUNK = 1 << 20
_CHECKPOINT_ROWS = 2000  # rows read between two chances for other tasks to run


class _Hashing(io.RawIOBase):
    """A binary file read through, every byte counted into a SHA-256 as it passes."""

    def __init__(self, raw: IO[bytes]) -> None:
        self._raw = raw
        self.sha256 = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        n = self._raw.readinto(buffer)  # type: ignore[attr-defined]
        if n:
            self.sha256.update(buffer[:n])
        return int(n or 0)

    def close(self) -> None:
        self._raw.close()
        super().close()


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


@dataclass(frozen=True, slots=True)
class CsvSource:
    """A CSV file with a header row; rows are lists, so duplicate header names survive."""

    path: Path
    encoding: str = "utf-8-sig"  # a BOM, if present, is not part of the first column's name
    errors: str = "strict"  # or "replace": bytes the encoding cannot read become U+FFFD

    @property
    def name(self) -> str:
        return str(self.path)

    def header(self) -> list[str]:
        with self._open() as handle:
            try:
                return next(csv.reader(handle))
            except StopIteration:
                raise UsageError(f"{self.path} is empty: a CSV file needs a header row") from None
            except (UnicodeDecodeError, csv.Error) as exc:
                raise UsageError(self._unreadable(exc)) from None

    def rows(self, *, on_end: Callable[[str], None] | None = None) -> Iterator[Row]:
        """``(row number, fields)`` for every data row, as wide as the header.

        A short row is padded with empty fields. A long row has its extra fields joined back
        into its last field with commas, which is what they were before an unquoted comma
        split them: nothing is dropped, and the columns before it stay where they were.
        Read to its end, ``on_end`` gets the SHA-256 of every byte read (see
        :meth:`content_hash`).
        """
        width = len(self.header())
        hashing = _Hashing(self._open_binary())
        with self._text(io.BufferedReader(hashing, _CHUNK)) as handle:
            reader = csv.reader(handle)
            next(reader, None)
            try:
                for row_no, fields in enumerate(reader):
                    if len(fields) < width:
                        fields.extend([""] * (width - len(fields)))
                    elif len(fields) > width:
                        fields[width - 1 :] = [",".join(fields[width - 1 :])]
                    yield row_no, fields
            except (UnicodeDecodeError, csv.Error) as exc:
                raise UsageError(self._unreadable(exc)) from None
            if on_end is not None:
                on_end(hashing.sha256.hexdigest())

    def content_hash(self) -> str:
        """The SHA-256 of the file's bytes: what identifies its content, whatever its size
        and modification time say."""
        digest = hashlib.sha256()
        with self._open_binary() as handle:
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
        return digest.hexdigest()

    def identity(self) -> dict[str, object]:
        return {"path": str(self.path.resolve()), "encoding": self.encoding, "errors": self.errors}

    def _open_binary(self) -> IO[bytes]:
        try:
            return open(self.path, "rb")
        except FileNotFoundError:
            raise UsageError(f"no such input file: {self.path}") from None
        except IsADirectoryError:
            raise UsageError(f"{self.path} is a folder, not an input file") from None
        except OSError as exc:
            raise UsageError(f"cannot read {self.path}: {os.strerror(exc.errno or 0)}") from None

    def _text(self, binary: IO[bytes]) -> IO[str]:
        try:
            return io.TextIOWrapper(binary, encoding=self.encoding, errors=self.errors, newline="")
        except LookupError:
            binary.close()
            raise UsageError(f"unknown encoding: {self.encoding!r}") from None

    def _open(self) -> IO[str]:
        return self._text(self._open_binary())

    def _unreadable(self, exc: Exception) -> str:
        if isinstance(exc, UnicodeDecodeError):
            return self._undecodable(exc)
        return f"cannot read {self.path} as CSV: {exc}"

    def _undecodable(self, exc: UnicodeDecodeError) -> str:
        """Where the first bytes the encoding cannot read are, and what to do about them."""
        offset, row = _first_undecodable(self.path, self.encoding)
        if offset is None:
            where = ""
        else:
            where = f"in data row {row:,}" if row > 0 else "in the header"
            where += f" (byte {offset:,})"
        bad = exc.object[exc.start : exc.end]
        return (
            f"cannot read {self.path} as {self.encoding}: {bytes(bad)!r} {where} is not "
            f"{self.encoding} text. If the whole file is in another encoding, name it with "
            "--encoding; to carry on with such bytes replaced by U+FFFD, give "
            "--encoding-errors replace"
        )


def _first_undecodable(path: Path, encoding: str) -> tuple[int | None, int]:
    """The byte offset of the first bytes ``encoding`` cannot read, and the data row (from
    1) they are in; ``(None, 0)`` if none is found. Two passes over the file, in flat memory:
    only when reading it failed."""
    decoder = codecs.getincrementaldecoder(encoding)()
    offset = 0
    found = None
    with open(path, "rb") as handle:
        while found is None and (chunk := handle.read(_CHUNK)):
            state = decoder.getstate()
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError:
                decoder.setstate(state)  # again a byte at a time, to find the byte
                for i in range(len(chunk)):
                    pending = len(decoder.getstate()[0])  # bytes of a sequence begun before
                    try:
                        decoder.decode(chunk[i : i + 1])
                    except UnicodeDecodeError as exc:
                        found = offset + i - pending + exc.start
                        break
            offset += len(chunk)
    if found is None:
        return None, 0
    # Its row, as the CSV reader counts rows (a quoted field may hold line breaks): the
    # text before it, and one character standing for it, read as CSV; less the header.
    with open(path, "rb") as handle:
        prefix = io.TextIOWrapper(
            io.BufferedReader(_Limited(handle, found)), encoding=encoding, newline=""
        )
        rows = sum(1 for _ in csv.reader(_ending_with(prefix, "?")))
    return found, rows - 1


def _ending_with(lines: Iterator[str], tail: str) -> Iterator[str]:
    """``lines`` with ``tail`` after them, on the last line unless that one is ended."""
    last = ""
    for line in lines:
        if last:
            yield last
        last = line
    if last.endswith(("\n", "\r")):
        yield from (last, tail)
    else:
        yield last + tail


class _Limited(io.RawIOBase):
    """The first ``limit`` bytes of a binary file."""

    def __init__(self, raw: IO[bytes], limit: int) -> None:
        self._raw = raw
        self._left = limit

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if self._left <= 0:
            return 0
        view = memoryview(buffer)[: self._left]
        n = int(self._raw.readinto(view) or 0)  # type: ignore[attr-defined]
        self._left -= n
        return n
