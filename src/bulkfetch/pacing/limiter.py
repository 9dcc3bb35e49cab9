"""Rate limiting for one API key: calls evenly spaced, never a burst.

A provider that counts calls per wall-clock second punishes bursts at a window's edge even
when the average rate is legal, so calls go out on a fixed grid of slots ``1/rate`` apart.
Slots are handed out in advance, so a late wake-up does not push every later call back:
the grid keeps its average rate. A provider's ``Remaining: 0`` with a reset time pauses
sending until then.

On a 429 nothing is sent until the next second of the wall clock (the provider's window is
spent; Retry-After, when given, wins). When most of what was sent got through, the calls
that got through in the 429's second (counted in the wall clock's seconds, as the provider
counts) are the provider's limit, as near as we can see: the rate settles just under that
and holds for ``HOLD_SECONDS`` before probing above it again (a limit may rise), so a limit
nobody told us costs a 429 or two every half minute, not one every few seconds. When far
less got through, the rate halves, and successes add back a little at a time, up to the
configured rate. A 429 that does not follow from the rate must not teach a limit (an
outage answering 429 to all, a window another client spent): one before anything got
through, or one at a rate that has held (the configured rate, or under a limit learned
before) with no 429 for ``RECUR_SECONDS``, costs the pause and nothing more. A limit that
fell answers 429 again within a second or two, and is learned anew: at once when nearly
all that was sent got through, else when the next window shows the same count (a 429 at
random lands at a random count).

Why not ``aiolimiter.AsyncLimiter(1, 1/rate)``: its bucket forgets a late wake-up instead
of catching up (losing rate at hundreds of calls a second), its rate is fixed at creation,
and it reads the event loop's clock; this one adapts and runs on an injected clock.
"""

from __future__ import annotations

from bulkfetch.clock import Clock, SystemClock
from bulkfetch.pacing.window import PerSecond, sleep_to_slot, window_pause

__all__ = ["RateLimiter"]


