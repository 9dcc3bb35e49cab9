"""The windows a provider may count a key's calls in, as the emulator offers them: fixed
seconds (the wall clock's, or at an offset from it), a sliding one-second window, a token
bucket with a burst, a per-minute window. Each says, of a call arriving now, whether it is
admitted or how long until it would be; refused calls are not counted."""

from __future__ import annotations

import math
from collections import deque
from typing import Protocol

__all__ = ["KINDS", "FixedWindow", "SlidingWindow", "TokenBucket", "Window", "window_of"]

KINDS = ("fixed", "sliding", "bucket", "minute")


class Window(Protocol):
    """One key's window."""

    def admit(self, now: float) -> float | None:
        """Count a call arriving at ``now`` (seconds since the epoch): None if admitted,
        else the seconds until one would be."""
        ...

    def used(self, now: float) -> int:
        """The calls counted in the window that holds ``now``."""
        ...

    def resets_at(self, now: float) -> float:
        """When the window that holds ``now`` has room again."""
        ...


class FixedWindow:
    """At most ``limit`` calls in each window of ``length`` seconds, the windows starting
    ``offset`` seconds after the wall clock's (``offset`` 0.5: a second from x.5 to y.5)."""

    def __init__(self, limit: int, *, length: float = 1.0, offset: float = 0.0) -> None:
        self.limit, self.length, self.offset = limit, length, offset % length
        self._index: int | None = None
        self._count = 0

    def _at(self, now: float) -> int:
        index = math.floor((now - self.offset) / self.length)
        if index != self._index:
            self._index, self._count = index, 0
        return index

    def admit(self, now: float) -> float | None:
        self._at(now)
        if self._count >= self.limit:
            return self.resets_at(now) - now
        self._count += 1
        return None

    def used(self, now: float) -> int:
        self._at(now)
        return self._count

    def resets_at(self, now: float) -> float:
        return (self._at(now) + 1) * self.length + self.offset


class SlidingWindow:
    """At most ``limit`` calls in any ``length`` seconds: the window ending at each call."""

    def __init__(self, limit: int, *, length: float = 1.0) -> None:
        self.limit, self.length = limit, length
        self._admitted: deque[float] = deque()

    def _forget(self, now: float) -> None:
        while self._admitted and self._admitted[0] <= now - self.length:
            self._admitted.popleft()

    def admit(self, now: float) -> float | None:
        self._forget(now)
        if len(self._admitted) >= self.limit:
            return self._admitted[0] + self.length - now
        self._admitted.append(now)
        return None

    def used(self, now: float) -> int:
        self._forget(now)
        return len(self._admitted)

    def resets_at(self, now: float) -> float:
        self._forget(now)
        return self._admitted[0] + self.length if len(self._admitted) >= self.limit else now


class TokenBucket:
    """``rate`` tokens a second into a bucket of ``burst``, full at first; a call takes one."""

    def __init__(self, rate: int, *, burst: int) -> None:
        self.rate, self.burst = rate, burst
        self._tokens = float(burst)
        self._at: float | None = None

    def _fill(self, now: float) -> None:
        if self._at is not None:
            self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
        self._at = now

    def admit(self, now: float) -> float | None:
        self._fill(now)
        if self._tokens < 1.0 - 1e-9:
            return (1.0 - self._tokens) / self.rate
        self._tokens -= 1.0
        return None

    def used(self, now: float) -> int:
        self._fill(now)
        return self.burst - math.floor(self._tokens)

    def resets_at(self, now: float) -> float:
        self._fill(now)
        return now + max(0.0, 1.0 - self._tokens) / self.rate


def window_of(kind: str, limit: int, *, offset: float = 0.0, burst: int | None = None) -> Window:
    """A key's window of ``kind`` (one of :data:`KINDS`) at ``limit`` calls a second (a
    minute's: ``60 * limit`` a minute, from ``offset`` past the wall clock's minute)."""
    if kind == "fixed":
        return FixedWindow(limit, offset=offset)
    if kind == "sliding":
        return SlidingWindow(limit)
    if kind == "bucket":
        return TokenBucket(limit, burst=burst if burst is not None else max(2, limit // 5))
    if kind == "minute":
        return FixedWindow(60 * limit, length=60.0, offset=offset)
    raise ValueError(f"a window is one of {', '.join(KINDS)}; got {kind!r}")
