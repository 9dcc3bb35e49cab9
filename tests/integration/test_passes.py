"""Several runs over one input in one pass (CrystalRoof's datasets side by side): the input
read once, each chunk stored for every run in one transaction, each row's fields kept once
(by one run of the pass, which the others name), on a real SQLite file and a real
PostgreSQL database for the store's part, and against the real emulator for the runs'."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from bulkfetch import CrystalRoof
from bulkfetch.adapter import Operation
from bulkfetch.apis.crystalroof.catalogue import choose
from bulkfetch.apis.crystalroof.client import DatasetOperation
from bulkfetch.apis.crystalroof.columns import LocationColumns
from bulkfetch.clock import SystemClock
from bulkfetch.engine import StopRequest
from bulkfetch.errors import UsageError
from bulkfetch.io.delimited import CsvSource, DelimitedSource
from bulkfetch.io.formats import open_source
from bulkfetch.io.iterable import COLUMN, IterableSource
from bulkfetch.io.sources import Row
from bulkfetch.jobs import Lookup, StopKind
from bulkfetch.run import export_run, run_file
from bulkfetch.run.enqueue import CHUNK
from bulkfetch.run.pace import pacer_for
from bulkfetch.run.passes import begin_pass
from bulkfetch.samples import postcodes, write_postcode_file
from bulkfetch.store import RowEntry, RunSpec, Store
from tests.conftest import KEY, Emulator
from tests.integration.test_streaming import _Answered, held_back

THREE = ("occupation", "income", "flood-risk")


@pytest.fixture(params=["sqlite", "postgres"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A store to open: a SQLite file, or a PostgreSQL database of the test's own."""
    if request.param == "sqlite":
        return str(tmp_path / "s.db")
    return str(request.getfixturevalue("postgres_url"))


def _lookup(endpoint: str, location: str) -> Lookup:
    return Lookup.of("crystalroof", "http://origin", endpoint, {"location": location})


def _spec(key: str) -> RunSpec:
    return RunSpec(run_key=key, api="crystalroof", endpoint="e", description=key, header="[]")


async def test_a_chunk_is_stored_for_every_run_with_its_fields_once(target: str) -> None:
    """One transaction for two runs: the one that keeps the fields has them, the other
    reads them through it; each run its own jobs; enqueued again, nothing changes."""
    async with await Store.open(target) as store:
        first = await store.runs.begin(_spec("a"), now=1.0)
        second = await store.runs.begin(_spec("b"), now=1.0)
        held = await store.runs.hold_fields([first.id, second.id])
        chunk = {
            first.id: [RowEntry(i, _lookup("a", f"P{i}"), None, [f"{i}", "é"]) for i in range(5)],
            second.id: [RowEntry(i, _lookup("b", f"P{i}"), None, None) for i in range(5)],
        }
        await store.queue.enqueue_pass(chunk, now=1.0)
        await store.queue.enqueue_pass(chunk, now=2.0)
        rows = {run: [row async for row in store.results.rows(run)] for run in held}
        counts = [await store.runs.counts(run) for run in held]
    assert held == {first.id: None, second.id: first.id}
    for run in held:
        assert [row.fields for row in rows[run]] == [[f"{i}", "é"] for i in range(5)]
    assert {row.job_id for row in rows[first.id]}.isdisjoint(r.job_id for r in rows[second.id])
    assert [(c.rows, c.jobs_by_state) for c in counts if c] == [(5, {"pending": 5})] * 2


async def test_the_run_that_keeps_the_fields_never_names_another(target: str) -> None:
    """The run of a pass that keeps some of its fields already (else its first) keeps them
    for the others being enqueued; a run named keeps its own ever after, one that names
    another is never named: no chain."""
    async with await Store.open(target) as store:
        a, b, c = [(await store.runs.begin(_spec(k), now=1.0)).id for k in "abc"]
        first = await store.runs.hold_fields([a, b])
        second = await store.runs.hold_fields([b, c, a])
        third = await store.runs.hold_fields([c, a])
    assert first == {a: None, b: a}
    assert second == {b: a, c: a, a: None}
    assert third == {c: a, a: None}


def _count_reads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """A read of a CSV file's rows counted in the list, as it begins."""
    reads: list[int] = []
    rows = DelimitedSource.rows

    def counted(self: DelimitedSource, **options: Any) -> Iterator[Row]:
        reads.append(1)
        yield from rows(self, **options)

    monkeypatch.setattr(DelimitedSource, "rows", counted)
    return reads


def _operations(api: CrystalRoof) -> dict[str, Operation[Any]]:
    return {name: DatasetOperation.of(api, choose(name, {})) for name in THREE}


def _stored(db: Path) -> tuple[int, int]:
    """The rows the store holds for all its runs, and how many of them keep fields."""
    with sqlite3.connect(db) as conn:
        rows, kept = conn.execute("SELECT count(*), count(fields) FROM run_rows").fetchone()
    return int(rows), int(kept)


