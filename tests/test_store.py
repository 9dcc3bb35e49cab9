"""The job store, on real SQLite files."""

from __future__ import annotations

from pathlib import Path

import pytest

from bulkfetch.errors import StoreBusyError
from bulkfetch.jobs import JobState, Lookup, Outcome, OutcomeKind
from bulkfetch.store import RowEntry, RunSpec, Store

SPEC = RunSpec(run_key="k1", api="crystalroof", endpoint="a/b", description="test run")


def lookup(location: str) -> Lookup:
    return Lookup.of(
        "crystalroof", "http://origin", "a/b", {"location": location, "area_type": "oa"}
    )


async def test_enqueue_is_idempotent_and_shares_jobs(tmp_path: Path) -> None:
    """Repeated lookups share one job; enqueueing the same rows again changes nothing."""
    async with await Store.open(tmp_path / "s.db") as store:
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
        claimed = await store.queue.claim(run.id, owner="a", limit=5, now=3.0, lease_seconds=60)
    assert [job.rows for job in claimed] == [2, 1]
    assert counts is not None
    assert counts.rows == 4
    assert counts.invalid_rows == 1
    assert counts.jobs_by_state == {"pending": 2}


async def test_same_spec_finds_the_same_run(tmp_path: Path) -> None:
    """A second begin_run with the same key resumes, remembering how far enqueue got."""
    path = tmp_path / "s.db"
    async with await Store.open(path) as store:
        run = await store.runs.begin(SPEC, now=1.0)
        await store.queue.enqueue(run.id, [RowEntry(0, lookup("W6 0WW"))], now=1.0)
    async with await Store.open(path) as store:
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
        claimed = await store.queue.claim(run.id, owner="a", limit=3, now=1.0, lease_seconds=60)
        assert [job.lookup.param("location") for job in claimed] == ["W6 0WA", "W6 0WB", "W6 0WD"]
        assert await store.queue.claim(run.id, owner="a", limit=3, now=1.0, lease_seconds=60) != []
    async with await Store.open(path) as store:
        reclaimed = await store.runs.prepare(run.id, refresh=False, now=5.0)
        counts = await store.runs.counts(run.id)
    assert reclaimed == 4
    assert counts is not None
    assert counts.jobs_by_state == {"pending": 4}
    assert counts.reclaimed == 4


async def test_retries_wait_then_fail_after_max_attempts(tmp_path: Path) -> None:
    """A retried job is not due before its time, and fails once out of attempts."""
    async with await Store.open(tmp_path / "s.db") as store:
        run = await store.runs.begin(SPEC, now=1.0)
        await store.queue.enqueue(run.id, [RowEntry(0, lookup("W6 0WW"))], now=1.0)
        for attempt in range(2):
            (job,) = await store.queue.claim(
                run.id, owner="a", limit=5, now=10.0 * (attempt + 1), lease_seconds=60
            )
            assert job.attempts == attempt
            retry = Outcome(
                job.id, OutcomeKind.RETRY, status=500, next_attempt_at=15.0 + 10 * attempt
            )
            await store.queue.apply(run.id, [retry], now=10.0, max_attempts=2, owner="a")
            if attempt == 0:
                assert (
                    await store.queue.claim(run.id, owner="a", limit=5, now=12.0, lease_seconds=60)
                    == []
                )
                assert await store.queue.next_due(run.id) == 15.0
        counts = await store.runs.counts(run.id)
    assert counts is not None
    assert counts.jobs_by_state == {"failed": 1}
    assert counts.retries == 2


async def test_release_returns_a_job_without_counting_an_attempt(tmp_path: Path) -> None:
    """A job given back on a stop keeps its attempts."""
    async with await Store.open(tmp_path / "s.db") as store:
        run = await store.runs.begin(SPEC, now=1.0)
        await store.queue.enqueue(run.id, [RowEntry(0, lookup("W6 0WW"))], now=1.0)
        (job,) = await store.queue.claim(run.id, owner="a", limit=1, now=1.0, lease_seconds=60)
        await store.queue.apply(
            run.id,
            [Outcome(job.id, OutcomeKind.RELEASE, called=False)],
            now=2.0,
            max_attempts=3,
            owner="a",
        )
        (again,) = await store.queue.claim(run.id, owner="a", limit=1, now=3.0, lease_seconds=60)
    assert again.attempts == 0


async def test_results_are_kept_and_read_back_in_row_order(tmp_path: Path) -> None:
    """Output rows come back in input order with their job's state and body."""
    async with await Store.open(tmp_path / "s.db") as store:
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
        jobs = await store.queue.claim(run.id, owner="a", limit=5, now=1.0, lease_seconds=60)
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
            assert await reader.runs.counts() is None
