"""Rate limiting for one API key, in one process: send slots inside the provider's seconds,
at the rate :class:`~bulkfetch.pacing.policy.PacingPolicy` says.

A provider that counts calls per second punishes a burst at a second's edge even when the
average rate is legal, so the slots are placed inside each of the provider's seconds (the
wall clock's, until its 429s show them at another phase), evenly, away from their edges by
the answers' latency spread (:class:`~bulkfetch.pacing.window.WindowSlots`), and a second
never gets more than the rate's share: the limit itself can be used, with no headroom
under it. A provider no fixed seconds fit (a sliding window, a bucket) gets calls evenly
spaced instead (:class:`~bulkfetch.pacing.fit.WindowFit`). A caller woken too late for its
slot (its second, or a spaced slot's share of the margin) takes a new one. A pause
(a 429 the policy reads as the limit's, a Retry-After, a provider's ``Remaining: 0``)
holds for every caller, those already holding a slot included: they take new slots after
it.

Why not ``aiolimiter.AsyncLimiter(1, 1/rate)``: its bucket knows nothing of the provider's
seconds (a burst at an edge is two seconds' worth to the provider), forgets a late wake-up
instead of catching up, and its rate is fixed at creation; this one learns the limit and
runs on an injected clock.
"""

from __future__ import annotations

from bulkfetch.clock import Clock, SystemClock
from bulkfetch.pacing.schedule import Schedule
from bulkfetch.pacing.window import sleep_to_slot

__all__ = ["RateLimiter"]


class RateLimiter:
    """Hands out send slots at the rate the policy says, inside the provider's seconds."""

    SOON = 0.001  # seconds: a slot this close is taken at once, with no sleep

    def __init__(
        self,
        rate: float | None,
        *,
        clock: Clock | None = None,
        min_rate: float = 0.5,
        probe_seconds: float = 10.0,
    ) -> None:
        """``rate=None``: no limit is known. The policy starts small and grows until a 429
        says where the limit is (see :class:`~bulkfetch.pacing.policy.PacingPolicy`)."""
        self._clock = clock or SystemClock()
        self._schedule = Schedule(rate, min_rate=min_rate, probe_seconds=probe_seconds)
        self.rate_limited = 0
        self._held: tuple[int, float] | None = None  # a slot taken, not due yet: the epoch, when

    def configure(self, rate: float) -> None:
        """Set the rate the user gave (calls a second) as the ceiling from now on; what was
        learnt from 429s still holds under it."""
        self._schedule.policy.configure(rate)

    @property
    def rate(self) -> float | None:
        """Calls a second sent at now."""
        return self._schedule.policy.budget

    @property
    def paused_until(self) -> float | None:
        """When calls go on after the pause that holds them now (a 429's, a Retry-After, a
        provider's ``Remaining: 0`` until its reset), if one does."""
        resume_at = self._schedule.resume_at
        return resume_at if resume_at > self._clock.time() else None

    @property
    def throughput(self) -> int:
        """Calls that went through in the last whole second (or this one so far)."""
        return self._schedule.policy.through(self._clock.time())

    @property
    def learned(self) -> float | None:
        """The provider's limit as last learned from its 429s (calls a second), if any."""
        learned = self._schedule.policy.last_learned
        return None if learned is None else float(learned)

    def acquire_now(self) -> bool:
        """Take the next slot; True if it is due now. If not, it is held for the
        :meth:`acquire` that comes next (the same caller's: no await comes between)."""
        epoch, now = self._schedule.epoch, self._clock.time()
        slot = self._schedule.slot(now)
        if slot - now <= self.SOON:
            return True
        self._held = epoch, slot
        return False

    async def acquire(self) -> None:
        """Wait for this caller's slot: a new one if a pause came meanwhile, or if it woke
        too late for its slot's second."""
        held, self._held = self._held, None
        while True:
            # No await before the slot is taken: callers get slots in turn without a lock.
            now = self._clock.time()
            if held is None:
                epoch, slot = self._schedule.epoch, self._schedule.slot(now)
            else:
                (epoch, slot), held = held, None
            delay = slot - now
            if delay <= self.SOON:
                break
            deadline = self._schedule.deadline(slot)
            in_time = await sleep_to_slot(self._clock, delay, deadline)
            if in_time and epoch == self._schedule.epoch:
                break

    def on_success(self, sent_at: float | None = None) -> None:
        """A call sent at ``sent_at`` (seconds since the epoch; now if not given) went
        through."""
        now = self._clock.time()
        self._schedule.success(now if sent_at is None else sent_at, now)

    def on_rate_limited(
        self, retry_after: float | None = None, sent_at: float | None = None
    ) -> None:
        """A 429 for a call sent at ``sent_at``: the policy reads it; a pause it calls for
        lasts to the provider's next second (or the Retry-After it gave)."""
        self.rate_limited += 1
        now = self._clock.time()
        self._schedule.rate_limited(now if sent_at is None else sent_at, now, retry_after)

    def on_headers(self, remaining: int | None, reset_in: float | None) -> None:
        """The provider said how many calls are left in its window and when it resets."""
        self._schedule.headers(remaining, reset_in, self._clock.time())

    async def on_stop(self, kind: str, reason: str) -> None:
        """Nobody else shares this limiter: the engine's own stop is enough."""
