"""Where a run's output goes: CSV (or TSV) with flat columns, JSON Lines with the nested
answer, or Parquet (the ``parquet`` extra); a file written whole or not at all, or standard
output. The format follows the output's name unless given."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, Literal, Protocol

from bulkfetch.adapter import Answers
from bulkfetch.errors import UsageError
from bulkfetch.io.files import atomic_file, atomic_text_file
from bulkfetch.io.records import (
    OutputRecord,
    Rendered,
    added_columns,
    distinct_names,
    output_names,
)

__all__ = [
    "FORMATS",
    "STDOUT",
    "CsvSink",
    "JsonlSink",
    "OutputFormat",
    "Sink",
    "open_sink",
    "output_format",
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
