"""Sources and sinks on real files: delimiters found, typed cells read as a person reads
them, JSON Lines columns, the output format from the name, a missing extra named."""

from __future__ import annotations

import datetime
import sys
from pathlib import Path

import pytest

from bulkfetch.errors import UsageError
from bulkfetch.io.delimited import DelimitedSource
from bulkfetch.io.formats import open_source, output_format
from bulkfetch.io.jsonl import JsonlSource
from bulkfetch.io.sources import text
from bulkfetch.io.xlsx import XlsxSource


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_the_delimiter_is_found_from_the_header(tmp_path: Path, delimiter: str) -> None:
    """Whatever one-character delimiter the header uses; a comma inside quotes is a value."""
    path = tmp_path / "in.txt"
    path.write_text(f'id{delimiter}postcode\n1{delimiter}W6 0WW\n2{delimiter}"a, b"\n')
    source = DelimitedSource(path)
    assert source.header() == ["id", "postcode"]
    assert [fields for _, fields in source.rows()] == [["1", "W6 0WW"], ["2", "a, b"]]


def test_a_single_column_and_a_given_delimiter(tmp_path: Path) -> None:
    """No delimiter in the header: one column; one given wins over the guess."""
    path = tmp_path / "in.csv"
    path.write_text("postcode\nW6 0WW\n")
    assert DelimitedSource(path).header() == ["postcode"]
    path.write_text("a;b,c\n1;2,3\n")
    assert DelimitedSource(path, delimiter=",").header() == ["a;b", "c"]
    with pytest.raises(UsageError, match="one character"):
        DelimitedSource(path, delimiter=";;").header()


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (None, ""),
        (12.0, "12"),
        (11.0701, "11.0701"),
        (100023336956, "100023336956"),
        (True, "true"),
        (datetime.date(2021, 3, 21), "2021-03-21"),
        ({"a": 1}, '{"a": 1}'),
        ("W6 0WW", "W6 0WW"),
    ],
)
def test_typed_cells_become_the_text_a_person_reads(value: object, shown: str) -> None:
    """A spreadsheet's whole number has no .0; a date is ISO; a nested value is JSON."""
    assert text(value) == shown


def test_json_lines_columns_are_every_key_in_order(tmp_path: Path) -> None:
    """Keys as they first appear; missing and null are empty; a bad line is named."""
    path = tmp_path / "in.jsonl"
    path.write_text('{"id": 1, "postcode": "W6 0WW"}\n\n{"postcode": null, "extra": [1]}\n')
    source = JsonlSource(path)
    assert source.header() == ["id", "postcode", "extra"]
    assert [fields for _, fields in source.rows()] == [["1", "W6 0WW", ""], ["", "", "[1]"]]
    path.write_text('{"id": 1}\n[1, 2]\n')
    with pytest.raises(UsageError, match="line 2 is not a JSON object"):
        list(JsonlSource(path).rows())


def test_formats_follow_the_name_unless_given(tmp_path: Path) -> None:
    """Inputs and outputs by their suffix; an unknown format is refused."""
    assert isinstance(open_source(tmp_path / "a.ndjson"), JsonlSource)
    assert isinstance(open_source(tmp_path / "a.xlsx"), XlsxSource)
    assert open_source(tmp_path / "a.tsv") == DelimitedSource(tmp_path / "a.tsv", delimiter="\t")
    assert isinstance(open_source(tmp_path / "a.dat", format="jsonl"), JsonlSource)
    names = ("o.csv", "o.TSV", "o.jsonl", "o.parquet", "-", "o.xlsx", "o.txt", "o")
    assert [output_format(Path(n)) for n in names] == [
        "csv",
        "tsv",
        "jsonl",
        "parquet",
        "csv",
        "xlsx",
        "csv",
        "csv",
    ]
    with pytest.raises(UsageError, match="one of"):
        output_format(Path("o.csv"), "xml")
    with pytest.raises(UsageError, match=r"does not write \.json files \(JSON Lines: \.jsonl\)"):
        output_format(Path("o.json"))
    with pytest.raises(UsageError, match=r"does not write \.xls files"):
        output_format(Path("o.XLS"))
    assert output_format(Path("o.json"), "jsonl") == "jsonl"  # given: as given


def test_a_format_whose_library_is_missing_names_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without openpyxl: a usage error that says which extra to install."""
    monkeypatch.setitem(sys.modules, "openpyxl", None)
    path = tmp_path / "in.xlsx"
    path.write_bytes(b"")
    with pytest.raises(UsageError, match=r"bulkfetch\[xlsx\]"):
        XlsxSource(path).header()
