"""Time, as an object: code that waits takes a clock, so tests can drive time themselves."""

from __future__ import annotations

import time
from typing import Protocol

import anyio

__all__ = ["Clock", "SystemClock", "wait_for"]


class Clock(Protocol):
    """Where time-dependent code reads time and waits."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back; for spacing and timeouts."""
        ...

    def time(self) -> float:
        """Seconds since the epoch; for times stored or compared across processes."""
        ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The real clock."""

    def monotonic(self) -> float:
        return time.monotonic()

    def time(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        await anyio.sleep(max(0.0, seconds))


async def wait_for(event: anyio.Event, seconds: float, clock: Clock) -> None:
    """Wait for ``event``, or ``seconds`` on ``clock``, whichever comes first."""
    async with anyio.create_task_group() as tg:

        async def timer() -> None:
            await clock.sleep(seconds)
            tg.cancel_scope.cancel()

        tg.start_soon(timer)
        await event.wait()
        tg.cancel_scope.cancel()
