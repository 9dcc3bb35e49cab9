"""The rate limiter, driven by a clock the test controls, alone and against a simulated
provider that counts calls per wall-clock second as CrystalRoof does."""

from __future__ import annotations

import asyncio
import heapq
import random
from collections import Counter
from collections.abc import Coroutine
from typing import Any

import pytest

from bulkfetch.pacing.limiter import RateLimiter
from bulkfetch.pacing.policy import PacingPolicy
from tests.unit.clock import FakeClock
from tests.unit.simulated import Provider, simulate


async def send_times(limiter: RateLimiter, clock: FakeClock, count: int) -> list[float]:
    times = []
    for _ in range(count):
        await limiter.acquire()
        times.append(clock.now)
    return times


async def test_calls_are_placed_evenly_inside_each_second() -> None:
    """Ten a second, inside the provider's seconds and away from their edges: no burst at
    the start, none at an edge, and each second holds the whole rate."""
    clock = FakeClock()
    limiter = RateLimiter(10, clock=clock)
    times = await send_times(limiter, clock, 30)
    assert Counter(int(t) for t in times) == {1000: 10, 1001: 10, 1002: 10}
    offsets = [round(t % 1, 6) for t in times[:10]]
    assert offsets == pytest.approx([0.05 + i * 0.09 for i in range(10)])


async def test_a_slot_not_due_is_held_for_the_wait_that_follows() -> None:
    """acquire_now takes a slot due now, and holds one that is not for the acquire after
    it: the same places as acquire alone, no slot lost or handed out twice."""
    clock = FakeClock()
    limiter = RateLimiter(10, clock=clock)
    times = []
    for _ in range(30):
        if not limiter.acquire_now():
            await limiter.acquire()
        times.append(clock.now)
    alone = FakeClock()
    assert times == await send_times(RateLimiter(10, clock=alone), alone, 30)
    assert RateLimiter(None, clock=FakeClock()).acquire_now()  # the first of a slow start


async def test_no_wall_clock_second_holds_more_than_the_rate() -> None:
    """Counted per whole second, as the provider counts, never more than the limit."""
    clock = FakeClock()
    clock.now = 1000.9  # start near a window's edge
    limiter = RateLimiter(20, clock=clock)
    times = await send_times(limiter, clock, 200)
    per_second = Counter(int(t) for t in times)
    assert max(per_second.values()) <= 20
    assert all(0.05 - 1e-9 <= t % 1 <= 0.95 + 1e-9 for t in times)


async def test_a_caller_late_for_its_slot_takes_the_next_free_one() -> None:
    """Slots passed while a caller was busy are gone; the second still holds no more (its
    last slot is 0.86: 0.95 is its edge)."""
    clock = FakeClock()
    limiter = RateLimiter(10, clock=clock)
    await limiter.acquire()
    clock.now += 0.5  # busy for half a second: five slots passed
    times = await send_times(limiter, clock, 6)
    assert [round(t % 1, 6) for t in times] == pytest.approx([0.59, 0.68, 0.77, 0.86, 0.05, 0.14])


class BusyLoopClock(FakeClock):
    """A busy event loop: callers sleep at once, and each wake-up comes up to 40 ms late."""

    def __init__(self) -> None:
        super().__init__()
        self.rng = random.Random(0)
        self.sleepers: list[tuple[float, int, asyncio.Future[None]]] = []

    async def sleep(self, seconds: float) -> None:
        wake = self.now + max(0.0, seconds) + self.rng.uniform(0.0, 0.04)
        future = asyncio.get_running_loop().create_future()
        heapq.heappush(self.sleepers, (wake, id(future), future))
        await future

    async def run(self, *callers: Coroutine[Any, Any, None]) -> None:
        tasks = [asyncio.ensure_future(caller) for caller in callers]
        while not all(task.done() for task in tasks):
            for _ in range(5):  # let every caller run until it sleeps
                await asyncio.sleep(0)
            if self.sleepers:
                self.now, _, future = heapq.heappop(self.sleepers)
                future.set_result(None)
        for task in tasks:
            task.result()


async def test_a_call_woken_after_its_second_ended_takes_a_new_slot() -> None:
    """16 callers, late wake-ups: a call whose slot was in one second but that wakes in the
    next must not go out on top of that second's own slots (the provider would count one
    too many); it takes a new slot, and the average rate holds."""
    clock = BusyLoopClock()
    limiter = RateLimiter(20, clock=clock)
    times: list[float] = []

    async def caller() -> None:
        for _ in range(60):
            await limiter.acquire()
            times.append(clock.now)

    await clock.run(*(caller() for _ in range(16)))
    per_second = Counter(int(t) for t in times)
    assert max(per_second.values()) <= 20
    assert len(times) / (max(times) - min(times)) >= 0.9 * 20


