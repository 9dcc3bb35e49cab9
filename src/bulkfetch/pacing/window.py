"""The provider's window: calls counted per second (the wall clock's, or at a phase of it),
as a provider counts them, or spaced evenly; and the waits that respect it."""

from __future__ import annotations

import math
from typing import Any

from bulkfetch.clock import Clock

__all__ = ["WINDOW_SKEW", "PerSecond", "WindowSlots", "sleep_to_slot"]

WINDOW_SKEW = 0.05  # seconds: our clock and the provider's, as NTP keeps them


async def sleep_to_slot(clock: Clock, delay: float, deadline: float) -> bool:
    """Sleep ``delay`` seconds, to a send slot; whether the wake-up came by the slot's
    ``deadline`` (see :meth:`WindowSlots.deadline`). One that came later (a busy loop) must
    not send: on top of the next second's own slots, it would make one too many in the
    provider's window."""
    await clock.sleep(delay)
    return clock.time() <= deadline


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


class WindowSlots:
    """Send slots placed inside the provider's seconds (ours shifted by ``phase``): at most
    ``floor(rate)`` a second (under one a second, one every ``1/rate`` seconds), spread
    evenly between ``margin`` from each edge, so that neither the two clocks' skew nor a
    wake-up a little late puts a call in a second that is full. A second never gets more
    slots than that, whatever the callers do: the count the provider makes is the count
    handed out. Or, for a window no fixed seconds fit, slots evenly spaced (:meth:`space`)."""

    def __init__(self) -> None:
        self._second: int | None = None  # the second slots are handed out in (shifted)
        self._taken = 0  # its slots handed out, by place
        self._last = -math.inf  # the last slot handed out

    def take(
        self,
        at: float,
        rate: float,
        margin: float = WINDOW_SKEW,
        phase: float = 0.0,
        late: float = 0.0,
    ) -> float:
        """The first free slot at or after ``at`` (seconds since the epoch), ``late`` more
        from the second's end than from its start (a call arrives after its send, by up to
        the latencies' spread more than the fastest)."""
        if rate < 1.0:
            at = max(at, self._last + 1.0 / rate)
        at -= phase
        per_second = max(1, math.floor(rate))
        spacing = (1.0 - 2.0 * margin - late) / per_second
        second = math.floor(at)
        if self._second is None or second > self._second:
            self._second, self._taken = second, 0
        elif second < self._second:
            second, at = self._second, float(self._second)
        while True:
            place = max(self._taken, math.ceil((at - second - margin) / spacing - 1e-6))
            if place < per_second:
                self._taken = place + 1
                self._last = phase + second + margin + place * spacing
                return self._last
            second += 1
            self._second, self._taken, at = second, 0, float(second)

    def space(self, at: float, interval: float) -> float:
        """The first slot at or after ``at`` and ``interval`` after the last one."""
        self._second = None
        self._last = max(at, self._last + interval)
        return self._last

    def reset(self) -> None:
        """Forget the slots handed out (a pause: their holders take new ones)."""
        self._second, self._taken = None, 0

    def dump(self) -> list[Any]:
        """Where it stands, as JSON values."""
        return [self._second, self._taken, None if math.isinf(self._last) else self._last]

    @classmethod
    def load(cls, state: list[Any]) -> WindowSlots:
        """The slots :meth:`dump` gave ``state`` of."""
        slots = cls()
        slots._second, slots._taken, last = state
        slots._last = -math.inf if last is None else last
        return slots
