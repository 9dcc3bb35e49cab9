"""Hostile input files on disk: each is refused with a usage error that names the file and
where in it, after reading no more than the bounds of ``bulkfetch.io.sources`` allow."""

from __future__ import annotations

import csv
import datetime
import json
import random
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from xml.sax.saxutils import escape

import openpyxl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from bulkfetch.errors import UsageError
from bulkfetch.io import xlsx
from bulkfetch.io.delimited import DelimitedSource
from bulkfetch.io.jsonl import JsonlSource
from bulkfetch.io.parquet import ParquetSource
from bulkfetch.io.sources import (
    MAX_CELL_CHARS,
    MAX_COLUMNS,
    MAX_LINE_CHARS,
    XLSX_MAX_CELL_CHARS,
)
from bulkfetch.io.xlsx import XlsxSource
from tests.handmade import MAIN, write_workbook

GOOD = ["W6 0WW", "N1 9GU"]


def read_all(source: DelimitedSource | JsonlSource | XlsxSource | ParquetSource) -> None:
    source.header()
    list(source.rows())


def workbook(path: Path, *rows: Sequence[str | int], styles: str | None = None) -> Path:
    """A workbook as Excel writes one, its text in shared strings; with ``styles`` as its
    xl/styles.xml."""
    strings: dict[str, int] = {}
    sheet = []
    for r, row in enumerate(rows, 1):
        cells = []
        for c, value in enumerate(row):
            ref = f"{chr(ord('A') + c)}{r}"
            if isinstance(value, str):
                index = strings.setdefault(escape(value), len(strings))
                cells.append(f'<c r="{ref}" t="s"><v>{index}</v></c>')
            else:
                cells.append(f'<c r="{ref}"><v>{value}</v></c>')
        sheet.append(f'<row r="{r}">{"".join(cells)}</row>')
    table = (f"<si><t>{text}</t></si>".encode() for text in strings)
    return write_workbook(path, "".join(sheet), table, styles=styles)


# -- Delimited text -----------------------------------------------------------------------


