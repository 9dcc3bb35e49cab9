"""The job store's contract, on a real SQLite file and on a real PostgreSQL database alike
(the PostgreSQL cases skip, saying why, without a server); then what only SQLite does."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from bulkfetch.adapter import LookupResult, Reply, ResultKind
from bulkfetch.engine.classify import answered, failed
from bulkfetch.engine.settings import EngineSettings
from bulkfetch.errors import ServerError, StoreBusyError, TransportError
from bulkfetch.jobs import JobState, Lookup, Outcome, OutcomeKind
from bulkfetch.store import RowEntry, RunSpec, Store

SPEC = RunSpec(run_key="k1", api="crystalroof", endpoint="a/b", description="test run")


@pytest.fixture(params=["sqlite", "postgres"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A store to open: a SQLite file, or a PostgreSQL database of the test's own."""
    if request.param == "sqlite":
        return str(tmp_path / "s.db")
    return str(request.getfixturevalue("postgres_url"))


def lookup(location: str) -> Lookup:
    return Lookup.of(
        "crystalroof", "http://origin", "a/b", {"location": location, "area_type": "oa"}
    )


async def test_enqueue_is_idempotent_and_shares_jobs(target: str) -> None:
    """Repeated lookups share one job; enqueueing the same rows again changes nothing."""
    async with await Store.open(target) as store:
        run = await store.runs.begin(SPEC, now=1.0)
        entries = [
            RowEntry(0, lookup("W6 0WW")),
            RowEntry(1, lookup("W6 0WW")),
            RowEntry(2, None, "not a postcode"),
            RowEntry(3, lookup("N1 9GU")),
        ]
        await store.queue.enqueue(run.id, entries, now=1.0)
        await store.queue.enqueue(run.id, entries, now=2.0)
        counts = await store.runs.counts(run.id)
        claimed = (
            await store.queue.claim(run.id, owner="a", limit=5, now=3.0, lease_seconds=60)
        ).jobs
    assert [job.rows for job in claimed] == [2, 1]
    assert counts is not None
    assert counts.rows == 4
    assert counts.invalid_rows == 1
    assert counts.jobs_by_state == {"pending": 2}


async def test_same_spec_finds_the_same_run(target: str) -> None:
    """A second begin_run with the same key resumes, remembering how far enqueue got."""
    async with await Store.open(target) as store:
        run = await store.runs.begin(SPEC, now=1.0)
        await store.queue.enqueue(run.id, [RowEntry(0, lookup("W6 0WW"))], now=1.0)
    async with await Store.open(target) as store:
        again = await store.runs.begin(SPEC, now=2.0)
    assert again.id == run.id
    assert again.rows_enqueued == 1
    assert not again.enqueue_complete


async def test_claim_leases_and_a_dead_process_jobs_are_reclaimed(tmp_path: Path) -> None:
    """Jobs left in flight by a process that died come back, and are counted."""
    path = tmp_path / "s.db"
    async with await Store.open(path) as store:
        run = await store.runs.begin(SPEC, now=1.0)
        await store.queue.enqueue(
            run.id, [RowEntry(i, lookup(f"W6 0W{c}")) for i, c in enumerate("ABDE")], now=1.0
        )
        claimed = (
            await store.queue.claim(run.id, owner="a", limit=3, now=1.0, lease_seconds=60)
        ).jobs
        assert [job.lookup.param("location") for job in claimed] == ["W6 0WA", "W6 0WB", "W6 0WD"]
        assert (
            await store.queue.claim(run.id, owner="a", limit=3, now=1.0, lease_seconds=60)
        ).jobs != []
    async with await Store.open(path) as store:
        reclaimed = await store.runs.prepare(run.id, refresh=False, now=5.0)
        counts = await store.runs.counts(run.id)
    assert reclaimed == 4
    assert counts is not None
    assert counts.jobs_by_state == {"pending": 4}
    assert counts.spend.maybe_billed_twice == 4  # in flight at a crash: possibly billed


