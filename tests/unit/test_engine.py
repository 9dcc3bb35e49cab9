"""The engine alone: a fake adapter that answers as a script says, a clock that jumps to the
next wake-up, and a real SQLite store. Minutes of backoff pass in milliseconds."""

from __future__ import annotations

import itertools
import re
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from bulkfetch.adapter import LookupResult, Reply, ResultKind
from bulkfetch.engine import EngineSettings, StopRequest, run_jobs
from bulkfetch.errors import (
    ConnectError,
    QuotaExhaustedError,
    RateLimitedError,
    ServerError,
)
from bulkfetch.jobs import JobState, Lookup, StopKind
from bulkfetch.pacing.limiter import RateLimiter
from bulkfetch.store import RowEntry, RunSpec, Store
from tests.unit.clock import AutojumpClock

# What the fake API does with a lookup on its nth call (from 1): answer, or raise.
Script = Callable[[str, int], Exception | None]


class FakeAdapter:
    """One lookup a request; each answered as ``script`` says, 20 ms after it is sent."""

    name = "fake"
    batch_size = 1
    rate_key = "fake-key"
    notices: tuple[str, ...] = ()

    def __init__(self, clock: AutojumpClock, script: Script) -> None:
        self.clock = clock
        self.script = script
        self.calls: Counter[str] = Counter()
        self.sent: list[float] = []
        self.sent_by: dict[str, list[float]] = {}

    async def fetch(self, lookups: Sequence[Lookup]) -> Reply:
        (lookup,) = lookups
        value = lookup.param("value")
        self.calls[value] += 1
        self.sent.append(self.clock.time())
        self.sent_by.setdefault(value, []).append(self.clock.time())
        await self.clock.sleep(0.02)
        error = self.script(value, self.calls[value])
        if error is not None:
            raise error
        return Reply([LookupResult(ResultKind.OK, 200, body="{}")])

    def spec(self) -> dict[str, str]:
        return {"api": self.name}

    async def close(self) -> None:
        pass


async def run(
    tmp_path: Path, values: list[str], script: Script, **settings: float
) -> tuple[dict[str, JobState | None], FakeAdapter, StopRequest, AutojumpClock]:
    """Enqueue ``values`` and run the engine on them to the end; each value's job state."""
    clock = AutojumpClock()
    adapter = FakeAdapter(clock, script)
    stop = StopRequest()
    async with await Store.open(tmp_path / "s.db") as store:
        settled = EngineSettings(**settings)  # type: ignore[arg-type]
        run_id = await drive(store, adapter, clock, values, stop, settled)
        states = {values[row.row_no]: row.state async for row in store.results.rows(run_id)}
    return states, adapter, stop, clock


async def drive(
    store: Store,
    adapter: Any,
    clock: AutojumpClock,
    values: list[str],
    stop: StopRequest,
    settings: EngineSettings,
) -> int:
    """Enqueue ``values`` in a new run of ``store`` and run the engine on them to the end,
    on ``clock``; the run's id."""
    run_ = await store.runs.begin(RunSpec("k", "fake", "e", "d"), now=clock.time())
    lookups = [Lookup.of("fake", "o", "e", {"value": value}) for value in values]
    entries = [RowEntry(i, lookup) for i, lookup in enumerate(lookups)]
    await store.queue.enqueue(run_.id, entries, now=clock.time())
    await clock.driving(
        run_jobs(
            store,
            run_.id,
            adapter,
            RateLimiter(None, clock=clock),
            settings=settings,
            stop=stop,
            clock=clock,
            seed=1,
        )
    )
    return run_.id


async def test_every_lookup_is_called_once_and_ends_done(tmp_path: Path) -> None:
    """Twenty lookups, all answered: each called once, each done."""
    values = [f"v{i}" for i in range(20)]
    states, adapter, stop, _ = await run(tmp_path, values, lambda _v, _n: None)
    assert set(states.values()) == {JobState.DONE}
    assert adapter.calls == Counter(dict.fromkeys(values, 1))
    assert stop.kind is None


