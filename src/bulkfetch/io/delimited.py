"""Delimited text (CSV, TSV, semicolons...): streamed one row at a time, never the whole
file, every byte hashed on the way; no line read further than ``MAX_LINE_CHARS`` and no
field longer than the csv module's own limit, so that a hostile file costs little memory."""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from bulkfetch.errors import UsageError
from bulkfetch.io.files import CHUNK, Hashing, file_hash, open_binary
from bulkfetch.io.sources import MAX_LINE_CHARS, LineTooLong, Row, bounded_lines

__all__ = ["CsvSource", "DelimitedSource"]

_DELIMITERS = (",", ";", "\t", "|")
# How the csv module says a field passed csv.field_size_limit() (it raises csv.Error).
_FIELD_TOO_LONG = "field larger than field limit"


@dataclass(frozen=True, slots=True)
class DelimitedSource:
    """A CSV file (or TSV, or any one-character delimiter) with a header row; rows are
    lists, so duplicate header names survive. The delimiter is the one given, else the one
    the header line uses most of ``, ; tab |`` (a comma if it uses none)."""

    path: Path
    encoding: str = "utf-8-sig"  # a BOM, if present, is not part of the first column's name
    errors: str = "strict"  # or "replace": bytes the encoding cannot read become U+FFFD
    delimiter: str | None = None

    @property
    def name(self) -> str:
        return str(self.path)

    def dialect(self) -> str:
        """The delimiter this file is read with."""
        if self.delimiter is not None:
            if len(self.delimiter) != 1:
                raise UsageError(f"a delimiter is one character; got {self.delimiter!r}")
            return self.delimiter
        with self._open() as handle:
            try:
                first = handle.readline(MAX_LINE_CHARS + 1)
            except UnicodeDecodeError as exc:
                raise UsageError(self._unreadable(exc, 0)) from None
        if len(first) > MAX_LINE_CHARS:
            raise UsageError(self._too_long(LineTooLong(), 0))
        counts = {d: first.count(d) for d in _DELIMITERS}
        best = max(_DELIMITERS, key=lambda d: counts[d])
        return best if counts[best] else ","

    def header(self) -> list[str]:
        with self._open() as handle:
            try:
                return next(csv.reader(bounded_lines(handle), delimiter=self.dialect()))
            except StopIteration:
                raise UsageError(f"{self.path} is empty: a CSV file needs a header row") from None
            except (UnicodeDecodeError, csv.Error, LineTooLong) as exc:
                raise UsageError(self._unreadable(exc, 0)) from None

    def rows(self, *, on_end: Callable[[str], None] | None = None) -> Iterator[Row]:
        """``(row number, fields)`` for every data row, as wide as the header.

        A short row is padded with empty fields. A long row has its extra fields joined back
        into its last field with commas, which is what they were before an unquoted comma
        split them: nothing is dropped, and the columns before it stay where they were.
        Read to its end, ``on_end`` gets the SHA-256 of every byte read (see
        :meth:`content_hash`).
        """
        width, delimiter = len(self.header()), self.dialect()
        hashing = Hashing(open_binary(self.path))
        with self._text(io.BufferedReader(hashing, CHUNK)) as handle:
            reader = csv.reader(bounded_lines(handle), delimiter=delimiter)
            next(reader, None)
            row_no = 0  # the data row being read, from 0
            try:
                for fields in reader:
                    if len(fields) < width:
                        fields.extend([""] * (width - len(fields)))
                    elif len(fields) > width:
                        fields[width - 1 :] = [delimiter.join(fields[width - 1 :])]
                    yield row_no, fields
                    row_no += 1
            except (UnicodeDecodeError, csv.Error, LineTooLong) as exc:
                raise UsageError(self._unreadable(exc, row_no + 1)) from None
            if on_end is not None:
                on_end(hashing.sha256.hexdigest())

    def content_hash(self) -> str:
        return file_hash(self.path)

    def streamable(self) -> bool:
        """Whether its rows may be worked as they are read: read strictly, a pass over its
        bytes finds none its encoding cannot read (else its rows are read to the end before
        the first call, and the reader says where the bad byte is, before any is paid)."""
        if self.errors != "strict":
            return True
        try:
            decoder = codecs.getincrementaldecoder(self.encoding)()
            with open_binary(self.path) as handle:
                while chunk := handle.read(CHUNK):
                    decoder.decode(chunk)
                decoder.decode(b"", final=True)
        except (UnicodeDecodeError, LookupError):
            return False
        return True

    def identity(self) -> dict[str, object]:
        return {
            "path": str(self.path.resolve()),
            "encoding": self.encoding,
            "errors": self.errors,
            "delimiter": self.delimiter,
        }

    def _text(self, binary: IO[bytes]) -> IO[str]:
        try:
            return io.TextIOWrapper(binary, encoding=self.encoding, errors=self.errors, newline="")
        except LookupError:
            binary.close()
            raise UsageError(f"unknown encoding: {self.encoding!r}") from None

    def _open(self) -> IO[str]:
        return self._text(open_binary(self.path))

    def _unreadable(self, exc: Exception, row: int) -> str:
        """What stopped the reading of data row ``row`` (from 1; 0 for the header)."""
        if isinstance(exc, UnicodeDecodeError):
            return self._undecodable(exc)
        if isinstance(exc, LineTooLong) or _FIELD_TOO_LONG in str(exc):
            return self._too_long(exc, row)
        return f"cannot read {self.path} as delimited text: {exc}"

    def _too_long(self, exc: Exception, row: int) -> str:
        where = f"data row {row:,}" if row > 0 else "the header"
        if isinstance(exc, LineTooLong):
            return (
                f"cannot read {self.path}: {where} has a line of more than "
                f"{MAX_LINE_CHARS:,} characters, which no lookup needs: is it delimited text, "
                "a row a line? Shorten or remove that line"
            )
        return (
            f"cannot read {self.path}: {where} has a field of more than "
            f"{csv.field_size_limit():,} characters (the most the csv module reads), which "
            "no lookup needs. A quote that is never closed makes one field of the rest of "
            f"the file: check the quotes in {where}, and shorten or remove what is that long"
        )

    def _undecodable(self, exc: UnicodeDecodeError) -> str:
        """Where the first bytes the encoding cannot read are, and what to do about them."""
        offset, row = _first_undecodable(self.path, self.encoding)
        if offset is None:
            where = ""
        elif row is None:
            where = f"at byte {offset:,}"
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


def _first_undecodable(path: Path, encoding: str) -> tuple[int | None, int | None]:
    """The byte offset of the first bytes ``encoding`` cannot read, and the data row (from
    1) they are in (None if the text before them cannot be read as CSV to tell); ``(None,
    0)`` if none is found. Two passes over the file, in flat memory: only when reading it
    failed."""
    decoder = codecs.getincrementaldecoder(encoding)()
    offset = 0
    found = None
    with open(path, "rb") as handle:
        while found is None and (chunk := handle.read(CHUNK)):
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
        try:
            rows = sum(1 for _ in csv.reader(_ending_with(bounded_lines(prefix), "?")))
        except (csv.Error, LineTooLong):  # a field too long just before the bytes
            return found, None
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


CsvSource = DelimitedSource
