"""The store on PostgreSQL, as several workers use it at once (claims that never overlap,
leases that bring a dead worker's jobs back, one rate budget per key), and a store of an
earlier schema brought up to date (on SQLite)."""

from __future__ import annotations

import math
import sqlite3
import time
from collections import Counter
from pathlib import Path

import anyio
import anyio.lowlevel
import pytest

from bulkfetch.errors import QuotaExhaustedError
from bulkfetch.jobs import Lookup, Outcome, OutcomeKind, StopKind
from bulkfetch.pacing.schedule import Schedule
from bulkfetch.pacing.shared import SharedRateLimiter
from bulkfetch.store import BudgetState, RowEntry, RunSpec, SlotDecision, Store
from bulkfetch.store.migrations import SCHEMA_VERSION

pytestmark = pytest.mark.postgres

SPEC = RunSpec("run-key", "crystalroof", "occupation", "test run")


def lookup(value: str) -> Lookup:
    return Lookup.of("crystalroof", "http://x", "occupation", {"location": value})


async def test_two_workers_never_claim_the_same_job(postgres_url: str) -> None:
    """Claims race from two connections (two workers): every job goes to exactly one."""
    async with await Store.open(postgres_url) as first, await Store.open(postgres_url) as second:
        run = await first.runs.begin(SPEC, now=1.0)
        await first.queue.enqueue(
            run.id, [RowEntry(i, lookup(f"P{i}")) for i in range(300)], now=1.0
        )
        claimed: dict[str, list[int]] = {"a": [], "b": []}

        async def drain(store: Store, owner: str) -> None:
            while batch := (
                await store.queue.claim(run.id, owner=owner, limit=7, now=2.0, lease_seconds=60)
            ).jobs:
                claimed[owner] += [job.id for job in batch]
                await anyio.lowlevel.checkpoint()

        async with anyio.create_task_group() as tg:
            tg.start_soon(drain, first, "a")
            tg.start_soon(drain, second, "b")
    assert claimed["a"]
    assert claimed["b"]
    assert sorted(claimed["a"] + claimed["b"]) == sorted(set(claimed["a"] + claimed["b"]))
    assert len(claimed["a"]) + len(claimed["b"]) == 300


async def test_a_dead_workers_leases_run_out_and_its_jobs_come_back(postgres_url: str) -> None:
    """Worker a claims and dies; b renews nothing of a's; after the lease, b takes them back,
    counted as possibly billed twice. A live worker's renewed lease is left alone; and a
    late outcome of a worker that lost its lease does not overwrite the new owner's."""
    async with await Store.open(postgres_url) as store:
        run = await store.runs.begin(SPEC, now=1.0)
        await store.queue.enqueue(run.id, [RowEntry(i, lookup(f"P{i}")) for i in range(6)], now=1.0)
        dead = (await store.queue.claim(run.id, owner="a", limit=3, now=10.0, lease_seconds=5)).jobs
        alive = (
            await store.queue.claim(run.id, owner="b", limit=3, now=10.0, lease_seconds=5)
        ).jobs
        await store.queue.renew_leases("b", until=100.0)
        assert await store.queue.reclaim_expired(now=12.0) == 0  # not yet out
        assert await store.queue.reclaim_expired(now=16.0) == len(dead)
        again = (
            await store.queue.claim(run.id, owner="c", limit=10, now=16.0, lease_seconds=5)
        ).jobs
        assert sorted(job.id for job in again) == sorted(job.id for job in dead)
        late = [Outcome(j.id, OutcomeKind.RETRY, status=500, error="x") for j in dead]
        await store.queue.apply(run.id, late, now=17.0, max_attempts=5, owner="a")
        counts = await store.runs.counts(run.id)
        assert await store.queue.next_due(run.id) is not None  # c's and b's leases
    assert counts is not None
    assert counts.spend.maybe_billed_twice == len(dead)
    assert counts.jobs_by_state == {"in_flight": len(dead) + len(alive)}


async def test_workers_share_one_budget_within_the_providers_seconds(postgres_url: str) -> None:
    """Two workers on one key at 10/s: together never more than 10 sends in a second of the
    clock (where in its seconds they go: the pacing's unit tests, on a clock of their own)."""
    async with await Store.open(postgres_url) as a, await Store.open(postgres_url) as b:
        workers = [
            await SharedRateLimiter.join(a, "key-1", 10.0),
            await SharedRateLimiter.join(b, "key-1", None),  # no rate: the budget's
        ]
        sent: list[float] = []

        async def send(limiter: SharedRateLimiter) -> None:
            for _ in range(12):
                await limiter.acquire()
                sent.append(time.time())

        async with anyio.create_task_group() as tg:
            for limiter in workers:
                tg.start_soon(send, limiter)
    per_second = Counter(math.floor(at) for at in sent)
    assert len(sent) == 24
    assert max(per_second.values()) <= 10


