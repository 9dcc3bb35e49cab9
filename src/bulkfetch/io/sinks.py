"""Where a run's output goes: CSV (or TSV) with flat columns, JSON Lines with the nested
answer, or Parquet (the ``parquet`` extra); a file written whole or not at all, or standard
output. The format follows the output's name unless given. CSV and TSV read back as written,
whatever the cells hold, and what came from the API cannot run in a spreadsheet there (see
:mod:`bulkfetch.io.cells`)."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, Protocol

from bulkfetch.adapter import Answers
from bulkfetch.errors import UsageError
from bulkfetch.io.cells import hides_formula, neutral
from bulkfetch.io.files import atomic_file, atomic_text_file
from bulkfetch.io.formats import FORMATS, OutputFormat, output_format
from bulkfetch.io.lines import Lines, as_text
from bulkfetch.io.records import (
    OutputRecord,
    RecordValues,
    Rendered,
    added_columns,
    distinct_names,
    output_names,
)
from bulkfetch.io.shapes import TextShape, learn

__all__ = [
    "FORMATS",
    "STDOUT",
    "CsvSink",
    "JsonlSink",
    "OutputFormat",
    "Sink",
    "open_sink",
    "output_format",
    "write_many",
]

STDOUT = Path("-")


class Sink(Protocol):
    def render(self, answers: Answers, body: str) -> Rendered:
        """A kept body as this sink writes it; the same for every row of one lookup."""
        ...

    def write(self, record: OutputRecord) -> None: ...


def write_many(sink: Sink, records: Iterable[RecordValues]) -> None:
    """Write records, in order: at once where the sink can (CSV, TSV, JSON Lines, XLSX)."""
    write_all = getattr(sink, "write_all", None)
    if write_all is not None:
        write_all(records)
        return
    for values in records:
        sink.write(OutputRecord(*values))


@contextmanager
def open_sink(
    out: Path,
    output: OutputFormat,
    header: Sequence[str],
    columns: Sequence[str],
    *,
    row_column: bool,
    titles: Sequence[str] | None = None,
    looked_up: bool = False,
    types: Mapping[str, str] | None = None,
    raw_values: bool = False,
) -> Iterator[Sink]:
    """A sink writing to ``out`` (``-``: standard output) in ``output`` format: input columns,
    then ``columns`` (the answers' value and fixed columns), named ``titles`` (default:
    as they are). ``looked_up``: each record's last field, and ``header``'s last name, are
    the value the row looked up (JSON Lines: beside the input, not in it). ``types``: each
    value column's type for Parquet (see :class:`bulkfetch.io.parquet.ColumnTypes`).
    ``raw_values``: CSV and TSV cells from the API as they are, formulas and all."""
    titles = list(columns) if titles is None else list(titles)
    if output == "parquet":
        if out == STDOUT:
            raise UsageError("Parquet cannot be written to standard output: give --out a file")
        from bulkfetch.io.parquet import ParquetSink  # the parquet extra

        with (
            atomic_file(out) as temp,
            ParquetSink(
                temp, header, columns, titles, row_column=row_column, types=types or {}
            ) as parquet,
        ):
            yield parquet
        return
    if output == "xlsx":
        if out == STDOUT:
            raise UsageError("XLSX cannot be written to standard output: give --out a file")
        from bulkfetch.io.workbook import XlsxSink  # the xlsx extra

        with atomic_file(out) as temp, XlsxSink(temp, header, columns, titles, row_column) as book:
            yield book
        return
    with _text(out) as handle:
        if output == "jsonl":
            yield JsonlSink(handle, header[:-1] if looked_up else header, looked_up=looked_up)
        else:
            delimiter = "\t" if output == "tsv" else ","
            yield CsvSink(
                handle,
                header,
                columns,
                row_column=row_column,
                titles=titles,
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


_NO_ERROR = ("", False)
# Answers to learn their shapes from, at most, and shapes kept (an answer of none tries
# each): an API's answers are of one shape or a few, or of no shape to learn.
_LEARNING = 32
_SHAPES = 4
_rendered = tuple.__new__  # a Rendered made at the cost of a tuple


class CsvSink:
    """Input columns, ``row`` (when an answer may fill several lines), ``status``,
    ``error``, the value columns, then the fixed columns (named by :func:`output_names`).
    What came from the API (values, their columns' names, errors) is neutralised unless
    ``raw_values`` (see :mod:`bulkfetch.io.cells`); input cells are written as read.

    A line whose cells need no quoting, nor neutralising, is written as the text csv would
    make of it, without csv (most lines: the slow part of writing a million is csv itself);
    any other line by csv, as ever. When the API's writer names its answers' values by
    their paths (``output_column``), an answer of a shape seen before is not even decoded:
    its cells' texts are read from its text (see :mod:`bulkfetch.io.shapes`)."""

    def __init__(
        self,
        handle: IO[str],
        header: Sequence[str],
        columns: Sequence[str],
        *,
        row_column: bool,
        titles: Sequence[str] | None = None,
        delimiter: str = ",",
        raw_values: bool = False,
    ) -> None:
        self._handle = handle
        self._pending: list[str] = []
        lines = Lines(self._pending)
        self._writer = csv.writer(lines, delimiter=delimiter, lineterminator="\r\n")
        self._quoted = csv.writer(
            lines, delimiter=delimiter, lineterminator="\r\n", quoting=csv.QUOTE_ALL
        )
        self._delimiter = delimiter
        self._raw = raw_values
        self._cell = _cell if raw_values else _safe_cell
        self._columns = list(columns)
        self._blank = [""] * len(self._columns)
        self._blank_texts = (delimiter * len(self._columns),)
        self._errors: dict[str, tuple[str, bool]] = {}  # an error: its cell's text, and hides
        # The writer rendered for last: the shapes of its answers (see bulkfetch.io.shapes),
        # how it names their values, and how many more answers to learn them from.
        self._answers: Answers | None = None
        self._shapes: list[TextShape] = []
        self._column_of: Any = None
        self._learning = 0
        self._row_column = row_column
        named = self._columns if titles is None else list(titles)
        added = [self._cell(name) for name in added_columns(named, row_column=row_column)]
        names = output_names(header, added)
        # Readers take a file's first U+FEFF for a byte-order mark and drop it, unless quoted.
        bom = bool(header) and header[0].startswith("\ufeff")
        quoted = bom or self._hides(names)
        (self._quoted if quoted else self._writer).writerow([*header, *names])
        self._flush()

    def render(self, answers: Answers, body: str) -> Rendered:
        if answers is not self._answers:
            self._answers, self._shapes = answers, []
            self._column_of = getattr(answers, "output_column", None)
            self._learning = _LEARNING
        for shape in self._shapes:  # an answer of a shape seen: its text read, not decoded
            made = shape.text(body)
            if made is not None:
                return _rendered(Rendered, ((), None, False, (made,)))
        rows = answers.output_rows(body)
        shapes = self._column_of is not None and len(self._shapes) < _SHAPES
        if shapes and self._learning and len(rows) == 1:
            self._learning -= 1
            try:
                learnt = learn(
                    body, self._column_of, rows[0], self._columns, self._text_of, self._delimiter
                )
            except Exception:  # a shape not learnt is only slower: never an answer refused
                learnt = None
            if learnt is not None:
                self._shapes.append(learnt)
        lines = [list(map(line.get, self._columns)) for line in rows]
        texts = []
        for values in lines:
            text = as_text(values, self._delimiter)
            if text is None:
                cells = [[self._cell(value) for value in line] for line in lines]
                return Rendered(lines=cells, quoted=any(self._hides(line) for line in cells))
            texts.append(text)
        # Cells as they are (none is changed, none quoted): the text csv makes of them.
        return _rendered(Rendered, ((), None, False, tuple(texts) if texts else self._blank_texts))

    def write(self, record: OutputRecord) -> None:
        self.write_all([(record.row_no, record.fields, record.status, record.answer, record.error)])

    def write_all(self, records: Iterable[RecordValues]) -> None:
        """Write records, in order, in one write to the output."""
        d = self._delimiter
        pending = self._pending
        errors = self._errors
        blank = self._blank_texts
        numbered = self._row_column
        for row_no, fields, status, answer, error in records:
            texts = answer.texts
            if texts is None and not (answer.lines or answer.quoted):
                texts = blank
            if texts is not None:
                said = _NO_ERROR if error is None else errors.get(error) or self._error(error)
                try:
                    head = d.join(fields)
                except TypeError:  # a field that is not text: csv writes it
                    head = None
                # The input's cells as they are, if csv quotes none (nor the row, for its error).
                if (
                    head is not None
                    and not said[1]
                    and head.count(d) == len(fields) - 1
                    and '"' not in head
                    and "\r" not in head
                    and "\n" not in head
                    and "\0" not in head
                ):
                    if numbered:
                        head = f"{head}{d}{row_no + 1}"
                    if len(texts) == 1:  # most answers: a line
                        pending.append(f"{head}{d}{status}{d}{said[0]}{texts[0]}\n")
                    else:
                        start = f"{head}{d}{status}{d}{said[0]}"
                        pending.extend([f"{start}{text}\n" for text in texts])
                    continue
            self._write_one(row_no, fields, status, answer, error)
        self._flush()

    def _write_one(
        self, row_no: int, fields: Sequence[str], status: str, answer: Rendered, error: str | None
    ) -> None:
        """A record csv writes, whole or (its answer's lines as they are) but its answer."""
        row = [row_no + 1] if self._row_column else []
        cell = self._cell(error)
        quoted = answer.quoted or self._hides([cell])
        texts = answer.texts
        if texts is None and not answer.lines:
            texts = self._blank_texts  # nothing to write: blank cells
        if texts is None:
            writer = self._quoted if quoted else self._writer
            for cells in answer.lines:
                writer.writerow([*fields, *row, status, cell, *cells])
        elif quoted:  # the cells again, each to be quoted: none holds the delimiter
            d = self._delimiter
            for text in texts:
                cells = text[len(d) :].split(d) if text else []
                self._quoted.writerow([*fields, *row, status, cell, *cells])
        else:  # each field's text is csv's alone: the answer's follows the rest's
            self._writer.writerow([*fields, *row, status, cell])
            start = self._pending.pop()[:-1]
            self._pending.extend([f"{start}{text}\n" for text in texts])

    def _error(self, error: str) -> tuple[str, bool]:
        """An error's cell as csv writes it, and whether it makes its row quoted."""
        found = self._errors.get(error)
        if found is None:
            cell = self._cell(error)
            self._writer.writerow([cell, ""])  # a cell of two: one alone may be written ""
            text = self._pending.pop()[: -1 - len(self._delimiter)]
            if len(self._errors) >= 1024:
                self._errors.clear()
            found = self._errors[error] = (text, self._hides([cell]))
        return found

    def _text_of(self, value: Any) -> str | None:
        """A value's cell as csv writes it, if it holds it as it is (see :func:`as_text`)."""
        text = as_text([value], self._delimiter)
        return None if text is None else text[len(self._delimiter) :]

    def _hides(self, cells: Sequence[Any]) -> bool:
        return not self._raw and any(hides_formula(cell) for cell in cells)

    def _flush(self) -> None:
        if self._pending:
            self._handle.write("".join(self._pending))
            self._pending.clear()


_OWN_KEYS = frozenset({"input", "lookup", "status", "error"})  # a JSON Lines row's own
_json = json.JSONEncoder(ensure_ascii=False).encode  # json.dumps(value, ensure_ascii=False)


class JsonlSink:
    """One JSON object a line: the input row, ``status``, and the answer as the API gave it.

    An answer's part of its lines is made once, as text, when it is rendered."""

    def __init__(self, handle: IO[str], header: Sequence[str], *, looked_up: bool = False) -> None:
        """``looked_up``: each record's fields end with the value it looked up, after those
        of ``header``: a ``lookup`` key of its line."""
        self._handle = handle
        self._header = distinct_names(header)
        self._statuses: dict[str, str] = {}
        self._looked_up = looked_up

    def render(self, answers: Answers, body: str) -> Rendered:
        document = answers.output_document(body)
        items = _answer_items(document)
        try:
            text = _json(items)
        except Exception:  # not JSON: written (and refused) with its row, as ever
            return Rendered(document=document)
        return Rendered(texts=(f", {text[1:-1]}" if items else "",))

    def write(self, record: OutputRecord) -> None:
        self.write_all([(record.row_no, record.fields, record.status, record.answer, record.error)])

    def write_all(self, records: Iterable[RecordValues]) -> None:
        """Write records, in order, in one write to the output."""
        lines = []
        header = self._header
        for _, fields, status, answer, error in records:
            texts = answer.texts
            if texts is None and answer.document is not None:
                line = self._line(fields, status, error)
                line.update(_answer_items(answer.document))
                lines.append(json.dumps(line, ensure_ascii=False) + "\n")
                continue
            # What json.dumps makes of the line's object, piece by piece.
            given = _json(dict(zip(header, fields, strict=False)))
            looked = f', "lookup": {_json(fields[-1])}' if self._looked_up else ""
            said = self._statuses.get(status) or self._statuses.setdefault(status, _json(status))
            why = "" if error is None else f', "error": {_json(error)}'
            tail = texts[0] if texts else ""
            lines.append(f'{{"input": {given}{looked}, "status": {said}{why}{tail}}}\n')
        self._handle.write("".join(lines))

    def _line(self, fields: Sequence[str], status: str, error: str | None) -> dict[str, Any]:
        line: dict[str, Any] = {"input": dict(zip(self._header, fields, strict=False))}
        if self._looked_up:
            line["lookup"] = fields[-1]
        line["status"] = status
        if error is not None:
            line["error"] = error
        return line


def _answer_items(document: Mapping[str, Any]) -> dict[str, Any]:
    """An answer's keys as its line gives them: its own never replace the row's (an API's
    "status" is "status_"), as its column names never replace the input's in CSV."""
    items: dict[str, Any] = {}
    for name, value in document.items():
        while name in items or name in _OWN_KEYS:
            name += "_"
        items[name] = value
    return items