async def test_retries_wait_then_fail_after_max_attempts(target: str) -> None:
    """A retried job is not due before its time, and fails once out of attempts."""
    async with await Store.open(target) as store:
        run = await store.runs.begin(SPEC, now=1.0)
        await store.queue.enqueue(run.id, [RowEntry(0, lookup("W6 0WW"))], now=1.0)
        for attempt in range(2):
            (job,) = (
                await store.queue.claim(
                    run.id, owner="a", limit=5, now=10.0 * (attempt + 1), lease_seconds=60
                )
            ).jobs
            assert job.attempts == attempt
            retry = Outcome(
                job.id, OutcomeKind.RETRY, status=500, next_attempt_at=15.0 + 10 * attempt
            )
            await store.queue.apply(run.id, [retry], now=10.0, max_attempts=2, owner="a")
            if attempt == 0:
                assert (
                    await store.queue.claim(run.id, owner="a", limit=5, now=12.0, lease_seconds=60)
                ).jobs == []
                assert await store.queue.next_due(run.id) == 15.0
        counts = await store.runs.counts(run.id)
    assert counts is not None
    assert counts.jobs_by_state == {"failed": 1}
    assert counts.spend.retries == 2


async def test_release_returns_a_job_without_counting_an_attempt(target: str) -> None:
    """A job given back on a stop keeps its attempts."""
    async with await Store.open(target) as store:
        run = await store.runs.begin(SPEC, now=1.0)
        await store.queue.enqueue(run.id, [RowEntry(0, lookup("W6 0WW"))], now=1.0)
        (job,) = (
            await store.queue.claim(run.id, owner="a", limit=1, now=1.0, lease_seconds=60)
        ).jobs
        await store.queue.apply(
            run.id,
            [Outcome(job.id, OutcomeKind.RELEASE, called=False)],
            now=2.0,
            max_attempts=3,
            owner="a",
        )
        (again,) = (
            await store.queue.claim(run.id, owner="a", limit=1, now=3.0, lease_seconds=60)
        ).jobs
    assert again.attempts == 0


async def test_results_are_kept_and_read_back_in_row_order(target: str) -> None:
    """Output rows come back in input order with their job's state and body."""
    async with await Store.open(target) as store:
        run = await store.runs.begin(SPEC, now=1.0)
        await store.queue.enqueue(
            run.id,
            [
                RowEntry(0, lookup("N1 9GU")),
                RowEntry(1, None, "bad"),
                RowEntry(2, lookup("W6 0WW")),
            ],
            now=1.0,
        )
        jobs = (await store.queue.claim(run.id, owner="a", limit=5, now=1.0, lease_seconds=60)).jobs
        assert [job.rows for job in jobs] == [1, 1]
        await store.queue.apply(
            run.id,
            [
                Outcome(
                    jobs[0].id, OutcomeKind.DONE, status=200, body='{"data":{}}', columns=("x.a",)
                ),
                Outcome(jobs[1].id, OutcomeKind.NOT_FOUND, status=404, error="gone"),
            ],
            now=2.0,
            max_attempts=3,
            owner="a",
        )
        rows = [row async for row in store.results.rows(run.id)]
        columns = await store.results.columns(run.id)
    assert [(r.row_no, r.state, r.body, r.error) for r in rows] == [
        (0, JobState.DONE, '{"data":{}}', None),
        (1, None, None, "bad"),
        (2, JobState.NOT_FOUND, None, "gone"),
    ]
    assert columns == ["x.a"]


async def test_a_second_process_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    """Two runs on one store at once: the second is told, not corrupted."""
    path = tmp_path / "s.db"
    async with await Store.open(path):
        with pytest.raises(StoreBusyError, match="another bulkfetch process"):
            await Store.open(path)
        async with await Store.open(path, exclusive=False) as reader:
            assert await reader.runs.listing() == []