async def test_what_one_worker_learns_paces_them_all(postgres_url: str) -> None:
    """429s one worker meets after the same count in two seconds teach the limit to every
    worker; a reset one hears gives another's slot, taken before it, a new one after it."""
    async with await Store.open(postgres_url) as a, await Store.open(postgres_url) as b:
        first = await SharedRateLimiter.join(a, "key-1", None)
        second = await SharedRateLimiter.join(b, "key-1", None)
        await second.acquire()
        base = math.floor(time.time()) - 4
        for at in (base, base + 1):
            for i in range(7):
                first.on_success(at + 0.1 + i * 0.1)
            first.on_rate_limited(None, at + 0.85)
            first.on_rate_limited(None, at + 0.9)
        await first.acquire()
        await second.acquire()
        assert (second.learned, second.rate) == (7.0, 7.0)

        grant, held = await second._take(None)
        first.on_headers(0, 2.0)
        await first._take(None)
        again, moved = await second._take(held)
        assert moved != held
        assert again.slot >= grant.now + 2.0


async def test_a_stop_one_worker_records_stops_the_others(postgres_url: str) -> None:
    """A quota stop one worker records stops another's next slot; a worker started again
    lifts it."""
    async with await Store.open(postgres_url) as a, await Store.open(postgres_url) as b:
        first = await SharedRateLimiter.join(a, "key-1", 10.0)
        second = await SharedRateLimiter.join(b, "key-1", None)
        await first.on_stop(StopKind.QUOTA, "package used up")
        with pytest.raises(QuotaExhaustedError, match="package used up"):
            await second.acquire()
        # A worker started again lifts the stop: the user fixed the package.
        await SharedRateLimiter.join(b, "key-1", None)
        await second.acquire()


# What each schema version added, to take a store back to the one before it.
_ADDED_IN = {
    9: ("DROP TABLE run_seconds",),
    8: ("ALTER TABLE runs DROP COLUMN from_store",),
    7: ("ALTER TABLE runs DROP COLUMN fields_run",),
    6: ("DROP TABLE rate_windows",),
    5: (
        "ALTER TABLE rate_budgets DROP COLUMN pacing",
        "ALTER TABLE rate_budgets ADD COLUMN next_slot FLOAT NOT NULL DEFAULT 0",
        "ALTER TABLE rate_budgets ADD COLUMN resume_at FLOAT NOT NULL DEFAULT 0",
    ),
    4: (
        "ALTER TABLE runs DROP COLUMN billed",
        "ALTER TABLE runs DROP COLUMN maybe_billed",
        "ALTER TABLE runs DROP COLUMN max_units",
        "ALTER TABLE runs DROP COLUMN options",
    ),
    3: (
        "ALTER TABLE runs DROP COLUMN lineage",
        "ALTER TABLE runs DROP COLUMN header",
        "ALTER TABLE runs DROP COLUMN connect_failures",
        "ALTER TABLE run_rows DROP COLUMN fields",
    ),
    2: (
        "ALTER TABLE runs DROP COLUMN adapter",
        "ALTER TABLE runs DROP COLUMN input",
        "DROP TABLE rate_budgets",
    ),
}


@pytest.mark.parametrize("version", [1, 2, 3, 4, 5, 6, 7, 8])
async def test_an_older_store_is_migrated(tmp_path: Path, version: int) -> None:
    """A store made by an earlier schema opens, keeps its runs, and gains what is new."""
    db = tmp_path / "old.db"
    async with await Store.open(db) as store:
        run = await store.runs.begin(SPEC, now=1.0)
        await store.queue.enqueue(run.id, [RowEntry(0, lookup("P0"))], now=1.0)
    with sqlite3.connect(db) as conn:  # back to that version, as an older bulkfetch left it
        for newer in range(SCHEMA_VERSION, version, -1):
            for statement in _ADDED_IN[newer]:
                conn.execute(statement)
        conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(version),))
    async with await Store.open(db) as store:
        counts = await store.runs.counts(run.id)
        detail = await store.runs.detail(run.id)
        rows = [row async for row in store.results.rows(run.id)]
    with sqlite3.connect(db) as conn:
        found = conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    assert counts is not None
    assert counts.rows == 1
    assert counts.spend.connect_failures == 0
    assert counts.spend.units == 0
    assert counts.spend.from_store == 0
    assert counts.max_units is None
    assert detail is not None
    if version < 3:  # an older run kept no rows: its output needs its command
        assert detail.header is None
        assert [row.fields for row in rows] == [None]
    else:
        assert [row.fields for row in rows] == [[]]
    assert found == (str(SCHEMA_VERSION),)
    assert {"rate_budgets", "rate_windows"} <= tables


