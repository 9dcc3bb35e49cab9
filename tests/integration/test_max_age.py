"""``max_age``: answers older than the age are fetched again, the rest are not. The store's
clock is moved, never slept on; the emulator is real."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

from bulkfetch import CrystalRoof, fetch_many, plan
from bulkfetch.clock import SystemClock
from bulkfetch.samples import postcodes
from tests.conftest import KEY, Emulator

DAY = 86_400.0


class ShiftedClock(SystemClock):
    """The real clock, but for the time stored with answers, which is ``offset`` away."""

    def __init__(self) -> None:
        self.offset = 0.0

    def time(self) -> float:
        return time.time() + self.offset


async def test_only_answers_older_than_the_age_are_fetched_again(
    emulator: Emulator, tmp_path: Path
) -> None:
    """30 answered 40 days ago, 30 ten days ago: max_age of 30 days plans and fetches the
    first 30 again, once each, and not the others."""
    db, clock = tmp_path / "s.db", ShiftedClock()
    values = list(postcodes(60, seed=21))
    old, recent = values[:30], values[30:]
    async with CrystalRoof(KEY, base_url=emulator.url) as api:
        for offset, batch in ((-40 * DAY, old), (-10 * DAY, recent)):
            clock.offset = offset
            async for _ in fetch_many(api.occupation, batch, db=db, clock=clock):
                pass
        clock.offset = 0.0
        planned = await plan(api.occupation, values, db=db, max_age=30 * DAY, clock=clock)
        aged = [i async for i in fetch_many(api.occupation, values, db=db, max_age=30 * DAY)]
    assert (planned.lookups, planned.answered, planned.units) == (60, 30, 30)
    billed = Counter(emulator.ledger()["billed"])
    assert sorted(billed.values()) == [1] * 30 + [2] * 30
    twice = {lookup.rsplit("|", 1)[1] for lookup, n in billed.items() if n == 2}
    assert twice == set(old)
    assert [item.input for item in aged] == values
    assert {item.status for item in aged} <= {"ok", "not_found"}
