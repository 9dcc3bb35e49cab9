"""A run's output as an Excel workbook (the ``xlsx`` extra): the CSV output's header and
rows, streamed into a sheet with openpyxl's write-only mode (rows go to disk as they come,
not held in memory), each cell a number where the CSV's is a plain number, else text: never
a formula, whatever the API's text says."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from bulkfetch.adapter import Answers
from bulkfetch.errors import UsageError
from bulkfetch.io.records import OutputRecord, RecordValues, Rendered
from bulkfetch.io.sinks import CsvSink

__all__ = ["XlsxSink"]

# What a sheet holds: rows (the header repeated on each further sheet), and a cell's text.
MAX_ROWS = 1_048_576
MAX_CELL_CHARS = 32_767
# A plain number, as a spreadsheet reads it and shows it back the same: no leading zeros
# (00123 stays text), no trailing zeros after the point (52.0200, a code, stays text), at
# most 11 digits before it (a 12-digit UPRN stays text: a spreadsheet shows it as 1E+11)
# and 15 in all (what a double keeps).
_NUMBER = re.compile(r"-?(?:0|[1-9]\d{0,10})(?:\.\d{0,14}[1-9])?")
_DIGITS = 15
# Characters a workbook cannot hold (controls but tab, LF and CR, lone surrogates, the two
# non-characters U+FFFE and U+FFFF): written as U+FFFD.
_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


class XlsxSink:
    """The CSV sink's lines, read back as cells and appended to a write-only workbook
    (with ``raw_values``: a cell in a workbook is text, never run, so it needs no ``'``)."""

    def __init__(
        self,
        path: Path,
        header: Sequence[str],
        columns: Sequence[str],
        titles: Sequence[str] | None = None,
        row_column: bool = False,
    ) -> None:
        try:
            from openpyxl import Workbook
            from openpyxl.cell import WriteOnlyCell
        except ImportError:
            raise UsageError(
                "writing .xlsx needs openpyxl: pip install 'bulkfetch[xlsx]'"
            ) from None
        self._path = path
        self._book = Workbook(write_only=True)
        self._cell_type = WriteOnlyCell
        self._sheets = 0
        self._rows = 0
        self._header: list[str] | None = None
        self._text = io.StringIO()
        self._csv = CsvSink(
            self._text, header, columns, row_column=row_column, titles=titles, raw_values=True
        )
        self._sheet: Any = None
        self._new_sheet()
        self._drain()

    def __enter__(self) -> XlsxSink:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self._book.save(self._path)

    def render(self, answers: Answers, body: str) -> Rendered:
        return self._csv.render(answers, body)

    def write(self, record: OutputRecord) -> None:
        self._csv.write(record)
        self._drain()

    def write_all(self, records: Iterable[RecordValues]) -> None:
        self._csv.write_all(records)
        self._drain()

    def _new_sheet(self) -> None:
        """The sheet rows go to from now on, under the header if it is known."""
        self._sheets += 1
        self._rows = 0
        name = "output" if self._sheets == 1 else f"output {self._sheets}"
        self._sheet = self._book.create_sheet(name)
        if self._header is not None:
            self._sheet.append([self._string(column) for column in self._header])
            self._rows = 1

    def _drain(self) -> None:
        """Append the lines the CSV sink wrote since last, as rows of cells."""
        text = self._text.getvalue()
        self._text.seek(0)
        self._text.truncate()
        for line in csv.reader(io.StringIO(text, newline="")):
            if self._header is None:
                self._header = line
                self._sheet.append([self._string(column) for column in line])
            else:
                if self._rows >= MAX_ROWS:
                    self._new_sheet()
                self._sheet.append([self._cell(value) for value in line])
            self._rows += 1

    def _cell(self, value: str) -> Any:
        """A number where the text is a plain one, else the text."""
        if _NUMBER.fullmatch(value) and sum(c.isdigit() for c in value) <= _DIGITS:
            return float(value) if "." in value else int(value)
        return self._string(value)

    def _string(self, value: str) -> Any:
        """Text, even when it begins with "=": never a formula."""
        cell = self._cell_type(self._sheet, value=_ILLEGAL.sub("\ufffd", value[:MAX_CELL_CHARS]))
        cell.data_type = "s"
        return cell
