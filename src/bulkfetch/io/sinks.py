"""Where a run's output goes: CSV (or TSV) with flat columns, JSON Lines with the nested
answer, or Parquet (the ``parquet`` extra); a file written whole or not at all, or standard
output. The format follows the output's name unless given."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal, Protocol

from bulkfetch.adapter import Answers
from bulkfetch.errors import UsageError
from bulkfetch.io.files import atomic_file, atomic_text_file

__all__ = [
    "FORMATS",
    "CsvSink",
    "JsonlSink",
    "OutputFormat",
    "OutputRecord",
    "Rendered",
    "Sink",
    "added_columns",
    "distinct_names",
    "open_sink",
    "output_format",
    "output_names",
]

OutputFormat = Literal["csv", "tsv", "jsonl", "parquet"]
FORMATS: tuple[OutputFormat, ...] = ("csv", "tsv", "jsonl", "parquet")
_BY_SUFFIX: dict[str, OutputFormat] = {
    ".tsv": "tsv",
    ".tab": "tsv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".parquet": "parquet",
}
STDOUT = Path("-")


@dataclass(frozen=True, slots=True)
class Rendered:
    """An answer as a sink writes it (see :meth:`Sink.render`)."""

    lines: Sequence[Sequence[Any]] = ()  # value cells, a line each (none: one blank line)
    document: Mapping[str, Any] | None = None  # JSON Lines: the nested answer


@dataclass(frozen=True, slots=True)
class OutputRecord:
    """What one input row became: its fields, its status, and its answer as rendered."""

    row_no: int
    fields: Sequence[str]
    status: str
    answer: Rendered = Rendered()
    error: str | None = None


class Sink(Protocol):
    def render(self, answers: Answers, body: str) -> Rendered:
        """A kept body as this sink writes it; the same for every row of one lookup."""
        ...

    def write(self, record: OutputRecord) -> None: ...


def output_format(out: Path, given: str | None = None) -> OutputFormat:
    """The format ``given``, else the one the output's name says (CSV by default)."""
    if given is not None:
        if given not in FORMATS:
            raise UsageError(f"the output format is one of {', '.join(FORMATS)}; got {given!r}")
        return given
    return _BY_SUFFIX.get(out.suffix.lower(), "csv")


@contextmanager
def open_sink(
    out: Path,
    output: OutputFormat,
    header: Sequence[str],
    columns: Sequence[str],
    *,
    row_column: bool,
    types: Mapping[str, str] | None = None,
) -> Iterator[Sink]:
    """A sink writing to ``out`` (``-``: standard output) in ``output`` format: input columns,
    then ``columns`` (the answers' value and fixed columns). ``types``: each value column's
    type for Parquet (see :class:`bulkfetch.io.parquet.ColumnTypes`)."""
    if output == "parquet":
        if out == STDOUT:
            raise UsageError("Parquet cannot be written to standard output: give --out a file")
        from bulkfetch.io.parquet import ParquetSink  # the parquet extra

        with (
            atomic_file(out) as temp,
            ParquetSink(temp, header, columns, row_column=row_column, types=types or {}) as parquet,
        ):
            yield parquet
        return
    with _text(out) as handle:
        if output == "jsonl":
            yield JsonlSink(handle, header)
        else:
            delimiter = "\t" if output == "tsv" else ","
            yield CsvSink(handle, header, columns, row_column=row_column, delimiter=delimiter)


@contextmanager
def _text(out: Path) -> Iterator[IO[str]]:
    if out != STDOUT:
        with atomic_text_file(out) as handle:
            yield handle
        return
    yield sys.stdout
    sys.stdout.flush()


def output_names(header: Sequence[str], added: Sequence[str]) -> list[str]:
    """The names of the columns bulkfetch adds after the input's: each as given, unless an
    input column has that name; then with ``_`` after it, as many as make it unique
    (``status`` beside an input ``status`` is ``status_``). Input columns keep their names."""
    taken = set(header)
    names = []
    for name in added:
        while name in taken:
            name += "_"
        taken.add(name)
        names.append(name)
    return names


def added_columns(columns: Sequence[str], *, row_column: bool) -> list[str]:
    """What a flat output adds after the input's columns, in order."""
    return [*(["row"] if row_column else []), "status", "error", *columns]


def distinct_names(header: Sequence[str]) -> list[str]:
    """Header names as object keys: a repeated name gets ``(2)``, ``(3)``... so no field is
    lost to a duplicate key."""
    seen: dict[str, int] = {}
    names = []
    for name in header:
        seen[name] = seen.get(name, 0) + 1
        names.append(name if seen[name] == 1 else f"{name} ({seen[name]})")
    return names


def _cell(value: Any) -> Any:
    return "" if value is None else value


class CsvSink:
    """Input columns, ``row`` (when an answer may fill several lines), ``status``,
    ``error``, the value columns, then the fixed columns (named by :func:`output_names`)."""

    def __init__(
        self,
        handle: IO[str],
        header: Sequence[str],
        columns: Sequence[str],
        *,
        row_column: bool,
        delimiter: str = ",",
    ) -> None:
        self._writer = csv.writer(handle, delimiter=delimiter, lineterminator="\n")
        self._columns = list(columns)
        self._blank = [""] * len(self._columns)
        self._row_column = row_column
        added = added_columns(self._columns, row_column=row_column)
        self._writer.writerow([*header, *output_names(header, added)])

    def render(self, answers: Answers, body: str) -> Rendered:
        return Rendered(
            lines=[
                [_cell(line.get(column)) for column in self._columns]
                for line in answers.output_rows(body)
            ]
        )

    def write(self, record: OutputRecord) -> None:
        row = [record.row_no + 1] if self._row_column else []
        error = record.error or ""
        for cells in record.answer.lines or [self._blank]:
            self._writer.writerow([*record.fields, *row, record.status, error, *cells])


class JsonlSink:
    """One JSON object a line: the input row, ``status``, and the answer as the API gave it."""

    def __init__(self, handle: IO[str], header: Sequence[str]) -> None:
        self._handle = handle
        self._header = distinct_names(header)

    def render(self, answers: Answers, body: str) -> Rendered:
        return Rendered(document=answers.output_document(body))

    def write(self, record: OutputRecord) -> None:
        line: dict[str, Any] = {"input": dict(zip(self._header, record.fields, strict=False))}
        line["status"] = record.status
        if record.answer.document is not None:
            line.update(record.answer.document)
        if record.error is not None:
            line["error"] = record.error
        self._handle.write(json.dumps(line, ensure_ascii=False) + "\n")
