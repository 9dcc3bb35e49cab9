"""The provider's window: calls counted per whole second of the wall clock, as a provider
counts them, and the waits that respect it."""

from __future__ import annotations

import math

from bulkfetch.clock import Clock

__all__ = ["WINDOW_SKEW", "PerSecond", "sleep_to_slot", "window_pause"]

WINDOW_SKEW = 0.05  # seconds: our clock and the provider's, as NTP keeps them


async def sleep_to_slot(clock: Clock, delay: float) -> bool:
    """Sleep ``delay`` seconds, to a send slot; whether the wake-up came within the slot's
    second of the wall clock. One that came in the next (a busy loop) must not send: on top
    of that second's own slots, it would make one too many in the provider's window."""
    second = math.floor(clock.time() + delay)
    await clock.sleep(delay)
    return math.floor(clock.time()) <= second


def window_pause(wall: float) -> float:
    """Seconds from ``wall`` (seconds since the epoch) into the provider's next window: the
    next whole second, and a little more for the two clocks' skew."""
    return math.floor(wall) + 1.0 - wall + WINDOW_SKEW


class PerSecond:
    """Events counted per whole second of the wall clock, as a provider counts its window.

    An event is counted in the second it happened, which for an answer is the second its
    call was sent (the provider counts arrivals): answers come late and out of order, so
    the counts of the last few seconds are kept, not just the current one.
    """

    KEEP = 4  # seconds

    def __init__(self) -> None:
        self._counts: dict[int, int] = {}

    def count(self, at: float) -> None:
        """One event at ``at`` (seconds since the epoch)."""
        second = math.floor(at)
        self._counts[second] = self._counts.get(second, 0) + 1
        if len(self._counts) > self.KEEP:
            for old in sorted(self._counts)[: -self.KEEP]:
                del self._counts[old]

    def recent(self, now: float) -> int:
        """The larger of the last whole second and this one so far (a lower bound)."""
        second = math.floor(now)
        return max(self._counts.get(second, 0), self._counts.get(second - 1, 0))