async def test_a_run_of_before_counts_what_it_had_from_the_store(tmp_path: Path) -> None:
    """Migrated to 8: a run's last command is taken to have had from the store what was
    answered before the run began; what a later command had is kept in its place."""
    db = tmp_path / "old.db"
    async with await Store.open(db) as store:
        first = await store.runs.begin(SPEC, now=1.0)
        await store.queue.enqueue(first.id, [RowEntry(0, lookup("P0"))], now=1.0)
        (job,) = (
            await store.queue.claim(first.id, owner="a", limit=1, now=2.0, lease_seconds=60)
        ).jobs
        answered = Outcome(job.id, OutcomeKind.DONE, status=200, body="{}", columns=())
        await store.queue.apply(first.id, [answered], now=2.0, max_attempts=3, owner="a")
        later = await store.runs.begin(RunSpec("later", "crystalroof", "occupation", "t"), 5.0)
        entries = [RowEntry(0, lookup("P0")), RowEntry(1, lookup("P1"))]
        await store.queue.enqueue(later.id, entries, now=5.0)
    with sqlite3.connect(db) as conn:  # as bulkfetch of schema 7 left it
        for statement in (*_ADDED_IN[9], *_ADDED_IN[8]):
            conn.execute(statement)
        conn.execute("UPDATE meta SET value = '7' WHERE key = 'schema_version'")
    async with await Store.open(db) as store:
        kept = {run: await store.runs.counts(run) for run in (first.id, later.id)}
        had = await store.runs.answered_before(later.id, 10.0)
        await store.runs.keep_from_store(later.id, had)
    with sqlite3.connect(db) as conn:
        stored = dict(conn.execute("SELECT id, from_store FROM runs").fetchall())
    assert {run: c.spend.from_store for run, c in kept.items() if c} == {first.id: 0, later.id: 1}
    assert {run: c.last_from_store for run, c in kept.items() if c} == {first.id: 0, later.id: 1}
    assert had == 1  # P0, answered at 2.0; P1 never
    assert stored == {first.id: 0, later.id: 1}


async def test_spaced_slots_are_taken_once_each_however_slow_the_database(
    postgres_url: str,
) -> None:
    """A budget whose calls are spaced (no fixed seconds fit) at 400/s, two workers: each
    call takes about one slot, though a slot's share of the spacing (0.6 ms) is less than a
    request to the database takes; not slot after slot, each past before it came."""
    async with await Store.open(postgres_url) as a, await Store.open(postgres_url) as b:
        workers = [await SharedRateLimiter.join(store, "key-1", 400.0) for store in (a, b)]

        def spaced(budget: BudgetState) -> SlotDecision:
            schedule = Schedule(budget.ceiling)
            schedule.fit.space(budget.now)
            return SlotDecision(schedule.dumps(), schedule.policy.budget, budget.now)

        first = (await a.budgets.take_slot("key-1", spaced)).slot

        async def send(limiter: SharedRateLimiter) -> None:
            for _ in range(15):
                await limiter.acquire()

        async with anyio.create_task_group() as tg:
            for limiter in workers:
                tg.start_soon(send, limiter)
        last: list[float] = []

        def look(budget: BudgetState) -> SlotDecision:
            schedule = Schedule.loads(budget.pacing or "")
            assert schedule.fit.spaced
            last.append(schedule.slots.dump()[2])
            return SlotDecision(budget.pacing or "", schedule.policy.budget, budget.now)

        await a.budgets.take_slot("key-1", look)
    # 30 calls 2.5 ms apart span 75 ms of slots; a few taken again after a late wake-up
    # on a busy machine, more; slot after slot, each past before it came, seconds.
    assert last[0] - first < 10 * 30 / 400
