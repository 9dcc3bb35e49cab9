"""Writing output fast changes no byte of it, continued: answers of a shape seen before,
read from their text, make the lines decoded answers make; and the store's one ordered
scan gives every row, in order, with the columns in order of first appearance."""

from __future__ import annotations

import io
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bulkfetch import CrystalRoof
from bulkfetch.io.flatten import flatten
from bulkfetch.io.sinks import CsvSink
from bulkfetch.jobs import Lookup, Outcome, OutcomeKind
from bulkfetch.store import RowEntry, RunSpec, Store
from bulkfetch.store import results as stored
from tests.unit.test_output_writing import hostile


class _Flat:
    """A writer of CrystalRoof's kind: a body's ``data`` flattened, and its ``dataDate``;
    with ``output_column``, its answers' shapes are learnt, without, they are not."""

    fixed_columns = ("data_date",)
    expands_rows = False

    def output_rows(self, body: str) -> list[dict[str, Any]]:
        parsed = json.loads(body)
        line = flatten(parsed["data"])
        line["data_date"] = parsed.get("dataDate")
        return [line]

    def output_document(self, body: str) -> Mapping[str, Any]:
        raise AssertionError("not a flat output")


class _Named(_Flat):
    output_column = staticmethod(CrystalRoof("key").output_column)


scalars = st.one_of(
    st.integers(min_value=-(2**65), max_value=2**65),
    st.sampled_from([0, -1, 10**18, -(10**18), 10**17, 2**63]),
    st.floats(),
    st.booleans(),
    st.none(),
    hostile,
)
skeletons = st.dictionaries(
    st.sampled_from(["a", "b", "a.b", "é", "x,y", '"q"', "data_date"]),
    st.one_of(st.none(), st.dictionaries(st.sampled_from(["a", "b", "c"]), st.none(), max_size=3)),
    max_size=4,
)


@st.composite
def bodies(draw: st.DrawFn) -> list[str]:
    """Answers of a shape or two, their values drawn, written as one server would (its
    spaces and escapes), a few of them as another would; some holding a list."""
    written: dict[str, Any] = draw(
        st.sampled_from(
            [
                {"ensure_ascii": False},
                {"ensure_ascii": True},
                {"separators": (",", ":")},
                {"indent": 1},
            ]
        )
    )
    found = []
    for skeleton in draw(st.lists(skeletons, min_size=1, max_size=2)):
        for _ in range(draw(st.integers(min_value=1, max_value=4))):
            data = {
                key: draw(scalars)
                if inner is None
                else {k: draw(scalars | st.lists(st.integers(), max_size=2)) for k in inner}
                for key, inner in skeleton.items()
            }
            body = {"data": data, "dataDate": draw(scalars), "refreshedDate": draw(scalars)}
            dumps: dict[str, Any] = written if draw(st.integers(0, 5)) else {"indent": 2}
            found.append(json.dumps(body, **dumps))
    return found


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bodies(), st.sampled_from([",", "\t"]), st.booleans())
def test_answers_of_a_shape_seen_are_written_as_when_decoded(
    found: list[str], delimiter: str, raw: bool
) -> None:
    """Values that are whole numbers of any size or sign, texts plain or not, numbers
    that are not whole, truths, nothing, lists; keys that flatten to one name: lines read
    from answers' text are the lines decoded answers make, byte for byte."""
    columns = list(dict.fromkeys(c for body in found for c in _Flat().output_rows(body)[0]))
    outputs = []
    for answers in (_Flat(), _Named()):
        out = io.StringIO()
        sink = CsvSink(out, ["a"], columns, row_column=False, delimiter=delimiter, raw_values=raw)
        records = [
            (i, ["x"], "ok", sink.render(answers, body), None) for i, body in enumerate(found * 2)
        ]
        sink.write_all(records)
        outputs.append(out.getvalue())
    assert outputs[0] == outputs[1]


def test_an_occupation_answer_s_shape_is_learnt_and_read() -> None:
    """CrystalRoof's answers: the first decoded and its shape learnt, the next read from
    its text, the same cells either way; one of another shape decoded."""
    api = CrystalRoof("key")
    columns = ["r.A, b", "k", "none", "data_date", "r.Total"]

    def body(total: int, k: str) -> str:
        data = {"r": {"Total": total, "A, b": -1}, "k": k}
        body = {"data": data, "dataDate": "2021", "refreshedDate": "x"}
        return json.dumps(body, ensure_ascii=False)

    out = io.StringIO()
    sink = CsvSink(out, ["a"], columns, row_column=False)
    first, second = sink.render(api, body(3, "x")), sink.render(api, body(40, "é y"))
    other = sink.render(api, json.dumps({"data": {"r": 1.5}}))
    assert first.texts == (",-1,x,,2021,3",)
    assert second.texts == (",-1,é y,,2021,40",)
    assert other.texts == (",,,,,",)
    assert len(sink._shapes) == 1


