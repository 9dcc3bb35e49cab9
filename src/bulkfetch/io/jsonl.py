"""JSON Lines: one object a line. Its columns are every key the objects hold, in the order
they first appear (a first pass finds them); a value that is not text is written as JSON
text (numbers as they are), a missing or null one as nothing. No line is read further than
``MAX_LINE_CHARS``, and a file's columns are at most ``MAX_COLUMNS``: a hostile file is
refused, naming its line, in little memory."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bulkfetch.errors import UsageError
from bulkfetch.io.files import CHUNK, Hashing, file_hash, open_binary
from bulkfetch.io.sources import (
    MAX_COLUMNS,
    MAX_LINE_CHARS,
    LineTooLong,
    Row,
    bounded_lines,
    text,
)

__all__ = ["JsonlSource"]


@dataclass(frozen=True, slots=True)
class JsonlSource:
    """A JSON Lines file of objects."""

    path: Path

    @property
    def name(self) -> str:
        return str(self.path)

    def header(self) -> list[str]:
        keys: dict[str, None] = {}
        for line_no, record in self._records():
            keys.update(dict.fromkeys(record))
            if len(keys) > MAX_COLUMNS:
                raise UsageError(
                    f"{self.path} has more than {MAX_COLUMNS:,} distinct keys by line "
                    f"{line_no:,}: its columns are every key its objects hold, and a table "
                    "that wide is not one lookups are made from"
                )
        if not keys:
            raise UsageError(
                f"{self.path} holds no JSON object: a JSON Lines file needs one a line"
            )
        return list(keys)

    def rows(self, *, on_end: Callable[[str], None] | None = None) -> Iterator[Row]:
        header = self.header()
        records = self._records()
        for row_no, (_, record) in enumerate(records):
            yield row_no, [text(record.get(key)) for key in header]
        if on_end is not None:
            on_end(records.sha256)

    def content_hash(self) -> str:
        return file_hash(self.path)

    def identity(self) -> dict[str, object]:
        return {"path": str(self.path.resolve()), "format": "jsonl"}

    def _records(self) -> _Records:
        return _Records(self.path)


class _Records:
    """The objects of a JSON Lines file, with their line numbers; blank lines skipped."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self.sha256 = ""

    def __iter__(self) -> Iterator[tuple[int, dict[str, Any]]]:
        hashing = Hashing(open_binary(self._path))
        # Bytes that are not UTF-8 come through as lone surrogates (which UTF-8 text never
        # holds), so that the line they are on is the one named: a strict decoder fails on
        # the chunk it decodes ahead, some lines before theirs.
        binary = io.BufferedReader(hashing, CHUNK)
        with io.TextIOWrapper(binary, encoding="utf-8-sig", errors="surrogateescape") as handle:
            lines = bounded_lines(handle)
            line_no = 0
            while True:
                line_no += 1
                try:
                    line = next(lines, None)
                except LineTooLong:
                    raise UsageError(
                        f"{self._path} line {line_no} is longer than {MAX_LINE_CHARS:,} "
                        "characters, which no lookup needs: JSON Lines holds one object a "
                        "line. Shorten or remove it"
                    ) from None
                if line is None:
                    break
                if not line.strip():
                    continue
                if not line.isascii():
                    _check_utf8(self._path, line_no, line)
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise UsageError(
                        f"{self._path} line {line_no} is not JSON: {exc.msg} (column {exc.colno})"
                    ) from None
                except RecursionError:  # JSON text written back needs no deeper a stack
                    raise UsageError(
                        f"{self._path} line {line_no} is JSON nested too deeply to read: a JSON "
                        "Lines record is one object of values, nested a few levels at most"
                    ) from None
                if not isinstance(record, dict):
                    raise UsageError(
                        f"{self._path} line {line_no} is not a JSON object: JSON Lines input "
                        "holds one object a line"
                    )
                yield line_no, record
        self.sha256 = hashing.sha256.hexdigest()


def _check_utf8(path: Path, line_no: int, line: str) -> None:
    """A usage error naming the first byte of ``line`` that was not UTF-8, if one was."""
    try:
        line.encode("utf-8")
    except UnicodeEncodeError as exc:
        byte = ord(line[exc.start]) - 0xDC00  # surrogateescape's stand-in for the byte
        raise UsageError(
            f"{path} line {line_no} is not UTF-8: byte {byte:#04x} at column {exc.start + 1} "
            "cannot be read. JSON Lines is UTF-8 text: save the file as UTF-8"
        ) from None