def successes(limiter: RateLimiter, clock: FakeClock, count: int, per_second: float) -> None:
    for _ in range(count):
        clock.now += 1.0 / per_second
        limiter.on_success()


async def test_a_429_alone_is_retried_with_no_pause() -> None:
    """One 429 among successes is most likely one at random: no pause, the rate holds."""
    clock = FakeClock()
    limiter = RateLimiter(10, clock=clock)
    successes(limiter, clock, 3, 20)
    limiter.on_rate_limited()
    successes(limiter, clock, 1, 20)
    before = clock.now
    await limiter.acquire()
    assert clock.now - before < 0.1
    assert limiter.rate == 10


class SteppedClock(BusyLoopClock):
    """Callers sleep until woken, on time: the test sees who holds a slot."""

    async def sleep(self, seconds: float) -> None:
        wake = self.now + max(0.0, seconds)
        future = asyncio.get_running_loop().create_future()
        heapq.heappush(self.sleepers, (wake, id(future), future))
        await future


async def test_429s_in_a_row_pause_every_caller_until_the_next_second() -> None:
    """Two 429s in a row after as many successes as ever: the limit's. Nothing goes out
    until the provider's next second, not even from callers that held a slot already."""
    clock = SteppedClock()
    clock.now = 1000.3
    limiter = RateLimiter(10, clock=clock)
    successes(limiter, clock, 5, 20)
    sent: list[float] = []

    async def holder() -> None:
        await limiter.acquire()
        sent.append(clock.now)

    async def refused() -> None:  # runs once the holders sleep towards their slots
        limiter.on_rate_limited()
        limiter.on_rate_limited()

    await clock.run(holder(), holder(), holder(), refused())
    assert len(sent) == 3
    assert min(sent) >= 1001.05  # the next second, and a little skew
    assert limiter.rate == 10  # a pause, not yet a cut: one second does not make a limit


async def test_the_same_count_twice_is_learned_as_the_limit() -> None:
    """Told 75/s, let through 50 a second: the second 429 at 50 teaches the limit, and
    sends go at exactly 50 a second from then on, held while it holds (no model of the
    window sure of it yet: a few seconds, then probed)."""
    clock = FakeClock()
    limiter = RateLimiter(75, clock=clock)
    for _ in range(2):
        clock.now = float(int(clock.now) + 1)
        successes(limiter, clock, 50, 75)
        limiter.on_rate_limited()
        limiter.on_rate_limited()
    assert limiter.learned == 50
    assert limiter.rate == 50
    successes(limiter, clock, 200, 50)  # four seconds more: held, no probing yet
    assert limiter.rate == 50
    successes(limiter, clock, 100, 50)  # then probed
    assert limiter.rate > 50


async def test_429s_with_nothing_through_pause_learn_nothing_and_twice_halve() -> None:
    """429s in a row before anything got through (an outage, a second another client
    spent): a pause, no limit learned; when nothing gets through before the next, halve."""
    clock = FakeClock()
    limiter = RateLimiter(10, clock=clock)
    limiter.on_rate_limited()
    limiter.on_rate_limited()
    assert (limiter.rate, limiter.learned) == (10, None)
    await limiter.acquire()
    limiter.on_rate_limited()
    limiter.on_rate_limited()
    assert limiter.rate == 5


async def test_retry_after_sets_the_pause() -> None:
    """The provider's Retry-After is honoured."""
    clock = FakeClock()
    limiter = RateLimiter(10, clock=clock)
    limiter.on_rate_limited(retry_after=7.5)
    before = clock.now
    await limiter.acquire()
    assert clock.now - before >= 7.5


async def test_remaining_zero_waits_for_the_reset() -> None:
    """``X-RateLimit-Remaining: 0`` holds every call until the reset time."""
    clock = FakeClock()
    limiter = RateLimiter(100, clock=clock)
    limiter.on_headers(remaining=0, reset_in=3.0)
    before = clock.now
    await limiter.acquire()
    assert clock.now - before >= 3.0
    limiter.on_headers(remaining=5, reset_in=3.0)
    before = clock.now
    await limiter.acquire()
    assert clock.now - before < 0.02


async def test_without_a_rate_it_starts_small_and_grows_each_full_half_second() -> None:
    """Slow start: 16 calls a second at first, four times as many after each half second
    that used most of them with no 429."""
    clock = FakeClock()
    limiter = RateLimiter(None, clock=clock)
    sent: list[float] = []
    while clock.now < 1001.5:
        await limiter.acquire()
        sent.append(clock.now)
        limiter.on_success()
    counts = Counter(int(2 * t) for t in sent)
    per_half = [counts[2000], counts[2001], counts[2002]]
    assert per_half[0] == 8
    assert 0.9 * 32 <= per_half[1] <= 32  # a slot or so lost to the budget changing
    assert 0.9 * 128 <= per_half[2] <= 128


