"""Cells in CSV and TSV output: what came from the API cannot run in a spreadsheet, and
whatever any cell holds reads back, by Python's csv and by pandas, as it was written."""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd  # type: ignore[import-untyped]  # no stubs: only read_csv is called
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bulkfetch.io.cells import hides_formula, neutral
from bulkfetch.io.records import OutputRecord, added_columns, output_names
from bulkfetch.io.sinks import OutputFormat, open_sink


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r", "\n", "\0"])
def test_a_text_beginning_like_a_formula_gets_a_quote(start: str) -> None:
    """Each of OWASP's characters (and ASVS's NUL) first: a ``'`` before the text."""
    assert neutral(f'{start}HYPERLINK("http://x")') == f'\'{start}HYPERLINK("http://x")'
    assert neutral(start) == f"'{start}"


@pytest.mark.parametrize("number", ["-12.5", "+44", "-0", "-.5", "-5.", "+1e3", "-1E-05"])
def test_a_text_that_is_a_plain_number_is_left_alone(number: str) -> None:
    """A finite decimal number, sign and all: a spreadsheet reads it as that number."""
    assert neutral(number) == number


@pytest.mark.parametrize("text", ["-inf", "+nan", "-1e999", "-1-1", "+44 20 7946 0000", "-٣"])
def test_a_text_that_only_looks_numeric_gets_a_quote(text: str) -> None:
    """Not a finite number of ASCII digits: text, which a spreadsheet may try to run."""
    assert neutral(text) == f"'{text}"


@pytest.mark.parametrize("value", [-12, -0.5, float("-inf"), True, None])
def test_numbers_and_other_values_are_never_touched(value: object) -> None:
    """Python numbers (and anything not text) are written as they are."""
    assert neutral(value) is value


@pytest.mark.parametrize("text", ["", "plain", " =1+2", "a=b", "'=already", "W6 0WW", "12"])
def test_plain_text_and_the_empty_string_are_left_alone(text: str) -> None:
    """A text that does not begin like a formula, or begins with a space or quote: as is."""
    assert neutral(text) == text


@pytest.mark.parametrize(
    ("text", "hides"),
    [("x;=1+2", True), ("x, -2", True), ("x\t@SUM(A1)", True), ("x;\"'=1", True)],
    ids=["semicolon", "comma-space", "tab", "quotes"],
)
def test_a_formula_after_a_separator_makes_its_row_quoted(text: str, hides: bool) -> None:
    """What another reader's separator would make the start of a cell is found."""
    assert hides_formula(text) is hides
    assert not hides_formula("Hammersmith and Fulham, London")
    assert not hides_formula(-1)


# -- round trips through the real sink ------------------------------------------------------


class _Lines:
    """Answers whose kept body is the key of its lines."""

    fixed_columns: tuple[str, ...] = ()

    def __init__(self, lines: Mapping[str, Sequence[Mapping[str, Any]]], expands: bool) -> None:
        self._lines = lines
        self.expands_rows = expands

    def output_rows(self, body: str) -> Sequence[Mapping[str, Any]]:
        return self._lines[body]

    def output_document(self, body: str) -> Mapping[str, Any]:
        raise AssertionError("not a flat output")


texts = st.text(alphabet=st.characters(codec="utf-8"), max_size=12)
hostile = st.one_of(
    texts,
    st.sampled_from(
        ["\r", "\n", "\r\n", '"', ",", "\t", "\0", "\ufeff", "=1+2", "x;=1", "\U0001f600"]
    ),
)
values = st.one_of(hostile, st.none(), st.integers(), st.floats(allow_nan=False))


@st.composite
def outputs(draw: st.DrawFn) -> dict[str, Any]:
    """An input (header and rows) and, for each row, an error and the answer's lines."""
    header = draw(st.lists(hostile, max_size=4))
    columns = draw(st.lists(hostile, max_size=4, unique=True))
    rows = draw(st.lists(st.lists(hostile, min_size=len(header), max_size=len(header))))
    answers = [
        (
            draw(st.one_of(st.none(), hostile)),
            draw(st.lists(st.lists(values, min_size=len(columns), max_size=len(columns)))),
        )
        for _ in rows
    ]
    return {"header": header, "columns": columns, "rows": rows, "answers": answers}