@pytest.mark.parametrize(
    ("columns", "date"),
    [
        (["r.Total", "r.A, b", "k", "data_date"], "2021"),  # the values, in their order
        (["k", "none", "r.Total"], "2021"),  # some, and one of none
        (["data_date", "r.Total"], 2021.5),  # one the same in every answer of the shape
        ([], True),
    ],
)
def test_a_shape_gives_the_columns_asked_for(columns: list[str], date: Any) -> None:
    """Whichever columns, in whichever order: the cells the answers decoded make, the
    first answer's shape learnt and the others read by it."""
    fast = CsvSink(io.StringIO(), [], columns, row_column=False)
    slow = CsvSink(io.StringIO(), [], columns, row_column=False)
    found = []
    for total in (3, -40, 0):
        data = {"r": {"Total": total, "A, b": -1}, "k": f"k{total}"}
        found.append(json.dumps({"data": data, "dataDate": date}, ensure_ascii=False))
    api, decoded = CrystalRoof("key"), _Flat()
    read = [fast.render(api, body).texts for body in found]
    assert read == [slow.render(decoded, body).texts for body in found]
    assert len(fast._shapes) == 1
    assert fast._learning == 31  # learnt from the first: the others read by its shape


@pytest.mark.parametrize(
    "other",
    [
        '{"data": {"r": {"Total": -0, "A, b": -1}, "k": "x"}, "dataDate": "2021"}',
        '{"data": {"r": {"Total": 03, "A, b": -1}, "k": "x"}, "dataDate": "2021"}',
        '{"data": {"r": {"Total": 1234567890123456789, "A, b": -1}, "k": "x"}, "dataDate": "1"}',
        '{"data": {"r": {"Tota": 10, "A, b": -1}, "k": "x"}, "dataDate": "2021"}',
        '{"data": {"r": {"Total": 3, "A, b": -1}, "k": "=x"}, "dataDate": "2021"}',
        '{"data": {"r": {"Total": 3, "A, b": -1}, "k": 7}, "dataDate": "2021"}',
        '{"data": {"r": {"Total": 3, "A, b": -1}, "k": "x,y"}, "dataDate": "2021"}',
        '{"data": {"r": {"Total": 3, "A, b": "1"}, "k": "x"}, "dataDate": "2021"}',
        '{"data": {"r": {"Total": 3, "A, b": -1}, "k": "x"}, "dataDate": "2021"} ',
    ],
)
def test_a_text_of_another_shape_is_decoded(other: str) -> None:
    """A text not of a learnt shape, or with a value of another kind there: as decoded."""
    first = '{"data": {"r": {"Total": 3, "A, b": -1}, "k": "x"}, "dataDate": "2021"}'
    columns = ["r.Total", "r.A, b", "k", "data_date"]
    fast = CsvSink(io.StringIO(), [], columns, row_column=False)
    slow = CsvSink(io.StringIO(), [], columns, row_column=False)
    fast.render(CrystalRoof("key"), first)
    assert len(fast._shapes) == 1

    def rendered(sink: CsvSink, answers: Any) -> Any:
        try:
            return sink.render(answers, other)
        except ValueError:  # not JSON
            return "refused"

    assert rendered(fast, CrystalRoof("key")) == rendered(slow, _Flat())


def _lookup(location: str) -> Lookup:
    return Lookup.of("crystalroof", "http://o", "a/b", {"location": location})


async def test_the_scan_gives_every_row_in_order_and_columns_in_order_of_first_answer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pages end and start anywhere; a row with no lookup has no job; the columns of
    several shapes come in the order of the first job of each, one shape's at once."""
    monkeypatch.setattr(stored, "SCAN_PAGE", 3)
    entries = [
        RowEntry(i, _lookup(f"P{i % 4}"), None, [str(i), "é"])
        if i % 5
        else RowEntry(i, None, "bad", [str(i), "é"])
        for i in range(11)
    ]
    async with await Store.open(tmp_path / "s.db") as store:
        run = await store.runs.begin(RunSpec("k", "crystalroof", "a/b", "run"), now=1.0)
        await store.queue.enqueue(run.id, entries, now=1.0)
        assert await store.results.columns(run.id) == []
        claim = await store.queue.claim(run.id, owner="a", limit=9, now=2.0, lease_seconds=60)
        jobs = sorted(claim.jobs, key=lambda job: job.id)
        shapes = [("z", "y"), ("a",), ("y", "b"), ("z", "y")]
        done = [
            Outcome(j.id, OutcomeKind.DONE, 200, f"body {j.id}", shape)
            for j, shape in zip(jobs, shapes, strict=True)
        ]
        await store.queue.apply(run.id, done[1:], now=3.0, max_attempts=3, owner="a")
        assert await store.results.columns(run.id) == ["a", "y", "b", "z"]
        await store.queue.apply(run.id, done[:1], now=3.0, max_attempts=3, owner="a")
        assert await store.results.columns(run.id) == ["z", "y", "a", "b"]
        pages = [page async for page in store.results.scan(run.id)]
    rows = [row for page in pages for row in page]
    assert [len(page) for page in pages] == [3, 3, 3, 2]
    assert [row[0] for row in rows] == list(range(11))
    assert [stored.Results.fields(row[5]) for row in rows] == [[str(i), "é"] for i in range(11)]
    assert [(row[1], row[2], row[4]) for row in rows if row[0] % 5 == 0] == [
        (None, None, "bad")
    ] * 3
    by_job = {o.job_id: o.body for o in done}
    assert all(row[3] == by_job[row[1]] and row[2] == "done" for row in rows if row[1])
