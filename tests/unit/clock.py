"""Clocks the tests drive: time passes only when somebody waits."""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Awaitable
from typing import TypeVar

import anyio
import anyio.lowlevel

__all__ = ["AutojumpClock", "FakeClock"]

T = TypeVar("T")


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


class AutojumpClock:
    """Time that jumps to the next wake-up whenever every task is waiting, so that minutes
    of backoff pass at once and in order. :meth:`drive` must run beside the code under test.
    """

    def __init__(self) -> None:
        self.now = 1000.0
        self._sleepers: list[tuple[float, int, anyio.Event]] = []
        self._order = itertools.count()

    def monotonic(self) -> float:
        return self.now

    def time(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await anyio.lowlevel.checkpoint()
            return
        woken = anyio.Event()
        heapq.heappush(self._sleepers, (self.now + seconds, next(self._order), woken))
        await woken.wait()

    async def drive(self) -> None:
        """Wake the next sleeper whenever every other task waits (run it in a task group
        and cancel it when done)."""
        while True:
            await anyio.wait_all_tasks_blocked()
            if not self._sleepers:
                await anyio.sleep(0.001)  # waiting on something else: let it come
                continue
            wake, _, woken = heapq.heappop(self._sleepers)
            self.now = max(self.now, wake)
            woken.set()

    async def driving(self, work: Awaitable[T]) -> T:
        """``work``'s result, with the clock driven while it runs."""
        async with anyio.create_task_group() as tg:
            tg.start_soon(self.drive)
            result = await work
            tg.cancel_scope.cancel()
        return result
