"""Where a run's output goes: CSV (or TSV) with flat columns, JSON Lines with the nested
answer, or Parquet (the ``parquet`` extra); a file written whole or not at all, or standard
output. The format follows the output's name unless given. CSV and TSV read back as written,
whatever the cells hold, and what came from the API cannot run in a spreadsheet there (see
:mod:`bulkfetch.io.cells`)."""

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
from bulkfetch.io.cells import hides_formula, neutral
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
    raw_values: bool = False,
) -> Iterator[Sink]:
    """A sink writing to ``out`` (``-``: standard output) in ``output`` format: input columns,
    then ``columns`` (the answers' value and fixed columns). ``types``: each value column's
    type for Parquet (see :class:`bulkfetch.io.parquet.ColumnTypes`). ``raw_values``: CSV and
    TSV cells from the API as they are, formulas and all."""
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
            yield CsvSink(
                handle,
                header,
                columns,
                row_column=row_column,
                delimiter=delimiter,
                raw_values=raw_values,
            )


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


def _safe_cell(value: Any) -> Any:
    return "" if value is None else neutral(value)


class _Rows:
    r"""Where a CSV writer ending its rows with ``\r\n`` writes them, ended with ``\n``.

    Python's csv quotes a field for its line breaks only when they are characters of its
    line terminator: with ``\n`` alone, a field holding a lone ``\r`` went unquoted, and
    readers split the row there. With ``\r\n``, a field holding either is quoted.
    CPython's writerow builds the whole row, terminator included, and hands it to one
    ``write()`` call (``Modules/_csv.c``, ``csv_writerow``), so a row's terminator is its
    text's end."""

    def __init__(self, handle: IO[str]) -> None:
        self._handle = handle

    def write(self, row: str) -> int:
        return self._handle.write(row[:-2] + "\n" if row.endswith("\r\n") else row)


class CsvSink:
    """Input columns, ``row`` (when an answer may fill several lines), ``status``,
    ``error``, the value columns, then the fixed columns (named by :func:`output_names`).
    What came from the API (values, their columns' names, errors) is neutralised unless
    ``raw_values`` (see :mod:`bulkfetch.io.cells`); input cells are written as read."""

    def __init__(
        self,
        handle: IO[str],
        header: Sequence[str],
        columns: Sequence[str],
        *,
        row_column: bool,
        delimiter: str = ",",
        raw_values: bool = False,
    ) -> None:
        rows = _Rows(handle)
        self._writer = csv.writer(rows, delimiter=delimiter, lineterminator="\r\n")
        self._quoted = csv.writer(
            rows, delimiter=delimiter, lineterminator="\r\n", quoting=csv.QUOTE_ALL
        )
        self._raw = raw_values
        self._cell = _cell if raw_values else _safe_cell
        self._columns = list(columns)
        self._blank = [""] * len(self._columns)
        self._row_column = row_column
        added = [self._cell(name) for name in added_columns(self._columns, row_column=row_column)]
        names = output_names(header, added)
        # Readers take a file's first U+FEFF for a byte-order mark and drop it, unless quoted.
        bom = bool(header) and header[0].startswith("\ufeff")
        quoted = bom or self._hides(names)
        (self._quoted if quoted else self._writer).writerow([*header, *names])

    def render(self, answers: Answers, body: str) -> Rendered:
        lines = [
            [self._cell(line.get(column)) for column in self._columns]
            for line in answers.output_rows(body)
        ]
        return Rendered(lines=lines, quoted=any(self._hides(cells) for cells in lines))

    def write(self, record: OutputRecord) -> None:
        row = [record.row_no + 1] if self._row_column else []
        error = self._cell(record.error)
        quoted = record.answer.quoted or self._hides([error])
        writer = self._quoted if quoted else self._writer
        for cells in record.answer.lines or [self._blank]:
            writer.writerow([*record.fields, *row, record.status, error, *cells])

    def _hides(self, cells: Sequence[Any]) -> bool:
        return not self._raw and any(hides_formula(cell) for cell in cells)


_OWN_KEYS = frozenset({"input", "status", "error"})  # a JSON Lines row's own, always


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
        if record.error is not None:
            line["error"] = record.error
        if record.answer.document is not None:
            # The answer's own keys never replace the row's (an API's "status" is
            # "status_"), as its column names never replace the input's in CSV.
            for name, value in record.answer.document.items():
                while name in line or name in _OWN_KEYS:
                    name += "_"
                line[name] = value
        self._handle.write(json.dumps(line, ensure_ascii=False) + "\n")
