"""A run's calls counted by the second they were sent in, kept in a real SQLite store: a
call out while the counts are kept, an answer the adapter cannot read, a call abandoned."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import anyio
import pytest

from bulkfetch.adapter import Reply
from bulkfetch.errors import ConnectError, RateLimitedError, ServerError
from bulkfetch.jobs import Lookup
from bulkfetch.run.seconds import Seconds
from bulkfetch.store import RunSpec, Second, Store


class _Held:
    """An adapter whose answers come when a test lets them, or fail as it says."""

    def __init__(self) -> None:
        self.go = anyio.Event()
        self.failing: BaseException | None = None

    async def fetch(self, lookups: Sequence[Lookup]) -> Reply:
        await self.go.wait()
        if self.failing is not None:
            raise self.failing
        return Reply([])


async def _counted(tmp_path: Path) -> tuple[Store, int]:
    store = await Store.open(tmp_path / "s.db")
    begun = await store.runs.begin(RunSpec("r", "crystalroof", "occupation", "d"), 1.0)
    return store, begun.id


def _totals(found: list[tuple[int, Second]]) -> tuple[int, int, int, int]:
    return (
        sum(s.calls for _, s in found),
        sum(s.answered for _, s in found),
        sum(s.rate_limited for _, s in found),
        sum(s.failed for _, s in found),
    )


async def test_a_call_out_while_the_counts_are_kept_is_counted_when_it_lands(
    tmp_path: Path,
) -> None:
    """Kept while a call is out, then again after it lands: the call is in the store once."""
    store, run_id = await _counted(tmp_path)
    held = _Held()
    seconds = Seconds(store, run_id)
    adapter = seconds.adapter(held)  # type: ignore[arg-type]
    async with anyio.create_task_group() as tg:
        tg.start_soon(adapter.fetch, [])
        await anyio.wait_all_tasks_blocked()
        await seconds.keep()  # the call is out
        held.go.set()
    await seconds.keep()
    assert _totals(await store.tallies.of(run_id)) == (1, 1, 0, 0)
    await store.close()


@pytest.mark.parametrize(
    ("failing", "counted"),
    [
        (ValueError("no such shape"), (1, 1, 0, 0)),  # answered, unreadable: billed
        (RateLimitedError("429", status=429), (1, 1, 1, 0)),
        (ServerError("500", status=500), (1, 1, 0, 1)),
        (ConnectError("refused", host="h"), (0, 0, 0, 0)),  # nobody reached: no call
    ],
    ids=["unreadable", "429", "500", "no-connection"],
)
async def test_each_end_of_a_call_is_counted_as_it_ended(
    tmp_path: Path, failing: BaseException, counted: tuple[int, int, int, int]
) -> None:
    """A call's end: sent and answered, a 429, a 5xx (failed), or no connection (no call)."""
    store, run_id = await _counted(tmp_path)
    held = _Held()
    held.failing = failing
    held.go.set()
    seconds = Seconds(store, run_id)
    with pytest.raises(type(failing)):
        await seconds.adapter(held).fetch([])  # type: ignore[arg-type]
    await seconds.keep()
    assert _totals(await store.tallies.of(run_id)) == counted
    await store.close()


async def test_a_call_abandoned_in_flight_was_sent(tmp_path: Path) -> None:
    """Cancelled while out (a second Ctrl-C): counted as sent, not as answered."""
    store, run_id = await _counted(tmp_path)
    held = _Held()
    seconds = Seconds(store, run_id)
    async with anyio.create_task_group() as tg:
        tg.start_soon(seconds.adapter(held).fetch, [])  # type: ignore[arg-type]
        await anyio.wait_all_tasks_blocked()
        tg.cancel_scope.cancel()
    await seconds.keep()
    assert _totals(await store.tallies.of(run_id)) == (1, 0, 0, 0)
    await store.close()