async def test_three_datasets_read_the_input_once_and_keep_its_fields_once(
    emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pass of three datasets reads its input once, keeps each row's fields once, and
    every run's output (written by export, from the store alone) has each row's fields."""
    source = write_postcode_file(tmp_path / "in.csv", CHUNK + 300, seed=31, malformed_rate=0.02)
    reads = _count_reads(monkeypatch)
    db = tmp_path / "s.db"
    async with (
        CrystalRoof(KEY, base_url=emulator.url) as api,
        await Store.open(db) as store,
    ):
        runs = await begin_pass(
            store, _operations(api), open_source(source), column=LocationColumns("postcode"),
        )  # fmt: skip
        assert sum(reads) == 1
        assert [run.rows for run in runs.values()] == [CHUNK + 300] * 3
        assert _stored(db) == (3 * (CHUNK + 300), CHUNK + 300)
        outs = []
        for name, run in runs.items():
            outs.append(tmp_path / f"{name}.csv")
            await export_run(store, run.id, outs[-1])
    lines = source.read_text().splitlines()
    for out in outs:
        written = out.read_text().splitlines()
        assert len(written) == len(lines)
        assert all(w.startswith(f"{line},") for w, line in zip(written, lines, strict=True))


async def test_a_pass_stopped_while_enqueueing_carries_on_for_every_run(
    emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stop after the first chunk leaves every run of the pass holding it; begun again,
    the pass enqueues the rest for all, and each run holds what a pass never stopped holds."""
    monkeypatch.setattr("bulkfetch.run.run.BULK_CHUNK", CHUNK)  # enqueued before any call
    source = write_postcode_file(tmp_path / "in.csv", 2 * CHUNK + 50, seed=32, repeat_rate=0.2)

    async def pass_over(db: Path, stop: StopRequest | None) -> list[list[Any]]:
        async with (
            CrystalRoof(KEY, base_url=emulator.url) as api,
            await Store.open(db) as store,
        ):
            runs = await begin_pass(
                store, _operations(api), open_source(source),
                column=LocationColumns("postcode"), stop=stop,
            )  # fmt: skip
            if stop is not None:
                stopped = [(r.rows, r.enqueue_complete) for r in runs.values()]
                assert stopped == [(CHUNK, False)] * 3
                return []
            held = []
            for run in runs.values():
                assert (run.rows, run.enqueue_complete) == (2 * CHUNK + 50, True)
                counts = await store.runs.counts(run.id)
                assert counts is not None
                rows = [(r.row_no, r.fields, r.error) async for r in store.results.rows(run.id)]
                held.append([rows, counts.rows, counts.jobs_by_state])
            return held

    stopped = StopRequest()
    stopped.request(StopKind.INTERRUPTED, "a test")  # seen after the first chunk is stored
    await pass_over(tmp_path / "s.db", stopped)
    assert await pass_over(tmp_path / "s.db", None) == await pass_over(tmp_path / "r.db", None)


@pytest.mark.slow
async def test_a_pass_streams_its_first_rows_while_the_rest_are_read(
    emulator: Emulator, tmp_path: Path
) -> None:
    """Begun with stream=True, the pass's first run answers its first rows while its input
    waits; the rest are read for every run, and the next run finds them all enqueued."""
    first, rest = list(postcodes(CHUNK + 10, seed=33)), list(postcodes(200, seed=34))
    progress = _Answered()

    clock = SystemClock()
    with anyio.fail_after(60):
        async with (
            CrystalRoof(KEY, base_url=emulator.url) as api,
            await Store.open(tmp_path / "s.db") as store,
        ):
            operations = {name: DatasetOperation.of(api, choose(name, {})) for name in THREE[:2]}
            runs = await begin_pass(
                store, operations, IterableSource(held_back(first, rest, progress)),
                column=COLUMN, name="streamed", clock=clock, progress=progress, stream=True,
            )  # fmt: skip
            one, two = runs.values()
            assert (one.rows, two.rows) == (0, 0)
            await one.work(await pacer_for(store, one.client, None, clock))
            assert two.pending_enqueue is None
            held = [(r.rows, r.enqueue_complete) for r in runs.values()]
            assert held == [(len(first) + 200, True)] * 2
            await two.work(await pacer_for(store, two.client, None, clock))
    assert emulator.ledger()["billed_total"] == 2 * len(set(first) | set(rest))


@pytest.mark.slow
async def test_a_file_changed_while_a_pass_reads_it_retires_every_run(
    emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rewritten between its hash and the end of its reading: refused, no output, none of
    the pass's runs ever resumed; the next pass makes new ones and pays for no lookup twice."""
    source = write_postcode_file(tmp_path / "in.csv", CHUNK + 100, seed=35)
    hashed = CsvSource.content_hash

    def hash_then_edit(self: CsvSource) -> str:
        found = hashed(self)
        monkeypatch.setattr(CsvSource, "content_hash", hashed)
        source.write_text(source.read_text().replace(f",row {CHUNK + 99}", ",row last"))
        return found

    out, db = tmp_path / "o.csv", tmp_path / "s.db"
    where = LocationColumns("postcode")
    async with CrystalRoof(KEY, base_url=emulator.url) as api:
        monkeypatch.setattr(CsvSource, "content_hash", hash_then_edit)
        with pytest.raises(UsageError, match="changed while it was being read"):
            await run_file(_operations(api), source, column=where, out=out, db=db)
        assert not out.exists()
        # Streamed: only the first chunk was stored (and may be called) before the refusal.
        assert emulator.ledger()["requests"] <= len(THREE) * CHUNK
        report = await run_file(_operations(api), source, column=where, out=out, db=db)
    assert report.complete
    assert report.run_id == 4  # runs 1 to 3 retired
    assert emulator.ledger()["billed_twice"] == 0
    assert out.read_text().splitlines()[-1].split(",")[2] == "row last"
