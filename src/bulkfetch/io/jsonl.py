"""JSON Lines: one object a line. Its columns are every key the objects hold, in the order
they first appear (a first pass finds them); a value that is not text is written as JSON
text (numbers as they are), a missing or null one as nothing."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bulkfetch.errors import UsageError
from bulkfetch.io.files import CHUNK, Hashing, file_hash, open_binary
from bulkfetch.io.sources import Row, text

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
        for _, record in self._records():
            keys.update(dict.fromkeys(record))
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
        with io.TextIOWrapper(io.BufferedReader(hashing, CHUNK), encoding="utf-8-sig") as lines:
            for line_no, line in enumerate(lines, 1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise UsageError(
                        f"{self._path} line {line_no} is not JSON: {exc.msg} (column {exc.colno})"
                    ) from None
                except UnicodeDecodeError:
                    raise UsageError(f"{self._path} line {line_no} is not UTF-8") from None
                if not isinstance(record, dict):
                    raise UsageError(
                        f"{self._path} line {line_no} is not a JSON object: JSON Lines input "
                        "holds one object a line"
                    )
                yield line_no, record
        self.sha256 = hashing.sha256.hexdigest()
