"""Writing output fast changes no byte of it: CSV and TSV lines written as text without
csv are what csv writes, JSON Lines lines made piece by piece are what ``json.dumps`` makes
of the whole line, and nested answers flatten as they did (see also test_output_shapes)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bulkfetch.io.cells import hides_formula, neutral
from bulkfetch.io.flatten import flatten
from bulkfetch.io.records import (
    OutputRecord,
    Rendered,
    added_columns,
    distinct_names,
    output_names,
)
from bulkfetch.io.sinks import CsvSink, JsonlSink


class _Answers:
    """Answers whose kept body is the key of its lines (CSV) or of its document (JSONL)."""

    fixed_columns: tuple[str, ...] = ()
    expands_rows = True

    def __init__(self, found: Mapping[str, Any]) -> None:
        self._found = found

    def output_rows(self, body: str) -> Sequence[Mapping[str, Any]]:
        return self._found[body]  # type: ignore[no-any-return]

    def output_document(self, body: str) -> Mapping[str, Any]:
        return self._found[body]  # type: ignore[no-any-return]


texts = st.text(alphabet=st.characters(codec="utf-8"), max_size=8)
hostile = st.one_of(
    texts,
    st.sampled_from(
        [
            *["", "\r", "\n", '"', ",", ";", "\t", "\0", "'", " ", "=1", "-2", "-x", "+44"],
            *["@a", "x;=1", "a, -2", "2021-03-21", "é", "\\", "\ufeff", "\U0001f600", '"x"'],
            "\ud800",
        ]
    ),
    st.lists(st.sampled_from(["a", ",", "-", "=", ";", " ", '"', "1"]), max_size=5).map("".join),
)
values = st.one_of(
    hostile,
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(),
    st.decimals(allow_nan=False, places=2),
)


def _reference_csv(
    rows: Sequence[tuple[int, list[Any], str, str | None, list[list[Any]]]],
    header: list[str],
    columns: list[str],
    *,
    delimiter: str,
    raw: bool,
    row_column: bool,
) -> str:
    """What CsvSink wrote before it wrote lines as text: every line through csv."""

    def cell(value: Any) -> Any:
        return "" if value is None else value if raw else neutral(value)

    def hides(cells: Sequence[Any]) -> bool:
        return not raw and any(hides_formula(c) for c in cells)

    out = io.StringIO()

    class Rows:
        def write(self, row: str) -> int:
            return out.write(row[:-2] + "\n" if row.endswith("\r\n") else row)

    plain = csv.writer(Rows(), delimiter=delimiter, lineterminator="\r\n")
    quoted = csv.writer(Rows(), delimiter=delimiter, lineterminator="\r\n", quoting=csv.QUOTE_ALL)
    names = output_names(header, [cell(n) for n in added_columns(columns, row_column=row_column)])
    bom = bool(header) and header[0].startswith("\ufeff")
    (quoted if bom or hides(names) else plain).writerow([*header, *names])
    for row_no, fields, status, error, lines in rows:
        cells = [[cell(v) for v in line] for line in lines]
        said = cell(error)
        writer = quoted if any(hides(c) for c in cells) or hides([said]) else plain
        extra = [row_no + 1] if row_column else []
        for line in cells or [[""] * len(columns)]:
            writer.writerow([*fields, *extra, status, said, *line])
    return out.getvalue()


@st.composite
def outputs(draw: st.DrawFn) -> dict[str, Any]:
    """An input and, for each of its rows, a status, an error and its answer's lines."""
    header = draw(st.lists(hostile, max_size=3))
    columns = draw(st.lists(hostile, max_size=4, unique=True))
    width = st.lists(values, min_size=len(columns), max_size=len(columns))
    rows = [
        (
            row_no,
            draw(st.lists(hostile, min_size=len(header), max_size=len(header))),
            draw(st.sampled_from(["ok", "not_found", "failed"])),
            draw(st.one_of(st.none(), hostile)),
            draw(st.lists(width, max_size=2)),
        )
        for row_no in range(draw(st.integers(min_value=0, max_value=6)))
    ]
    return {"header": header, "columns": columns, "rows": rows}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    outputs(),
    st.sampled_from([",", "\t"]),
    st.booleans(),
    st.booleans(),
    st.booleans(),
)
def test_csv_lines_written_as_text_are_what_csv_writes(
    found: dict[str, Any], delimiter: str, raw: bool, row_column: bool, one_by_one: bool
) -> None:
    """Whatever the cells hold (text csv quotes or a spreadsheet would run, numbers of any
    size, nothing): each line's bytes are csv's, as written before, whether a record is
    written alone or among others, and an answer blank or of no lines is blank cells."""
    header, columns, rows = found["header"], found["columns"], found["rows"]
    lines = {
        str(row[0]): [dict(zip(columns, line, strict=True)) for line in row[4]] for row in rows
    }
    out = io.StringIO()
    sink = CsvSink(out, header, columns, row_column=row_column, delimiter=delimiter, raw_values=raw)
    records = [
        (
            row_no,
            fields,
            status,
            sink.render(_Answers(lines), str(row_no)) if answer or row_no % 2 else Rendered(),
            error,
        )
        for row_no, fields, status, error, answer in rows
    ]
    if one_by_one:
        for values_ in records:
            sink.write(OutputRecord(*values_))
    else:
        sink.write_all(records)
    expected = _reference_csv(
        rows, header, columns, delimiter=delimiter, raw=raw, row_column=row_column
    )
    assert out.getvalue() == expected