async def test_failures_that_pass_are_retried_after_a_backoff(tmp_path: Path) -> None:
    """A 500 twice, then an answer: done after three calls; one that never passes ends
    failed after max_attempts; each backoff (full jitter up to 8, 16, 32 s) waited on the
    clock, never in real time."""

    def script(value: str, nth: int) -> Exception | None:
        if (value == "flaky" and nth <= 2) or value == "broken":
            return ServerError("down", status=500)
        return None

    states, adapter, _, clock = await run(
        tmp_path, ["flaky", "broken", "fine"], script, max_attempts=4, backoff_base=8.0
    )
    assert states == {"flaky": JobState.DONE, "broken": JobState.FAILED, "fine": JobState.DONE}
    assert adapter.calls == Counter({"flaky": 3, "broken": 4, "fine": 1})
    gaps = [b - a for a, b in itertools.pairwise(adapter.sent_by["broken"])]
    # Each: its answer (20 ms), its backoff, then its send slot (within the next second).
    for gap, ceiling in zip(gaps, (8.0, 16.0, 32.0), strict=True):
        assert 0.02 <= gap <= 0.02 + ceiling + 1.0
    assert clock.now - 1000.0 >= sum(gaps) > 1.0


async def test_a_429_spends_no_attempt(tmp_path: Path) -> None:
    """A lookup refused 429 more often than it has attempts, then answered: done, not
    failed; a 500 as often still spends them all."""

    def script(value: str, nth: int) -> Exception | None:
        if nth <= 6:
            if value == "limited":
                return RateLimitedError("slow down", status=429, retry_after=0.5)
            return ServerError("down", status=500)
        return None

    states, adapter, _, _ = await run(tmp_path, ["limited", "broken"], script, max_attempts=3)
    assert states == {"limited": JobState.DONE, "broken": JobState.FAILED}
    assert adapter.calls == Counter({"limited": 7, "broken": 3})


async def test_a_spent_package_stops_the_run_and_puts_back_what_was_not_answered(
    tmp_path: Path,
) -> None:
    """A 402 on the 5th lookup: the run stops with the quota's kind; what was answered is
    done, the rest pending, nothing failed, no lookup called after the stop."""
    values = [f"v{i:02d}" for i in range(40)]
    answered: list[str] = []

    def script(value: str, _nth: int) -> Exception | None:
        if len(answered) >= 4:
            return QuotaExhaustedError("package used up", status=402)
        answered.append(value)
        return None

    states, adapter, stop, _ = await run(tmp_path, values, script, concurrency=2)
    assert stop.kind == StopKind.QUOTA
    assert Counter(states.values()) == Counter({JobState.DONE: 4, JobState.PENDING: 36})
    assert sum(adapter.calls.values()) <= 4 + 2  # the calls in flight when it came, at most


async def test_no_connection_for_longer_than_the_retries_stops_unreachable(tmp_path: Path) -> None:
    """Every connection refused: one probe at a time after 0.5, 1, 2, 4 s, then the run
    stops as unreachable with every lookup pending and no attempt spent."""
    refused = ConnectError("cannot connect to api:443: refused", host="api:443")
    values = [f"v{i}" for i in range(30)]
    states, adapter, stop, _ = await run(tmp_path, values, lambda _v, _n: refused, concurrency=8)
    assert stop.kind == StopKind.UNREACHABLE
    # The pauses (7.5 s), 20 ms a probe, and each probe's wait for its send slot.
    tried = re.search(r"5 tries over ([0-9.]+) s", stop.reason or "")
    assert tried is not None
    assert 7.5 <= float(tried.group(1)) <= 8.0
    assert set(states.values()) == {JobState.PENDING}
    # The first call (no limit known: the first second's slots are spread), then probes
    # one at a time, each at its pause and the next slot.
    gaps = [b - a for a, b in itertools.pairwise(adapter.sent)]
    assert gaps == pytest.approx([0.5, 1.0, 2.0, 4.0], abs=0.1)


@pytest.mark.parametrize("raised", [KeyError("data"), RecursionError(), AttributeError("get")])
async def test_an_adapter_that_raises_anything_fails_its_lookup_not_the_run(
    tmp_path: Path, raised: Exception
) -> None:
    """An adapter that cannot read an answer (any exception): that lookup is billed for each
    attempt (the answer was paid for), then failed with the exception's kind; the run goes on."""

    def script(value: str, _nth: int) -> Exception | None:
        return raised if value == "odd" else None

    states, adapter, stop, _ = await run(tmp_path, ["odd", "fine"], script, max_attempts=3)
    assert states == {"odd": JobState.FAILED, "fine": JobState.DONE}
    assert adapter.calls == Counter({"odd": 3, "fine": 1})
    assert stop.kind is None
    async with await Store.open(tmp_path / "s.db") as store:
        counts = await store.runs.counts(1)
        errors = {row.error async for row in store.results.rows(1)}
    assert counts is not None
    assert counts.spend.units == 3 + 1
    assert f"the answer could not be read ({type(raised).__name__})" in str(errors)
