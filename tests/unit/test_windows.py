"""Allowances over longer windows: the gate in front of the pacer on a clock the test drives
(a day's wait passes at once), its counts in a real SQLite store; where a run's limits come
from; the engine held or stopped by a spent day; and the plan's count of windows."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest

from bulkfetch.engine import EngineSettings, StopRequest, run_jobs
from bulkfetch.errors import WindowSpentError
from bulkfetch.jobs import JobState, Lookup, StopKind
from bulkfetch.pacing.limiter import RateLimiter
from bulkfetch.pacing.limits import Limit, limits_of, pace, parse_limit
from bulkfetch.pacing.windows import AtLimit, WindowedPacer, spent_now
from bulkfetch.run.pace import pacer_for
from bulkfetch.run.plan import Plan
from bulkfetch.store import RowEntry, RunSpec, Store
from tests.unit.clock import AutojumpClock, FakeClock
from tests.unit.test_engine import FakeAdapter

DAY = 86_400.0
EVENING = DAY - 600.0  # 23:50 UTC on the first day: a wait for midnight is ten minutes
KEY_ID = "key-1"


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    async with await Store.open(tmp_path / "s.db") as opened:
        yield opened


async def gate(
    store: Store,
    clock: FakeClock | AutojumpClock,
    *limits: Limit,
    at_limit: AtLimit = "wait",
    told: list[str] | None = None,
) -> WindowedPacer:
    return await WindowedPacer.join(
        RateLimiter(100, clock=clock),
        store,
        KEY_ID,
        limits,
        at_limit=at_limit,
        clock=clock,
        tell=None if told is None else told.append,
    )


def epoch(text: str) -> float:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC).timestamp()


async def test_a_spent_day_holds_calls_until_the_next_utc_midnight(store: Store) -> None:
    """Three a day, six callers at once: three go now, three at midnight UTC and not before;
    the user hears once when calls go on."""
    clock, told = AutojumpClock(), list[str]()
    windowed = await gate(store, clock, Limit(3, "day"), told=told)
    times: list[float] = []

    async def call() -> None:
        await windowed.acquire()
        times.append(clock.time())

    async def six() -> None:
        async with anyio.create_task_group() as tg:
            for _ in range(6):
                tg.start_soon(call)

    await clock.driving(six())
    assert sorted(t >= DAY for t in times) == [False] * 3 + [True] * 3
    assert all(t < DAY + 1 for t in times)
    assert told == [
        "the day's allowance of 3 calls is spent (3/day): calls go on at 1970-01-02 00:00 UTC"
    ]


@pytest.mark.parametrize(
    ("limit", "now", "opens"),
    [
        (Limit(2, "minute"), 1000.0, "1970-01-01 00:17 UTC"),
        (Limit(2, "hour"), 1000.0, "1970-01-01 01:00 UTC"),
        (Limit(2, "day"), epoch("2026-12-01T17:30:00"), "2026-12-02 00:00 UTC"),
        (Limit(2, "month"), epoch("2024-02-10T09:00:00"), "2024-03-01 00:00 UTC"),
    ],
)
async def test_stop_mode_stops_at_a_spent_window_saying_when_it_opens(
    store: Store, limit: Limit, now: float, opens: str
) -> None:
    """At the limit with ``at_limit="stop"``: a WindowSpentError naming the next window's UTC
    time, and the refused call counted nowhere."""
    clock = FakeClock()
    clock.now = now
    windowed = await gate(store, clock, limit, at_limit="stop")
    await windowed.acquire()
    await windowed.acquire()
    spent = f"the {limit.unit}'s allowance of 2 calls is spent; it opens again at {opens}"
    with pytest.raises(WindowSpentError, match=spent) as raised:
        await windowed.acquire()
    assert raised.value.opens_at == limit.window(now)[1]
    assert await spent_now(store, KEY_ID, [limit], clock.time()) == {limit: 2}


async def test_a_new_gate_on_the_store_knows_what_the_window_spent(store: Store) -> None:
    """A run resumed on the same store the same day stops at once; the next day it has the
    whole allowance again."""
    clock = FakeClock()
    first = await gate(store, clock, Limit(2, "day"), at_limit="stop")
    await first.acquire()
    await first.acquire()
    again = await gate(store, clock, Limit(2, "day"), at_limit="stop")
    with pytest.raises(WindowSpentError):
        await again.acquire()
    clock.now = DAY + 5.0
    tomorrow = await gate(store, clock, Limit(2, "day"), at_limit="stop")
    await tomorrow.acquire()
    await tomorrow.acquire()
    with pytest.raises(WindowSpentError, match="1970-01-03 00:00 UTC"):
        await tomorrow.acquire()


async def test_every_window_must_have_room_and_a_held_call_counts_in_none(store: Store) -> None:
    """2 a minute and 3 an hour: the third call waits for the next minute, the fourth for
    the next hour; a call one window held was counted in neither."""
    clock = AutojumpClock()
    minute, hour = Limit(2, "minute"), Limit(3, "hour")
    windowed = await gate(store, clock, minute, hour)

    async def four() -> list[float]:
        times = []
        for _ in range(4):
            await windowed.acquire()
            times.append(clock.time())
        return times

    times = await clock.driving(four())
    assert [int(t // 60) for t in times[:3]] == [16, 16, 17]  # 00:16, then 00:17
    assert 3600 <= times[3] < 3601
    assert await spent_now(store, KEY_ID, [minute, hour], clock.time()) == {minute: 1, hour: 1}


async def test_a_wait_for_a_window_ends_when_the_run_stops(tmp_path: Path) -> None:
    """Waiting for midnight with the day spent, a stop a minute in: the engine returns then,
    not at midnight, the calls left pending, none sent after the stop."""
    clock, stop = AutojumpClock(), StopRequest()
    clock.now = EVENING

    async def stop_in_a_minute() -> None:
        await clock.sleep(60)
        stop.request(StopKind.INTERRUPTED, "interrupted by SIGINT")

    async with await Store.open(tmp_path / "s.db") as store:
        adapter, run_id = await enqueued(store, clock, 6)
        windowed = await gate(store, clock, Limit(2, "day"))
        async with anyio.create_task_group() as tg:
            tg.start_soon(stop_in_a_minute)
            await clock.driving(work(store, run_id, adapter, windowed, clock, stop))
        states = [row.state async for row in store.results.rows(run_id)]
    assert len(adapter.sent) == 2
    assert clock.time() < DAY
    assert states.count(JobState.PENDING) == 4


async def test_the_engine_sends_the_rest_after_midnight_when_it_waits(tmp_path: Path) -> None:
    """Ten lookups at 6 a day: six sent today, the other four from midnight on, all done;
    the run never stops, and the user hears once when calls go on."""
    clock, told, stop = AutojumpClock(), list[str](), StopRequest()
    clock.now = EVENING
    async with await Store.open(tmp_path / "s.db") as store:
        adapter, run_id = await enqueued(store, clock, 10)
        windowed = await gate(store, clock, Limit(6, "day"), told=told)
        await clock.driving(work(store, run_id, adapter, windowed, clock, stop))
        states = {row.state async for row in store.results.rows(run_id)}
    assert stop.kind is None
    assert states == {JobState.DONE}
    assert sorted(t >= DAY for t in adapter.sent) == [False] * 6 + [True] * 4
    assert len(told) == 1


async def test_the_engine_stops_at_a_spent_day_and_resumes_the_next(tmp_path: Path) -> None:
    """Stop mode: 6 of 10 sent, the run stopped as a window's; the same day again, no call;
    the next day, the four left, and nothing twice."""
    clock = AutojumpClock()
    async with await Store.open(tmp_path / "s.db") as store:
        adapter, run_id = await enqueued(store, clock, 10)
        for day in (0, 0, 1):
            clock.now = max(clock.now, EVENING + day * DAY)
            windowed = await gate(store, clock, Limit(6, "day"), at_limit="stop")
            stop = StopRequest()
            await clock.driving(work(store, run_id, adapter, windowed, clock, stop))
            if day == 0:
                assert stop.kind == StopKind.WINDOW
                assert "opens again at 1970-01-02 00:00 UTC" in (stop.reason or "")
                assert len(adapter.sent) == 6
        states = {row.state async for row in store.results.rows(run_id)}
    assert stop.kind is None
    assert states == {JobState.DONE}
    assert sorted(adapter.calls.values()) == [1] * 10


async def test_the_run_takes_the_adapters_limits_and_the_options_win(store: Store) -> None:
    """An adapter declaring 5/second and 2/day, options giving 3/day: paced at 5 a second,
    three calls today, then a stop."""

    class Limited(FakeAdapter):
        limits = (parse_limit("5/second"), parse_limit("2/day"))

    clock = FakeClock()
    adapter = Limited(AutojumpClock(), lambda _v, _n: None)
    pacer = await pacer_for(store, adapter, None, clock, limits=[Limit(3, "day")], at_limit="stop")
    assert pacer.rate == 5
    for _ in range(3):
        await pacer.acquire()
    with pytest.raises(WindowSpentError, match="allowance of 3 calls"):
        await pacer.acquire()


def test_the_options_limits_win_unit_by_unit_and_a_rate_wins_the_pace() -> None:
    """The adapter's 5/second and 2500/day with the options' 3000/day and 100/hour: one
    limit a unit, shortest first; the per-second limit paces unless a rate is given."""

    class Adapter:
        limits = (Limit(2500, "day"), Limit(5, "second"))

    merged = limits_of(Adapter(), [Limit(3000, "day"), Limit(100, "hour")])
    assert merged == (Limit(5, "second"), Limit(100, "hour"), Limit(3000, "day"))
    assert limits_of(object()) == ()
    assert pace(None, merged) == 5.0
    assert pace(2.5, merged) == 2.5
    assert pace(None, [Limit(100, "hour")]) is None


def test_the_plan_counts_the_windows_its_requests_take() -> None:
    """4,000 requests at 2500/day take this day and 1 more; with 2,000 of today's spent, 3;
    none at all for nothing to send."""
    day = Limit(2500, "day")
    plan = Plan(
        rows=4000, invalid=0, lookups=4000, answered=0, units=4000, requests=4000, rate=None,
        limits=(day,),
    )  # fmt: skip
    assert plan.as_json()["windows"] == {"2500/day": 2}
    assert plan.describe()[-1] == (
        "2500/day: 4,000 requests take 2 days' allowances (this one and 1 more)"
    )
    spent = dataclasses.replace(plan, spent={day: 2000})
    assert spent.as_json()["windows"] == {"2500/day": 3}
    assert spent.describe()[-1] == (
        "2500/day: 4,000 requests take 3 days' allowances"
        " (this one and 2 more; 2,000 of this one's 2,500 spent already)"
    )
    one = dataclasses.replace(plan, requests=10)
    assert one.describe()[-1] == "2500/day: 10 requests take 1 day's allowance (this one)"
    assert dataclasses.replace(plan, requests=0).as_json()["windows"] == {"2500/day": 0}
    assert dataclasses.replace(plan, limits=()).as_json()["windows"] == {}


# -- the engine on a store --------------------------------------------------------------


async def enqueued(store: Store, clock: AutojumpClock, count: int) -> tuple[FakeAdapter, int]:
    """``count`` lookups in a run of the store, and an adapter that answers them all."""
    run = await store.runs.begin(RunSpec("k", "fake", "e", "d"), now=clock.time())
    lookups = [Lookup.of("fake", "o", "e", {"value": f"v{i:02d}"}) for i in range(count)]
    await store.queue.enqueue(
        run.id, [RowEntry(i, lookup) for i, lookup in enumerate(lookups)], now=clock.time()
    )
    return FakeAdapter(clock, lambda _v, _n: None), run.id


async def work(
    store: Store,
    run_id: int,
    adapter: FakeAdapter,
    pacer: WindowedPacer,
    clock: AutojumpClock,
    stop: StopRequest,
) -> None:
    # Leases renewed and the queue looked at every few minutes, not seconds: fewer wake-ups
    # of the clock, each of which costs the test a moment of real time.
    settings = EngineSettings(concurrency=4, lease_seconds=900, backoff_cap=300)
    await run_jobs(store, run_id, adapter, pacer, settings=settings, stop=stop, clock=clock)
