"""The XLSX output: the CSV's cells in a workbook, numbers as numbers, hostile text as text."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest

from bulkfetch.io import workbook
from bulkfetch.io.records import OutputRecord, Rendered


def _written(path: Path, answers: list[str]) -> list[list[object]]:
    with workbook.XlsxSink(path, ["id"], ["value"], row_column=False) as sink:
        for n, text in enumerate(answers):
            line = f",{text}" if "," not in text and '"' not in text else None
            rendered = Rendered(texts=(line,)) if line else Rendered(lines=[[text]])
            sink.write(OutputRecord(n, [str(n)], "ok", rendered, None))
    book = openpyxl.load_workbook(path)
    return [[c.value for c in row] for sheet in book for row in sheet.iter_rows()]


def test_cells_are_numbers_or_text_never_formulas(tmp_path: Path) -> None:
    """Plain numbers are numbers; 00123, a formula and control characters stay text."""
    rows = _written(tmp_path / "o.xlsx", ["12.5", "00123", '=HYPERLINK("http://x","y")', "a\x07b"])
    assert rows[0] == ["id", "status", "error", "value"]
    assert [row[3] for row in rows[1:]] == [12.5, "00123", '=HYPERLINK("http://x","y")', "a\ufffdb"]
    book = openpyxl.load_workbook(tmp_path / "o.xlsx")
    assert book["output"]["D4"].data_type == "s"  # the formula's text, not a formula


def test_rows_past_a_sheets_limit_go_on_a_new_sheet_with_the_header(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sheet holds so many rows: the rest follow on another, under the same header."""
    monkeypatch.setattr(workbook, "MAX_ROWS", 3)
    rows = _written(tmp_path / "o.xlsx", ["1", "2", "3", "4"])
    book = openpyxl.load_workbook(tmp_path / "o.xlsx")
    assert book.sheetnames == ["output", "output 2"]
    assert [r[3] for r in rows] == ["value", 1, 2, "value", 3, 4]


def test_codes_and_identifiers_that_look_like_numbers_stay_text(tmp_path: Path) -> None:
    """52.0200 and a 12-digit UPRN keep their text; lone surrogates and U+FFFF are U+FFFD."""
    given = ["52.0200", "100023336956", "1.10", "12345678901", "a\ud800b\uffff"]
    rows = _written(tmp_path / "o.xlsx", given)
    assert [row[3] for row in rows[1:]] == [
        "52.0200",
        "100023336956",
        "1.10",
        12345678901,
        "a\ufffdb\ufffd",
    ]
