"""The scheduler while an adapter is probing (it learns its batch size from answers): a fake
adapter that counts the requests it has out, an autojump clock (each answer comes once
every other task waits, so any request the engine could send meanwhile has gone), and a
real SQLite store."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from bulkfetch.adapter import LookupResult, Reply, ResultKind
from bulkfetch.engine import EngineSettings, StopRequest
from bulkfetch.errors import QuotaExhaustedError
from bulkfetch.jobs import JobState, Lookup, StopKind
from bulkfetch.spend import Spend
from bulkfetch.store import Store
from tests.unit.clock import AutojumpClock
from tests.unit.test_engine import drive


class ProbingAdapter:
    """One lookup a request while probing (its first ``probes`` answers); then ``batch``.
    The answer numbered ``refuse`` (from 1), if any, is a 402."""

    name = "fake"
    rate_key = "fake-key"
    notices: tuple[str, ...] = ()

    def __init__(self, clock: AutojumpClock, probes: int, batch: int, refuse: int = 0) -> None:
        self.clock = clock
        self.probes = probes
        self.batch = batch
        self.refuse = refuse
        self.answers = 0
        self.out = 0  # requests sent, not yet answered
        self.most_out_probing = 0  # the most out at once while probing
        self.most_out = 0
        self.sizes: list[int] = []  # of each request, in the order sent
        self.calls: Counter[str] = Counter()

    @property
    def probing(self) -> bool:
        return self.answers < self.probes

    @property
    def batch_size(self) -> int:
        return 1 if self.probing else self.batch

    async def fetch(self, lookups: Sequence[Lookup]) -> Reply:
        assert len(lookups) <= self.batch_size
        self.out += 1
        self.most_out = max(self.most_out, self.out)
        if self.probing:
            self.most_out_probing = max(self.most_out_probing, self.out)
        self.sizes.append(len(lookups))
        self.calls.update(lookup.param("value") for lookup in lookups)
        try:
            await self.clock.sleep(2.0)  # wakes once every other task waits
        finally:
            self.out -= 1
        self.answers += 1
        if self.answers == self.refuse:
            raise QuotaExhaustedError("package used up", status=402)
        return Reply([LookupResult(ResultKind.OK, 200, body="{}") for _ in lookups])

    def spec(self) -> dict[str, str]:
        return {"api": self.name}

    async def close(self) -> None:
        pass


ProbingArgs = tuple[int, ...]  # probes, batch, refuse


async def run(
    tmp_path: Path, count: int, adapter_of: ProbingArgs
) -> tuple[Counter[JobState | None], ProbingAdapter, StopRequest, Spend]:
    """``count`` lookups run by the engine (concurrency 16) to the end: their states, the
    adapter, the stop and the run's spend."""
    clock = AutojumpClock()
    adapter = ProbingAdapter(clock, *adapter_of)
    stop = StopRequest()
    async with await Store.open(tmp_path / "s.db") as store:
        values = [f"v{i:02d}" for i in range(count)]
        run_id = await drive(store, adapter, clock, values, stop, EngineSettings(concurrency=16))
        states = Counter([row.state async for row in store.results.rows(run_id)])
        counts = await store.runs.counts(run_id)
    assert counts is not None
    return states, adapter, stop, counts.spend


async def test_probing_sends_one_request_at_a_time_then_batches(tmp_path: Path) -> None:
    """Three probes one at a time, then 27 lookups in batches of 5; each sent once."""
    states, adapter, stop, spend = await run(tmp_path, 30, (3, 5))
    assert adapter.most_out_probing == 1
    assert adapter.sizes[:3] == [1, 1, 1]
    assert sorted(adapter.sizes[3:]) == [2, 5, 5, 5, 5, 5]
    assert adapter.most_out > 1  # probing over: the batches go out together again
    assert adapter.calls == Counter({f"v{i:02d}": 1 for i in range(30)})
    assert states == Counter({JobState.DONE: 30})
    assert (spend.units, spend.requests, spend.retries) == (30, 9, 0)
    assert stop.kind is None


async def test_an_adapter_that_never_learns_sends_every_lookup_alone(tmp_path: Path) -> None:
    """Probing to the end: 12 requests of one, never two out at once."""
    states, adapter, _, spend = await run(tmp_path, 12, (99, 5))
    assert adapter.most_out == 1
    assert adapter.sizes == [1] * 12
    assert states == Counter({JobState.DONE: 12})
    assert (spend.units, spend.requests) == (12, 12)


async def test_a_402_while_probing_stops_with_nothing_else_sent(tmp_path: Path) -> None:
    """A 402 on the 3rd probe: 2 done, the rest pending, nothing else sent or counted."""
    states, adapter, stop, spend = await run(tmp_path, 20, (5, 5, 3))
    assert stop.kind == StopKind.QUOTA
    assert adapter.sizes == [1, 1, 1]
    assert states == Counter({JobState.DONE: 2, JobState.PENDING: 18})
    assert (spend.units, spend.requests, spend.retries) == (2, 3, 0)