def test_rate_must_be_positive() -> None:
    """A zero or negative rate is refused."""
    with pytest.raises(ValueError, match="positive"):
        RateLimiter(0)


async def test_answers_count_in_the_second_their_calls_were_sent() -> None:
    """The provider counts a call in the second it arrives: successes of calls sent in one
    second and answered in the next count in the first, not in the next's."""
    clock = FakeClock()
    clock.now = 1001.5
    limiter = RateLimiter(75, clock=clock)
    for _ in range(10):
        limiter.on_success(1000.9)  # late answers of the second before
    for _ in range(2):
        successes(limiter, clock, 20, 100)
        limiter.on_rate_limited()
        limiter.on_rate_limited()
        clock.now = float(int(clock.now) + 1) + 0.5
    assert limiter.learned == 20


# -- against a simulated provider -------------------------------------------------------


@pytest.mark.parametrize("limit", [10, 50, 200])
async def test_a_known_limit_is_used_whole_with_no_429(limit: int) -> None:
    """Told the true limit: the whole of it, every second from the first, and no 429."""
    outcome = await simulate(float(limit), Provider(limit), seconds=30.0, after=0.0)
    assert outcome.per_second >= 0.99 * limit
    assert outcome.rate_limited_share == 0


@pytest.mark.parametrize("offset", [0.0, 0.03], ids=["aligned", "clocks 30 ms apart"])
@pytest.mark.parametrize(
    ("limit", "told"),
    [(20, 30.0), (50, 75.0), (20, None), (50, None)],
    ids=["20 told 30", "50 told 75", "20 no rate", "50 no rate"],
)
async def test_an_unknown_limit_is_learned_from_the_first_429s(
    limit: int, told: float | None, offset: float
) -> None:
    """Told 50% above the true limit, or nothing: over the whole run, from its first
    second, at least 0.95 of the limit and under 1% of calls answered 429."""
    outcome = await simulate(told, Provider(limit, offset=offset), seconds=45.0, after=0.0)
    assert outcome.per_second >= 0.95 * limit
    assert outcome.rate_limited_share < 0.01


@pytest.mark.parametrize("share", [0.05, 0.08])
async def test_429s_at_random_cost_only_themselves(share: float) -> None:
    """5% or 8% of calls answered 429 whatever the rate, at --rate equal to the limit of
    40/s: each is retried, with no pause and no false limit; at least 0.88 of the limit."""
    outcome = await simulate(40.0, Provider(40, at_random=share), seconds=60.0, after=0.0)
    assert outcome.per_second >= 0.88 * 40


@pytest.mark.parametrize("limit", [10, 200])
async def test_small_and_large_unknown_limits_are_learned(limit: int) -> None:
    outcome = await simulate(None, Provider(limit))
    assert outcome.per_second >= 0.9 * limit
    assert outcome.rate_limited_share < 0.02


async def test_a_limit_that_falls_is_followed() -> None:
    """Another client takes part of the key's limit: 50/s becomes 30/s at 30 s."""
    outcome = await simulate(None, Provider(50, change=(1030.0, 30)), after=40.0)
    assert 0.9 * 30 <= outcome.per_second <= 30.5  # whole seconds of 30, and a part
    assert outcome.rate_limited_share < 0.02


async def test_a_limit_that_rises_is_found_again() -> None:
    """30/s becomes 60/s at 30 s: a learned limit holds only so long, then is probed."""
    after = 30.0 + 2 * PacingPolicy.HOLD_SECONDS
    outcome = await simulate(
        None, Provider(30, change=(1030.0, 60)), seconds=after + 30.0, after=after
    )
    assert outcome.per_second >= 0.9 * 60
    assert outcome.rate_limited_share < 0.02


@pytest.mark.parametrize("told", [None, 300.0], ids=["no rate", "told 300"])
async def test_bursts_of_429_for_everyone_do_not_drag_the_rate_down(told: float | None) -> None:
    """An outage answering 429 to all for half a second every 4 s, the run starting inside
    one, and no limit: each burst costs its pause (to the next second), and the rate does
    not spiral down. Told 300: about 3 of every 4 seconds at 300/s."""
    outcome = await simulate(told, Provider(None, bursts=(4.0, 0.5)), start=1000.1)
    if told is None:  # unspaced, as fast as 16 calls 20 ms apart allow in 3 of 4 seconds
        assert outcome.per_second >= 0.6 * 16 / 0.021 * 0.75
    else:
        assert outcome.per_second >= 0.7 * told
    assert outcome.rate_limited_share < 0.02


async def test_bursts_of_429_do_not_teach_a_false_limit() -> None:
    """The same outage over a true limit of 50/s: the rate stays just under 50 (the bursts'
    pauses cost about a quarter of the calls, nothing more)."""
    outcome = await simulate(None, Provider(50, bursts=(4.0, 0.5)))
    assert outcome.per_second >= 0.65 * 50
