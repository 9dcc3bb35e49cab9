"""Excel workbooks (.xlsx), read a row at a time with openpyxl (the ``xlsx`` extra): the
first sheet, or the one named; its first row is the header. Cells become text as a person
reads them: whole numbers without ``.0``, dates as ISO dates."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bulkfetch.errors import UsageError
from bulkfetch.io.files import file_hash, open_binary
from bulkfetch.io.sources import Row, text

__all__ = ["XlsxSource"]


@dataclass(frozen=True, slots=True)
class XlsxSource:
    """One sheet of an .xlsx workbook."""

    path: Path
    sheet: str | None = None

    @property
    def name(self) -> str:
        return f"{self.path}" + (f" [{self.sheet}]" if self.sheet else "")

    def header(self) -> list[str]:
        for cells in self._cells():
            return [text(cell) for cell in cells]
        raise UsageError(f"{self.name} is empty: a sheet needs a header row")

    def rows(self, *, on_end: Callable[[str], None] | None = None) -> Iterator[Row]:
        cells = self._cells()
        header = [text(cell) for cell in next(cells, ())]
        width = len(header)
        row_no = 0
        for values in cells:
            if all(value is None for value in values):
                continue  # a row a spreadsheet keeps because it was once formatted
            fields = [text(value) for value in values[:width]]
            yield row_no, fields + [""] * (width - len(fields))
            row_no += 1
        if on_end is not None:
            on_end(self.content_hash())  # read again: what changed meanwhile shows

    def content_hash(self) -> str:
        return file_hash(self.path)

    def identity(self) -> dict[str, object]:
        return {"path": str(self.path.resolve()), "format": "xlsx", "sheet": self.sheet}

    def _cells(self) -> Iterator[tuple[Any, ...]]:
        openpyxl = _openpyxl()
        open_binary(self.path).close()  # a missing or unreadable file, said plainly
        try:
            book = openpyxl.load_workbook(self.path, read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises many kinds for a file that is not .xlsx
            raise UsageError(f"cannot read {self.path} as an .xlsx workbook: {exc}") from None
        try:
            if self.sheet is None:
                sheet = book.worksheets[0]
            elif self.sheet in book.sheetnames:
                sheet = book[self.sheet]
            else:
                names = ", ".join(repr(n) for n in book.sheetnames)
                raise UsageError(f"{self.path} has no sheet {self.sheet!r}; it has {names}")
            yield from sheet.iter_rows(values_only=True)
        finally:
            book.close()


def _openpyxl() -> Any:
    try:
        import openpyxl
    except ImportError:
        raise UsageError(
            "reading .xlsx files needs openpyxl: pip install 'bulkfetch[xlsx]'"
        ) from None
    return openpyxl
