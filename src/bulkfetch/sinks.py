"""Output files: CSV with flat columns, or JSON Lines with the nested answer.

Written to a temporary file beside the target and renamed into place, so an interrupted
write never leaves a half file where a whole one was.
"""

from __future__ import annotations

import csv
import json
import os
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol

__all__ = ["CsvSink", "JsonlSink", "OutputRecord", "Sink", "atomic_text_file"]


@dataclass(frozen=True, slots=True)
class OutputRecord:
    """One output row: the input's fields, its status, and the answer in both shapes."""

    fields: Sequence[str]
    status: str
    values: Mapping[str, Any] | None = None  # flat columns, for CSV
    document: Mapping[str, Any] | None = None  # the nested answer, for JSON Lines
    error: str | None = None


class Sink(Protocol):
    def write(self, record: OutputRecord) -> None: ...


@contextmanager
def atomic_text_file(path: Path) -> Iterator[IO[str]]:
    """A text file that appears at ``path`` whole, or not at all."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            yield handle
        # mkstemp makes the file private; outputs get the user's default permissions.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temp, 0o666 & ~umask)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def _cell(value: Any) -> Any:
    return "" if value is None else value


class CsvSink:
    """Input columns, ``status``, the value columns, then the fixed columns."""

    def __init__(self, handle: IO[str], header: Sequence[str], columns: Sequence[str]) -> None:
        self._writer = csv.writer(handle, lineterminator="\n")
        self._columns = list(columns)
        self._writer.writerow([*header, "status", *self._columns])

    def write(self, record: OutputRecord) -> None:
        found = record.values or {}
        cells = (_cell(found.get(column)) for column in self._columns)
        self._writer.writerow([*record.fields, record.status, *cells])


class JsonlSink:
    """One JSON object a line: the input row, ``status``, and the answer as the API gave it."""

    def __init__(self, handle: IO[str], header: Sequence[str]) -> None:
        self._handle = handle
        self._header = list(header)

    def write(self, record: OutputRecord) -> None:
        line: dict[str, Any] = {"input": dict(zip(self._header, record.fields, strict=False))}
        line["status"] = record.status
        if record.document is not None:
            line.update(record.document)
        if record.error is not None:
            line["error"] = record.error
        self._handle.write(json.dumps(line, ensure_ascii=False) + "\n")