async def test_a_changed_input_is_a_new_run_that_says_which_it_follows(target: str) -> None:
    """A run key never seen, of a lineage seen: a new run, told the one it follows; a
    retired run is never found by its key again."""
    first = RunSpec("key-1", "crystalroof", "a/b", "run", lineage="same-file")
    second = RunSpec("key-2", "crystalroof", "a/b", "run", lineage="same-file")
    async with await Store.open(target) as store:
        one = await store.runs.begin(first, now=1.0)
        two = await store.runs.begin(second, now=2.0)
        again = await store.runs.begin(second, now=3.0)
        await store.runs.retire(two.id, now=4.0)
        three = await store.runs.begin(second, now=5.0)
    assert (one.follows, two.follows, again.follows) == (None, one.id, None)
    assert again.id == two.id
    assert three.id > two.id
    assert three.follows == two.id


async def test_rows_keep_their_fields_and_bodies_come_once_each(target: str) -> None:
    """A row's fields read back as enqueued (what output is written from); pages go on
    after a row number; each kept answer comes once however many rows share it."""
    entries = [
        RowEntry(i, lookup(f"P{i % 3}"), fields=[f"{i}", f"P{i % 3}", "é"]) for i in range(9)
    ]
    async with await Store.open(target) as store:
        run = await store.runs.begin(SPEC, now=1.0)
        await store.queue.enqueue(run.id, entries, now=1.0)
        jobs = (await store.queue.claim(run.id, owner="a", limit=9, now=2.0, lease_seconds=60)).jobs
        done = [Outcome(j.id, OutcomeKind.DONE, status=200, body=f'"{j.id}"') for j in jobs]
        await store.queue.apply(run.id, done, now=3.0, max_attempts=3, owner="a")
        page = await store.results.page(run.id, after=4)
        bodies = [body async for body in store.results.bodies(run.id)]
    assert [row.row_no for row in page] == [5, 6, 7, 8]
    assert page[0].fields == ["5", "P2", "é"]
    assert sorted(bodies) == sorted(f'"{j.id}"' for j in jobs)


async def test_reference_data_is_kept_per_origin(target: str) -> None:
    """What an API package keeps (its regions): by origin and name, replaced when put."""
    async with await Store.open(target) as store:
        assert await store.reference.get("http://a", "regions") is None
        await store.reference.put("http://a", "regions", [["state", "6", "CA"]], now=1.0)
        await store.reference.put("http://a", "regions", [["state", "8", "CO"]], now=2.0)
        assert await store.reference.get("http://a", "regions") == [["state", "8", "CO"]]
        assert await store.reference.get("http://b", "regions") is None


async def test_a_cap_leaves_room_for_what_is_billed_and_in_flight(target: str) -> None:
    """A claim under a cap of 5: what was billed and what is in flight count against it."""
    async with await Store.open(target) as store:
        run = await store.runs.begin(SPEC, now=1.0)
        entries = [RowEntry(i, lookup(f"P{i}")) for i in range(9)]
        await store.queue.enqueue(run.id, entries, now=1.0)
        await store.runs.set_cap(run.id, 5)
        first = await store.queue.claim(run.id, owner="a", limit=3, now=1.0, lease_seconds=60)
        assert (len(first.jobs), first.capped) == (3, False)
        second = await store.queue.claim(run.id, owner="a", limit=3, now=1.0, lease_seconds=60)
        assert (len(second.jobs), second.capped) == (2, True)
        done = answered(first.jobs[:1], Reply([LookupResult(ResultKind.OK, 200, body="{}")]))
        lost = failed(
            first.jobs[1:2], TransportError("timed out"), now=1.0, settings=EngineSettings(),
            rng=random.Random(1),
        )  # fmt: skip
        unbilled = failed(
            first.jobs[2:], ServerError("oops", status=500), now=1.0, settings=EngineSettings(),
            rng=random.Random(1),
        )  # fmt: skip
        await store.queue.apply(
            run.id, [*done, *lost, *unbilled], now=2.0, max_attempts=5, owner="a"
        )
        # Spent 1, possibly 1, in flight 2: room for 1 (the 500 gave its room back).
        third = await store.queue.claim(run.id, owner="a", limit=3, now=99.0, lease_seconds=60)
        assert (len(third.jobs), third.capped) == (1, True)
        counts = await store.runs.counts(run.id)
    assert counts is not None
    assert (counts.spend.units, counts.spend.maybe_billed_twice, counts.max_units) == (1, 1, 5)
