"""Allowances over longer windows on real stores and the real emulator: two workers' gates
on one store spend one allowance between them (SQLite, and PostgreSQL through a connection
each, as two workers have them; those cases skip, saying why, without a server), and the
library stopped at a spent day resumes the next, on a clock moved a day on."""

from __future__ import annotations

import contextlib
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest

from bulkfetch import CrystalRoof, Item, OccupationResult, WindowSpentError, fetch_many
from bulkfetch.pacing.limiter import RateLimiter
from bulkfetch.pacing.limits import Limit, parse_limit
from bulkfetch.pacing.windows import WindowedPacer, spent_now, utc
from bulkfetch.samples import postcodes
from bulkfetch.store import Store
from tests.conftest import KEY, Emulator
from tests.integration.test_max_age import DAY, ShiftedClock
from tests.unit.clock import FakeClock

KEY_ID = "key-1"


@pytest.fixture(params=["sqlite", "postgres"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A store to open: a SQLite file, or a PostgreSQL database of the test's own."""
    if request.param == "sqlite":
        return str(tmp_path / "s.db")
    return str(request.getfixturevalue("postgres_url"))


@contextlib.asynccontextmanager
async def two_workers(target: str) -> AsyncIterator[tuple[Store, Store]]:
    """The store as two workers have it: a connection each on PostgreSQL; on SQLite, which
    one process holds, the same one."""
    async with await Store.open(target) as first:
        if not first.shared:
            yield first, first
            return
        async with await Store.open(target) as second:
            yield first, second


async def test_two_gates_on_one_store_spend_one_allowance(target: str) -> None:
    """Two workers' gates, eight callers each, at 25 a day: 25 calls between them, not one
    more, and the store counts 25; every caller then stops, saying when the day opens."""
    clock, limit = FakeClock(), Limit(25, "day")
    sent: Counter[int] = Counter()
    reasons: set[str] = set()
    async with two_workers(target) as stores:
        gates = [
            await WindowedPacer.join(
                RateLimiter(1000, clock=clock), store, KEY_ID, [limit], at_limit="stop", clock=clock
            )
            for store in stores
        ]

        async def caller(worker: int) -> None:
            try:
                while True:
                    await gates[worker].acquire()
                    sent[worker] += 1
                    await anyio.lowlevel.checkpoint()  # the call: others take their turn
            except WindowSpentError as exc:
                reasons.add(str(exc))

        async with anyio.create_task_group() as tg:
            for index in range(16):
                tg.start_soon(caller, index % 2)
        counted = await spent_now(stores[1], KEY_ID, [limit], clock.time())
    assert sum(sent.values()) == 25
    assert counted == {limit: 25}
    assert reasons == {
        "the day's allowance of 25 calls is spent; it opens again at 1970-01-02 00:00 UTC"
    }


async def test_the_library_stops_at_a_spent_day_and_resumes_the_next(
    emulator: Emulator, tmp_path: Path
) -> None:
    """fetch_many at 30 a day over 50 postcodes, told to stop: 30 requests, then
    WindowSpentError naming the next midnight; the same day again, no request; a day on, the
    other 20, each lookup billed once and every item answered, in input order."""
    db, clock = tmp_path / "s.db", ShiftedClock()
    values = list(postcodes(50, seed=23))
    opens = utc(Limit(30, "day").window(time.time())[1])
    async with CrystalRoof(KEY, base_url=emulator.url) as api:

        def at_30_a_day() -> AsyncIterator[Item[OccupationResult]]:
            day = [parse_limit("30/day")]
            return fetch_many(
                api.occupation, values, db=db, run="r", limits=day, at_limit="stop", clock=clock
            )

        for _ in range(2):
            with pytest.raises(WindowSpentError, match=f"it opens again at {opens}"):
                async for _item in at_30_a_day():
                    pass
            assert emulator.ledger()["requests"] == 30
        clock.offset = DAY
        items = [item async for item in at_30_a_day()]
    ledger = emulator.ledger()
    assert ledger["requests"] == 50
    assert sorted(Counter(ledger["billed"]).values()) == [1] * 50
    assert [item.input for item in items] == values
    assert {item.status for item in items} <= {"ok", "not_found"}
