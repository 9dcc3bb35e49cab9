"""Rate limiting for one API key: calls evenly spaced, never a burst.

A provider that counts calls per wall-clock second punishes bursts at a window's edge even
when the average rate is legal, so calls go out on a fixed grid of slots ``1/rate`` apart.
Slots are handed out in advance, so a late wake-up does not push every later call back:
the grid keeps its average rate. On a 429 the rate halves and nothing is sent for a second
(the provider's window is spent); every later success adds back a little, probing up to the
configured rate. A provider's ``Remaining: 0`` with a reset time pauses sending until then.

Why not ``aiolimiter.AsyncLimiter(1, 1/rate)``: its bucket forgets a late wake-up instead
of catching up (losing rate at hundreds of calls a second), its rate is fixed at creation,
and it reads the event loop's clock; this one adapts and runs on an injected clock.
"""

from __future__ import annotations

from typing import Protocol

from bulkfetch.clock import Clock, SystemClock

__all__ = ["Pacer", "RateLimiter"]


class Pacer(Protocol):
    """What the engine asks of a rate limiter, in-process or shared by workers."""

    @property
    def rate(self) -> float | None:
        """The rate calls are spaced at now; None while unlimited."""
        ...

    @property
    def throughput(self) -> int:
        """Calls that went through in the last whole second (or this one so far)."""
        ...

    async def acquire(self) -> None:
        """Wait for this caller's slot. A shared limiter raises a
        :class:`~bulkfetch.errors.StopRunError` when another worker stopped the key."""
        ...

    def on_success(self) -> None: ...

    def on_rate_limited(self, retry_after: float | None = None) -> None: ...

    def on_headers(self, remaining: int | None, reset_in: float | None) -> None: ...

    async def on_stop(self, kind: str, reason: str) -> None:
        """This worker saw a quota or key stop: tell whoever shares the key."""
        ...


class RateLimiter:
    """Hands out evenly spaced send slots at up to ``rate`` calls a second."""

    # A little under the limit: wake-ups and the network jitter by a few milliseconds, and a
    # call that lands in the next second's window after its neighbour landed early makes one
    # window hold one call too many.
    HEADROOM = 0.985
    BACKOFF_FACTOR = 0.5
    PAUSE_AFTER_429 = 1.0
    BELOW_LEARNED = 0.97  # climb back quickly to this share of what got through at a 429
    CREEP = 100.0  # beyond it, climb this many times slower (about +0.05/s a second at 50/s)

    def __init__(
        self,
        rate: float | None,
        *,
        clock: Clock | None = None,
        min_rate: float = 0.5,
        probe_seconds: float = 10.0,
    ) -> None:
        """``rate=None``: no limit is known. Calls go unspaced until the first 429; from then on
        the rate starts at half of what was being sent and probes upward with no ceiling."""
        if rate is not None and rate <= 0:
            raise ValueError("rate must be positive")
        self._clock = clock or SystemClock()
        self._ceiling = rate * self.HEADROOM if rate is not None else None
        self._rate = self._ceiling
        self._min_rate = min_rate
        self._probe_seconds = probe_seconds
        self._next_slot = 0.0
        self._resume_at = 0.0
        self._sends = PerSecond()
        self._successes = PerSecond()
        self._learned: float | None = None  # calls a second the provider let through at a 429
        self.rate_limited = 0

    @property
    def rate(self) -> float | None:
        """The rate calls are spaced at now; None while unlimited."""
        return self._rate

    @property
    def throughput(self) -> int:
        """Calls that went through in the last whole second (or this one so far)."""
        return self._successes.recent()

    async def acquire(self) -> None:
        """Wait for this caller's slot."""
        # No await before the slot is taken: callers get slots in turn without a lock.
        now = self._clock.monotonic()
        slot = max(now, self._next_slot, self._resume_at)
        if self._rate is not None:
            self._next_slot = slot + 1.0 / self._rate
        self._sends.count(slot)
        delay = slot - now
        if delay > 0:
            await self._clock.sleep(delay)

    def on_success(self) -> None:
        """A call went through: probe back up.

        Additive increase: back to just under what got through in the second of the last 429
        (the provider's limit, as near as we can see) in about ``probe_seconds``, then
        ``CREEP`` times slower beyond it, so that a limit that rises is found again without
        a storm of 429s. Never above the configured rate.
        """
        self._successes.count(self._clock.monotonic())
        if self._rate is None or (self._ceiling is not None and self._rate >= self._ceiling):
            return
        goal = self._ceiling if self._ceiling is not None else 2.0 * self._rate
        if self._learned is not None:
            goal = min(goal, self._learned * self.BELOW_LEARNED)
        step = max(goal, self._rate) / (2.0 * self._probe_seconds * max(self._rate, 1.0))
        if self._learned is not None and self._rate >= self._learned * self.BELOW_LEARNED:
            step /= self.CREEP
        self._rate = self._rate + step
        if self._ceiling is not None:
            self._rate = min(self._ceiling, self._rate)

    def on_rate_limited(self, retry_after: float | None = None) -> None:
        """A 429: remember how many calls got through in its second, go just under that (or
        halve, when none did), and pause for the provider's window (or its Retry-After)."""
        self.rate_limited += 1
        now = self._clock.monotonic()
        if now < self._resume_at:
            # Calls sent before the last backoff are still answering 429: one event, one cut.
            return
        # With no rate set yet, what was being sent: the last whole second, or this one so far
        # when the first second has not ended (the calls in it are a lower bound).
        current = self._rate if self._rate is not None else float(max(self._sends.recent(), 2))
        # What the provider let through in that second is its limit, as near as we can see,
        # when it is a fair share of what was sent. Far less means an outage (a burst of
        # 429s for everyone), which teaches nothing about the limit: then plain halving.
        # Either way, one 429 never cuts the rate by more than half.
        # With no configured rate, "current" is itself read off a second that may have just
        # begun, too unsteady to learn from: plain halving then.
        through = self._successes.recent()
        cut = current * self.BACKOFF_FACTOR
        if self._ceiling is not None and through >= cut:
            self._learned = float(through)
            cut = through * self.BELOW_LEARNED
        self._rate = max(self._min_rate, min(cut, current))
        pause = retry_after if retry_after is not None else self.PAUSE_AFTER_429
        self._resume_at = max(self._resume_at, now + pause)
        self._next_slot = max(self._next_slot, self._resume_at)

    def on_headers(self, remaining: int | None, reset_in: float | None) -> None:
        """The provider said how many calls are left in its window and when it resets."""
        if remaining is not None and remaining <= 0 and reset_in is not None and reset_in > 0:
            self._resume_at = max(self._resume_at, self._clock.monotonic() + reset_in)

    async def on_stop(self, kind: str, reason: str) -> None:
        """Nobody else shares this limiter: the engine's own stop is enough."""


class PerSecond:
    """Events counted per second: the last whole second's count, and the current one's."""

    def __init__(self) -> None:
        self._start = 0.0
        self._current = 0
        self._last = 0

    def count(self, at: float) -> None:
        if at - self._start >= 1.0:
            self._last = self._current if at - self._start < 2.0 else 0
            self._start = at
            self._current = 0
        self._current += 1

    def recent(self) -> int:
        """The larger of the last whole second and this one so far (a lower bound)."""
        return max(self._last, self._current)