class RateLimiter:
    """Hands out evenly spaced send slots at up to ``rate`` calls a second."""

    # A little under the limit: wake-ups and the network jitter by a few milliseconds, and a
    # call that lands in the next second's window after its neighbour landed early makes one
    # window hold one call too many.
    HEADROOM = 0.985
    BACKOFF_FACTOR = 0.5
    BELOW_LEARNED = 0.97  # the plateau: this share of what got through before a 429
    HOLD_SECONDS = 30.0  # a learned limit holds this long before probing above it
    RECUR_SECONDS = 2.0  # a 429 this soon after the last one's pause is the rate's (a limit)
    NEARLY_ALL = 0.9  # of the rate through in a 429's second: a limit at once (else: twice)

    def __init__(
        self,
        rate: float | None,
        *,
        clock: Clock | None = None,
        min_rate: float = 0.5,
        probe_seconds: float = 10.0,
    ) -> None:
        """``rate=None``: no limit is known. Calls go unspaced until a 429 says otherwise; from
        then on the rate is learned and probed as under a configured rate, with no ceiling."""
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
        self._learned_at = 0.0
        self._last_learned: float | None = None
        self._succeeded_since_429 = True  # since the last 429 event (or the start)
        self._candidate: int | None = None  # what got through at a 429 awaiting a second
        self.rate_limited = 0

    def configure(self, rate: float) -> None:
        """Set the rate the user gave (calls a second) as the ceiling from now on; what was
        learnt from 429s still holds under it."""
        if rate <= 0:
            raise ValueError("rate must be positive")
        self._ceiling = rate * self.HEADROOM
        self._rate = self._ceiling if self._rate is None else min(self._rate, self._ceiling)

    @property
    def rate(self) -> float | None:
        """The rate calls are spaced at now; None while unlimited."""
        return self._rate

    @property
    def throughput(self) -> int:
        """Calls that went through in the last whole second (or this one so far)."""
        return self._successes.recent(self._clock.time())

    @property
    def learned(self) -> float | None:
        """The provider's limit as last learned from its 429s (calls a second), if any; it
        stays known after the limiter, holding no longer, probes above it."""
        return self._last_learned

    async def acquire(self) -> None:
        """Wait for this caller's slot; one woken after its slot's second ended takes a new
        one (see :func:`sleep_to_slot`)."""
        while True:
            # No await before the slot is taken: callers get slots in turn without a lock.
            now = self._clock.monotonic()
            slot = max(now, self._next_slot, self._resume_at)
            if self._rate is not None:
                self._next_slot = slot + 1.0 / self._rate
            delay = slot - now
            if delay <= 0 or await sleep_to_slot(self._clock, delay) or self._rate is None:
                break
        self._sends.count(self._clock.time())

    def on_success(self, sent_at: float | None = None) -> None:
        """A call (sent at ``sent_at``, seconds since the epoch) went through: probe back up.

        Additive increase, back to the configured rate (or, with none, doubling) in about
        ``probe_seconds``; but no higher than the plateau under a learned limit until that
        has held for ``HOLD_SECONDS``.
        """
        now = self._clock.monotonic()
        self._successes.count(self._clock.time() if sent_at is None else sent_at)
        self._succeeded_since_429 = True
        if self._learned is not None and now - self._learned_at >= self.HOLD_SECONDS:
            self._learned = None  # probe above it: the provider may allow more by now
        if self._rate is None:
            return
        goal = self._ceiling if self._ceiling is not None else 2.0 * self._rate
        if self._learned is not None:
            goal = min(goal, self._learned * self.BELOW_LEARNED)
        if self._rate < goal:
            step = goal / (2.0 * self._probe_seconds * max(self._rate, 1.0))
            self._rate = min(goal, self._rate + step)

    def on_rate_limited(self, retry_after: float | None = None) -> None:
        """A 429: pause for the provider's window (or its Retry-After); then, unless the 429
        cannot be the limit's, go just under what got through in its second, or halve when
        far less than was sent got through. One 429 never cuts the rate by more than half."""
        self.rate_limited += 1
        now = self._clock.monotonic()
        if now < self._resume_at:
            # Calls sent before the last backoff are still answering 429: one event, one cut.
            return
        quiet = now - self._resume_at  # since sending resumed after the last 429
        wall = self._clock.time()
        self._resume_at = now + (retry_after if retry_after is not None else window_pause(wall))
        self._next_slot = max(self._next_slot, self._resume_at)
        through = self._successes.recent(wall)
        succeeded, self._succeeded_since_429 = self._succeeded_since_429, False
        if self._unexplained(through, succeeded, quiet):
            return
        # What was being sent: the rate, or with none set, the calls of the last second.
        current = self._rate if self._rate is not None else float(max(self._sends.recent(wall), 2))
        cut = current * self.BACKOFF_FACTOR
        if through >= cut:  # the provider let most through: that was its limit
            self._learned, self._learned_at = float(through), now
            self._last_learned = self._learned
            cut = through * self.BELOW_LEARNED
        self._rate = max(self._min_rate, min(cut, current))

    def _unexplained(self, through: int, succeeded: bool, quiet: float) -> bool:
        """Whether a 429 cannot be the limit's (an outage's, or of a window another client
        spent), so that it teaches nothing and costs only the pause. ``quiet``: seconds
        since sending resumed after the last 429."""
        if through == 0:
            # Nothing got through this second or the last, yet a window lets its calls
            # through first; but when not one got through since the last 429 either, slow down.
            return succeeded
        if self._rate is None:
            return False  # unlimited: the rate is above a limit
        # A rate that held with no 429 for RECUR_SECONDS is under the provider's limit,
        # unless that limit fell: then the 429s come back within a second or two.
        at_ceiling = self._ceiling is not None and self._rate >= self._ceiling
        under_learned = (
            self._learned is not None and self._rate <= self._learned * self.BELOW_LEARNED
        )
        if not (at_ceiling or under_learned):
            return False
        if quiet >= self.RECUR_SECONDS:
            self._candidate = None
            return True
        # Back soon after the pause: a limit, if nearly all that was sent got through. A
        # count well below the rate may be a 429 at random, which lands at a random count:
        # a limit shows the same count again in the next window.
        candidate, self._candidate = self._candidate, through
        if through >= self.NEARLY_ALL * self._rate or (
            candidate is not None and abs(through - candidate) <= max(2.0, 0.1 * candidate)
        ):
            self._candidate = None
            return False
        return True

    def on_headers(self, remaining: int | None, reset_in: float | None) -> None:
        """The provider said how many calls are left in its window and when it resets."""
        if remaining is not None and remaining <= 0 and reset_in is not None and reset_in > 0:
            self._resume_at = max(self._resume_at, self._clock.monotonic() + reset_in)

    async def on_stop(self, kind: str, reason: str) -> None:
        """Nobody else shares this limiter: the engine's own stop is enough."""
