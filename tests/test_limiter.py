"""The rate limiter, driven by a clock the test controls."""

from __future__ import annotations

import itertools

import pytest

from bulkfetch.limiter import RateLimiter


class FakeClock:
    """Time that moves only when somebody sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now

    def time(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += max(0.0, seconds)


async def send_times(limiter: RateLimiter, clock: FakeClock, count: int) -> list[float]:
    times = []
    for _ in range(count):
        await limiter.acquire()
        times.append(clock.now)
    return times


async def test_calls_are_evenly_spaced_with_no_burst_at_start() -> None:
    """The first calls are spaced like all the others: no initial burst."""
    clock = FakeClock()
    limiter = RateLimiter(10, clock=clock)
    times = await send_times(limiter, clock, 21)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    expected = 1 / (10 * RateLimiter.HEADROOM)
    assert gaps == pytest.approx([expected] * 20)
    assert times[-1] - times[0] == pytest.approx(20 * expected)


async def test_no_wall_clock_second_holds_more_than_the_rate() -> None:
    """Counted per whole second, as the provider counts, never more than the limit."""
    clock = FakeClock()
    clock.now = 1000.9  # start near a window's edge
    limiter = RateLimiter(20, clock=clock)
    times = await send_times(limiter, clock, 200)
    per_second: dict[int, int] = {}
    for t in times:
        per_second[int(t)] = per_second.get(int(t), 0) + 1
    assert max(per_second.values()) <= 20


async def test_a_late_wake_up_is_caught_up_not_lost() -> None:
    """Slots stay on their grid when a caller comes late, so the average rate holds."""
    clock = FakeClock()
    limiter = RateLimiter(10, clock=clock)
    await limiter.acquire()
    start = clock.now
    clock.now += 0.05  # the caller was busy for half a slot
    for _ in range(10):
        await limiter.acquire()
    assert clock.now - start == pytest.approx(10 / (10 * RateLimiter.HEADROOM))


async def test_429_halves_the_rate_and_pauses_a_second() -> None:
    """After a 429 nothing goes out for the provider's window, then at half the rate."""
    clock = FakeClock()
    limiter = RateLimiter(10, clock=clock)
    await limiter.acquire()
    limiter.on_rate_limited()
    before = clock.now
    await limiter.acquire()
    assert clock.now - before == pytest.approx(1.0)
    assert limiter.rate == pytest.approx(5 * RateLimiter.HEADROOM)


async def test_a_storm_of_429s_from_one_window_cuts_the_rate_once() -> None:
    """The calls already in flight all answer 429: that is one event, not many."""
    clock = FakeClock()
    limiter = RateLimiter(16, clock=clock)
    for _ in range(8):
        limiter.on_rate_limited()
    assert limiter.rate == pytest.approx(8 * RateLimiter.HEADROOM)
    assert limiter.rate_limited == 8


async def test_retry_after_sets_the_pause() -> None:
    """The provider's Retry-After is honoured."""
    clock = FakeClock()
    limiter = RateLimiter(10, clock=clock)
    limiter.on_rate_limited(retry_after=7.5)
    before = clock.now
    await limiter.acquire()
    assert clock.now - before == pytest.approx(7.5)


async def test_successes_probe_back_to_the_configured_rate() -> None:
    """After a cut the rate climbs back, and never above the configured rate."""
    clock = FakeClock()
    limiter = RateLimiter(10, clock=clock, probe_seconds=5)
    limiter.on_rate_limited()
    assert limiter.rate is not None
    assert limiter.rate < 10 * RateLimiter.HEADROOM
    for _ in range(200):
        limiter.on_success()
    assert limiter.rate == pytest.approx(10 * RateLimiter.HEADROOM)


async def test_remaining_zero_waits_for_the_reset() -> None:
    """``X-RateLimit-Remaining: 0`` holds every call until the reset time."""
    clock = FakeClock()
    limiter = RateLimiter(100, clock=clock)
    limiter.on_headers(remaining=0, reset_in=3.0)
    before = clock.now
    await limiter.acquire()
    assert clock.now - before == pytest.approx(3.0)
    limiter.on_headers(remaining=5, reset_in=3.0)
    before = clock.now
    await limiter.acquire()
    assert clock.now - before < 0.02


async def test_unknown_rate_sends_freely_until_a_429_then_paces() -> None:
    """With no configured rate, the first 429 sets a rate from what was being sent."""
    clock = FakeClock()
    limiter = RateLimiter(None, clock=clock)
    for _ in range(30):
        await limiter.acquire()
        clock.now += 0.05  # 20 calls a second, as the callers manage
    assert limiter.rate is None
    limiter.on_rate_limited()
    assert limiter.rate == pytest.approx(10, abs=1)


def test_rate_must_be_positive() -> None:
    """A zero or negative rate is refused."""
    with pytest.raises(ValueError, match="positive"):
        RateLimiter(0)


async def test_after_a_429_the_rate_settles_just_under_what_got_through() -> None:
    """Told 75/s by the user, let through 50/s by the provider: after one 429 the rate goes
    straight to just under 50, then creeps; not a 429 every few seconds."""
    clock = FakeClock()
    limiter = RateLimiter(75, clock=clock, probe_seconds=5)
    for _ in range(50):  # one second in which the provider let 50 calls through
        clock.now += 0.02
        limiter.on_success()
    limiter.on_rate_limited()
    assert limiter.rate == pytest.approx(50 * RateLimiter.BELOW_LEARNED)
    for _ in range(500):  # ten more seconds of successes
        clock.now += 0.02
        limiter.on_success()
    assert limiter.rate is not None
    assert 50 * 0.95 <= limiter.rate <= 50 * 1.01
    settled = limiter.rate
    for _ in range(50):
        clock.now += 0.02
        limiter.on_success()
    assert limiter.rate - settled < 0.5  # creeping, not climbing


async def test_a_burst_of_429s_for_everyone_teaches_no_limit() -> None:
    """An outage answering 429 to all (almost nothing got through) is not the provider's
    limit: the rate halves at most, and climbs back to the configured rate."""
    clock = FakeClock()
    limiter = RateLimiter(40, clock=clock, probe_seconds=5)
    for _ in range(2):  # barely anything got through in that second
        clock.now += 0.02
        limiter.on_success()
    limiter.on_rate_limited()
    assert limiter.rate == pytest.approx(20 * RateLimiter.HEADROOM)
    for _ in range(400):
        clock.now += 0.025
        limiter.on_success()
    assert limiter.rate == pytest.approx(40 * RateLimiter.HEADROOM)