def _as_given(value: Any) -> Any:
    return value


def _expected(found: dict[str, Any], raw: bool) -> list[list[str]]:
    """The cells the output must read back as: the input's as given, the API's neutralised
    (unless raw), a blank answer line for a row without one."""
    cell = _as_given if raw else neutral
    header, columns = found["header"], found["columns"]
    added = [cell(name) for name in added_columns(columns, row_column=True)]
    expected = [[*header, *output_names(header, added)]]
    rows = zip(found["rows"], found["answers"], strict=True)
    for row_no, (fields, (error, lines)) in enumerate(rows):
        for line in lines or [[None] * len(columns)]:
            values = [cell("" if error is None else error), *(cell(v) for v in line)]
            text = ["" if v is None else str(v) for v in values]
            expected.append([*fields, str(row_no + 1), "ok", *text])
    return expected


def _write(path: Path, output: OutputFormat, found: dict[str, Any], raw: bool) -> None:
    bodies = {
        str(i): [dict(zip(found["columns"], line, strict=True)) for line in lines]
        for i, (_error, lines) in enumerate(found["answers"])
    }
    answers = _Lines(bodies, expands=True)
    with open_sink(
        path, output, found["header"], found["columns"], row_column=True, raw_values=raw
    ) as sink:
        for row_no, fields in enumerate(found["rows"]):
            error = found["answers"][row_no][0]
            answer = sink.render(answers, str(row_no))
            sink.write(OutputRecord(row_no, fields, "ok", answer, error))


def _by_csv(path: Path, delimiter: str) -> list[list[str]]:
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle, delimiter=delimiter))


def _by_pandas(path: Path, delimiter: str) -> list[list[str]]:
    frame = pd.read_csv(
        path,
        sep=delimiter,
        header=None,
        dtype=str,
        keep_default_na=False,
        na_filter=False,
        encoding="utf-8",
    )
    return [list(row) for row in frame.itertuples(index=False)]


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder the examples write their outputs in (each overwrites the last)."""
    return tmp_path_factory.mktemp("cells")


@pytest.mark.parametrize(("output", "delimiter"), [("csv", ","), ("tsv", "\t")])
@pytest.mark.parametrize("raw", [False, True], ids=["neutralised", "raw"])
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(found=outputs())
def test_every_cell_reads_back_as_written(
    folder: Path, output: OutputFormat, delimiter: str, raw: bool, found: dict[str, Any]
) -> None:
    """Any text (CR, LF, quotes, delimiters, NUL, non-BMP), numbers and blanks, as input
    cells, column names, errors and answers: Python's csv and pandas read back each cell
    exactly, the API's neutralised (or, with raw values, as given)."""
    path = folder / f"out.{output}"
    _write(path, output, found, raw)
    expected = _expected(found, raw)
    assert _by_csv(path, delimiter) == expected
    assert _by_pandas(path, delimiter) == expected


@pytest.mark.parametrize("output", ["csv", "tsv"])
def test_a_first_column_name_beginning_with_u_feff_keeps_it(
    tmp_path: Path, output: OutputFormat
) -> None:
    """A file beginning with U+FEFF's bytes begins with a byte-order mark to pandas (and
    to utf-8-sig readers), which drop it: that first cell is quoted, and kept."""
    found = {"header": ["\ufeffid"], "columns": ["v"], "rows": [["1"]], "answers": [(None, [])]}
    path = tmp_path / f"out.{output}"
    _write(path, output, found, raw=False)
    delimiter = "\t" if output == "tsv" else ","
    assert path.read_bytes().startswith(b'"\xef\xbb\xbfid"')
    assert _by_pandas(path, delimiter)[0][0] == _by_csv(path, delimiter)[0][0] == "\ufeffid"
