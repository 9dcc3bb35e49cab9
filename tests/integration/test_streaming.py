"""Calls begin on the first rows of an input while the rest are read: the engine works
what is enqueued, waits for more while the input goes on, and ends when it is all done."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import anyio
import pytest

from bulkfetch import CrystalRoof
from bulkfetch.clock import SystemClock
from bulkfetch.io.iterable import COLUMN, IterableSource
from bulkfetch.jobs import JobState, Outcome, OutcomeKind
from bulkfetch.run import Run
from bulkfetch.run.enqueue import CHUNK
from bulkfetch.run.pace import pacer_for
from bulkfetch.samples import postcodes
from bulkfetch.store import Store
from tests.conftest import KEY, Emulator


class _Answered:
    """Progress that says when the first lookup was answered, and how many rows the run
    said it held as it went."""

    def __init__(self) -> None:
        self.first = anyio.Event()
        self.totals: list[int] = []

    def start(self, total_rows: int, settled_rows: int, label: str = "") -> None:
        self.totals.append(total_rows)

    def grow(self, total_rows: int) -> None:
        self.totals.append(total_rows)

    def advance(self, settled_rows: int, outcomes: Sequence[Outcome]) -> None:
        if any(outcome.kind is OutcomeKind.DONE for outcome in outcomes):
            self.first.set()

    def notice(self, text: str, *, warning: bool = False) -> None:
        pass


async def held_back(first: list[str], rest: list[str], progress: _Answered) -> AsyncIterator[str]:
    """``first``, then ``rest`` only once a lookup was answered: an input that would never end
    if the engine waited for the whole of it."""
    for value in first:
        yield value
    await progress.first.wait()
    for value in rest:
        yield value


@pytest.mark.slow
async def test_the_first_rows_are_answered_before_the_rest_are_read(
    emulator: Emulator, tmp_path: Path
) -> None:
    """An input that gives a chunk and a half of values, then waits for the first answer
    before it gives the rest: the run answers while it waits (begun with stream=True),
    then reads and answers the rest, and ends with every row final."""
    first, rest = list(postcodes(CHUNK + CHUNK // 2, seed=1)), list(postcodes(300, seed=2))
    progress = _Answered()

    clock = SystemClock()
    with anyio.fail_after(60):
        async with (
            CrystalRoof(KEY, base_url=emulator.url) as api,
            await Store.open(tmp_path / "s.db") as store,
        ):
            run = await Run.begin(
                store,
                api.operation("occupation", {}),
                IterableSource(held_back(first, rest, progress)),
                column=COLUMN,
                name="streamed",
                clock=clock,
                progress=progress,
                stream=True,
            )
            assert run.rows == 0  # nothing read yet: the work reads it
            await run.work(await pacer_for(store, run.client, None, clock))
            counts = await store.runs.counts(run.id)
    assert (run.rows, run.enqueue_complete) == (len(first) + len(rest), True)
    assert progress.totals[-1] == run.rows
    assert counts is not None
    pending = {JobState.PENDING.value, JobState.IN_FLIGHT.value}
    assert not pending & {state for state, n in counts.jobs_by_state.items() if n}
    assert emulator.ledger()["billed_total"] == len(set(first) | set(rest))