def _reference_jsonl(
    header: list[str], fields: list[str], status: str, error: str | None, doc: Any
) -> str:
    """What JsonlSink wrote before it made lines piece by piece."""
    given = dict(zip(distinct_names(header), fields, strict=False))
    line: dict[str, Any] = {"input": given, "status": status}
    if error is not None:
        line["error"] = error
    for name, value in (doc or {}).items():
        while name in line or name in {"input", "status", "error"}:
            name += "_"
        line[name] = value
    return json.dumps(line, ensure_ascii=False) + "\n"


keys = st.one_of(texts, st.sampled_from(["status", "input", "error", "status_", "data", "é"]))
leaves = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), texts)
documents = st.dictionaries(
    keys,
    st.recursive(
        leaves,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=3),
        max_leaves=8,
    ),
    max_size=5,
)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(texts, max_size=3),
    st.lists(st.tuples(st.lists(texts, max_size=4), st.one_of(st.none(), texts), documents)),
)
def test_jsonl_lines_made_piece_by_piece_are_what_json_dumps_makes(
    header: list[str], rows: list[tuple[list[str], str | None, dict[str, Any]]]
) -> None:
    """The input, status, error and answer (its keys clear of the row's own) as one
    json.dumps of the whole line would write them."""
    bodies = {str(i): doc for i, (_, _, doc) in enumerate(rows)}
    out = io.StringIO()
    sink = JsonlSink(out, header)
    records = [
        (i, fields, "ok", sink.render(_Answers(bodies), str(i)), error)
        for i, (fields, error, _) in enumerate(rows)
    ]
    sink.write_all([*records, (len(rows), ["x"], "pending", Rendered(), "not fetched yet")])
    expected = [_reference_jsonl(header, f, "ok", e, d) for f, e, d in rows]
    expected.append(_reference_jsonl(header, ["x"], "pending", "not fetched yet", None))
    assert out.getvalue() == "".join(expected)


def test_an_answer_json_cannot_write_is_refused_when_its_row_is_written() -> None:
    """As before: rendered, then refused by json with its row (not made a failed row)."""
    sink = JsonlSink(io.StringIO(), ["a"])
    answer = sink.render(_Answers({"b": {"x": {1, 2}}}), "b")
    with pytest.raises(TypeError, match="set"):
        sink.write_all([(0, ["1"], "ok", answer, None)])


def _flatten_before(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(_flatten_before(value, f"{name}."))
        elif isinstance(value, list):
            flat[name] = json.dumps(value, ensure_ascii=False)
        else:
            flat[name] = value
    return flat


dotted = st.sampled_from(["a", "b", "a.b", "b.a", "a.b.a", "", "."])


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        dotted,
        st.recursive(
            leaves | st.lists(st.integers(), max_size=2),
            lambda inner: st.dictionaries(dotted, inner, max_size=3),
            max_leaves=10,
        ),
        max_size=4,
    )
)
def test_flatten_gives_the_names_values_and_order_it_gave(data: dict[str, Any]) -> None:
    """Names that collide (``a.b`` beside ``a: {b}``) take the later value in the earlier
    place, as they did; lists are JSON text."""
    assert list(flatten(data).items()) == list(_flatten_before(data).items())


def test_decimal_cells_are_csv_s() -> None:
    """A value of a type csv writes with str() and no other path knows: csv's, quoted."""
    out = io.StringIO()
    sink = CsvSink(out, ["a"], ["v"], row_column=False)
    answer = sink.render(_Answers({"b": [{"v": Decimal("1.50")}]}), "b")
    sink.write_all([(0, ["x"], "ok", answer, None)])
    assert out.getvalue() == "a,status,error,v\nx,ok,,1.50\n"