def test_importing_the_csv_reader_leaves_the_csv_module_as_it_was() -> None:
    """csv.field_size_limit() is the process's, not ours: the import does not change it."""
    code = (
        "import csv; before = csv.field_size_limit(); import bulkfetch.io.delimited; "
        "print(before, csv.field_size_limit())"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    before, after = done.stdout.split()
    assert after == before == "131072"


def test_a_csv_field_over_the_csv_limit_names_its_row(tmp_path: Path) -> None:
    """A field past csv.field_size_limit(): refused, naming the file, the row and the bound."""
    path = tmp_path / "in.csv"
    limit = csv.field_size_limit()
    path.write_text(f"id,postcode\n1,{GOOD[0]}\n2,{'x' * (limit + 1)}\n3,{GOOD[1]}\n")
    with pytest.raises(UsageError) as refused:
        read_all(DelimitedSource(path))
    message = str(refused.value)
    assert str(path) in message
    assert "data row 2 " in message
    assert f"{limit:,} characters" in message
    assert "quote" in message  # what to do


def test_a_csv_field_left_open_to_the_end_names_the_row_it_began_in(tmp_path: Path) -> None:
    """An unclosed quote runs one field over every later line: refused at the csv limit."""
    path = tmp_path / "in.csv"
    lines = "".join(f"{i},{GOOD[0]}\n" for i in range(20_000))
    path.write_text(f'id,postcode\n1,"{GOOD[0]}\n{lines}')
    with pytest.raises(UsageError, match="data row 1 has a field of more than"):
        read_all(DelimitedSource(path))


def test_a_csv_line_over_the_line_bound_names_its_row(tmp_path: Path) -> None:
    """A line past MAX_LINE_CHARS, its fields each short enough: refused, naming its row."""
    path = tmp_path / "in.csv"
    wide = ",".join(["y" * 100_000] * (MAX_LINE_CHARS // 100_000 + 1))
    path.write_text(f"id,postcode,rest\n1,{GOOD[0]},z\n2,{GOOD[1]},{wide}\n")
    with pytest.raises(UsageError) as refused:
        read_all(DelimitedSource(path))
    message = str(refused.value)
    assert str(path) in message
    assert f"data row 2 has a line of more than {MAX_LINE_CHARS:,} characters" in message


def test_a_header_line_with_no_end_is_refused(tmp_path: Path) -> None:
    """A first line with no line break and no delimiter: refused as the header's."""
    path = tmp_path / "in.csv"
    path.write_text("p" * (MAX_LINE_CHARS + 10))
    with pytest.raises(UsageError, match="the header has a line of more than"):
        DelimitedSource(path).header()


def test_undecodable_bytes_after_a_long_field_still_say_which_byte(tmp_path: Path) -> None:
    """Bad bytes just past an over-long field: the message gives the byte, no traceback."""
    path = tmp_path / "in.csv"
    path.write_bytes(b"id,postcode\n1," + b"x" * 131_070 + b"yyyy\xff\n")
    with pytest.raises(UsageError, match=r"b'\\xff' at byte 131,088 is not utf-8-sig"):
        read_all(DelimitedSource(path))


# -- JSON Lines ---------------------------------------------------------------------------


def jsonl(path: Path, *lines: bytes) -> JsonlSource:
    first = json.dumps({"id": 1, "postcode": GOOD[0]}).encode()
    path.write_bytes(b"\n".join([first, *lines]) + b"\n")
    return JsonlSource(path)


def test_a_json_line_nested_too_deep_names_its_line(tmp_path: Path) -> None:
    """200,000 levels of arrays: a usage error naming the line, not a RecursionError."""
    source = jsonl(tmp_path / "in.jsonl", b"", b"[" * 200_000)
    with pytest.raises(UsageError, match=r"in\.jsonl line 3 is JSON nested too deeply"):
        read_all(source)


def test_a_json_line_of_invalid_utf8_names_its_line(tmp_path: Path) -> None:
    """Bytes that are not UTF-8, a few lines in: the line they are on, and the byte."""
    source = jsonl(tmp_path / "in.jsonl", b'{"postcode": "N1 9GU"}', b'{"postcode": "\xff\xfe"}')
    with pytest.raises(UsageError) as refused:
        read_all(source)
    message = str(refused.value)
    assert "in.jsonl line 3 is not UTF-8: byte 0xff at column 15" in message


def test_a_json_line_over_the_line_bound_names_its_line(tmp_path: Path) -> None:
    """A valid object on a line longer than MAX_LINE_CHARS: refused, naming the line."""
    big = json.dumps({"postcode": "q" * MAX_LINE_CHARS}).encode()
    source = jsonl(tmp_path / "in.jsonl", big)
    with pytest.raises(UsageError, match=rf"line 2 is longer than {MAX_LINE_CHARS:,} characters"):
        read_all(source)


def test_json_lines_with_too_many_keys_between_them_are_refused(tmp_path: Path) -> None:
    """Every key is a column: more than MAX_COLUMNS between the lines is refused."""
    lines = [json.dumps({f"k{i}": i}).encode() for i in range(MAX_COLUMNS)]
    with pytest.raises(UsageError, match=rf"more than {MAX_COLUMNS:,} distinct keys by line"):
        jsonl(tmp_path / "in.jsonl", *lines).header()


# -- Excel --------------------------------------------------------------------------------


def test_a_workbook_whose_shared_strings_are_a_zip_bomb_is_refused(tmp_path: Path) -> None:
    """17 MB of one shared string packed a thousandfold: refused, naming file and part."""
    path = workbook(tmp_path / "in.xlsx", ["postcode"], ["a" * (17 << 20)])
    assert path.stat().st_size < 200_000
    with pytest.raises(UsageError) as refused:
        XlsxSource(path).header()
    message = str(refused.value)
    assert str(path) in message
    assert "xl/sharedStrings.xml" in message
    assert "zip bomb" in message


def test_shared_strings_past_the_memory_budget_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What openpyxl would hold is counted before it reads them: over the budget, refused."""
    path = workbook(tmp_path / "in.xlsx", ["postcode"], *([f"A{i} 1AA"] for i in range(20_000)))
    monkeypatch.setattr(xlsx, "XLSX_READ_BUDGET", 1 << 20)  # 20,000 strings take ~3 MB
    with pytest.raises(UsageError, match=r"more than 1 MB .* in its part xl/sharedStrings.xml"):
        XlsxSource(path).header()


def test_shared_strings_declared_too_large_are_refused_unread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Over the absolute bound on their size: refused, naming the part and the bound."""
    path = workbook(tmp_path / "in.xlsx", ["postcode"], *([f"A{i} 1AA"] for i in range(2000)))
    monkeypatch.setattr(xlsx, "XLSX_MAX_SHARED_STRINGS_BYTES", 10_000)
    with pytest.raises(UsageError, match=r"shared strings \(xl/sharedStrings.xml\) are [\d,]+ "):
        XlsxSource(path).header()


def test_a_shared_string_over_a_megabyte_is_refused_before_it_is_read(tmp_path: Path) -> None:
    """One shared string of 2 MB that packs poorly: refused by the count, naming it."""
    rng = random.Random(7)
    noise = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(2 << 20))
    path = workbook(tmp_path / "in.xlsx", ["postcode"], [GOOD[0]], [noise])
    with pytest.raises(UsageError, match=r"shared string 3 in xl/sharedStrings\.xml is longer"):
        XlsxSource(path).header()


def test_a_workbook_whose_styles_would_fill_memory_is_refused(tmp_path: Path) -> None:
    """1,000,000 empty cell formats in 9 KB (openpyxl: 650 MB): refused, naming the part."""
    formats = "<xf/>" * 1_000_000
    styles = f'<styleSheet xmlns="{MAIN}"><cellXfs>{formats}</cellXfs></styleSheet>'
    path = workbook(tmp_path / "in.xlsx", ["postcode"], [GOOD[0]], styles=styles)
    assert path.stat().st_size < 20_000
    with pytest.raises(UsageError, match=r"more than 360 MB of memory, passed in its part xl/st"):
        XlsxSource(path).header()


def test_an_xlsx_cell_over_excels_limit_names_its_row(tmp_path: Path) -> None:
    """A cell of 32,768 characters: refused, naming the row as the sheet numbers it."""
    path = workbook(
        tmp_path / "in.xlsx",
        ["id", "postcode"],
        [1, GOOD[0]],
        [2, "z" * (XLSX_MAX_CELL_CHARS + 1)],
    )
    with pytest.raises(UsageError) as refused:
        list(XlsxSource(path).rows())
    message = str(refused.value)
    assert str(path) in message
    assert "row 3 has a cell of 32,768 characters" in message


def test_a_normal_workbook_still_reads(tmp_path: Path) -> None:
    """Shared strings, numbers, a cell at Excel's limit, openpyxl's own: read as before."""
    longest = "w" * XLSX_MAX_CELL_CHARS
    path = workbook(
        tmp_path / "in.xlsx", ["id", "postcode", "note"], [1, GOOD[0], longest], [2, GOOD[1]]
    )
    source = XlsxSource(path)
    assert source.header() == ["id", "postcode", "note"]
    assert [fields for _, fields in source.rows()] == [
        ["1", GOOD[0], longest],
        ["2", GOOD[1], ""],
    ]
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["postcode", "when"])
    sheet.append([GOOD[0], datetime.date(2021, 3, 21)])
    book.save(tmp_path / "openpyxl.xlsx")
    assert [f for _, f in XlsxSource(tmp_path / "openpyxl.xlsx").rows()] == [
        [GOOD[0], "2021-03-21T00:00:00"]
    ]


# -- Parquet ------------------------------------------------------------------------------


def test_a_parquet_cell_over_a_megabyte_names_its_row(tmp_path: Path) -> None:
    """A text cell of more than MAX_CELL_CHARS: refused from Arrow's buffers, naming it."""
    path = tmp_path / "in.parquet"
    codes = [GOOD[0], GOOD[1], "p" * (MAX_CELL_CHARS + 1)]
    pq.write_table(pa.table({"id": [1, 2, 3], "postcode": codes}), path)
    with pytest.raises(UsageError, match=r"data row 3 has a cell \('postcode'\) of 1,048,577"):
        list(ParquetSource(path).rows())


def test_a_parquet_column_packed_out_of_all_proportion_is_refused(tmp_path: Path) -> None:
    """17 MB of one value packed into KB: refused from the metadata, naming the column."""
    path = tmp_path / "in.parquet"
    codes = pa.array([GOOD[0], "p" * (17 << 20)], type=pa.large_string())
    pq.write_table(pa.table({"postcode": codes}), path, compression="zstd")
    assert path.stat().st_size < 100_000
    with pytest.raises(UsageError, match=r"its column 'postcode' \(row group 1\) unpacks to"):
        ParquetSource(path).header()
