"""Why a run must stop sending (the first reason given wins), and the waits a stop cuts
short."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import anyio

from bulkfetch.errors import (
    QuotaExhaustedError,
    RedirectError,
    StopRunError,
    UnreachableError,
    WindowSpentError,
)
from bulkfetch.jobs import StopKind

__all__ = ["SendSlots", "StopRequest", "StopWaits", "stop_kind"]


class StopRequest:
    """Why the run must stop sending; the first reason given wins."""

    def __init__(self) -> None:
        self.kind: str | None = None
        self.reason: str | None = None
        self.event = anyio.Event()
        # Calls sent whose outcomes are not stored yet (the engine keeps the count): what
        # stopping at once abandons. The API may have billed them, and a resume sends them
        # again.
        self.unstored_calls = 0

    def request(self, kind: str, reason: str) -> None:
        if self.kind is None:
            self.kind, self.reason = kind, reason
            self.event.set()

    @property
    def requested(self) -> bool:
        return self.kind is not None


class StopWaits:
    """Waits that end when a stop is requested, with one watcher for them all."""

    def __init__(self, stop: StopRequest) -> None:
        self._stop = stop
        self._scopes: set[anyio.CancelScope] = set()
        self._pools: list[SendSlots] = []

    async def watch(self) -> None:
        """Cut every wait short once a stop is requested (run for as long as they may)."""
        await self._stop.event.wait()
        for scope in list(self._scopes):
            scope.cancel()
        for pool in self._pools:
            pool.wake()

    async def unless_stopped(self, wait: Callable[[], Awaitable[object]]) -> bool:
        """Await ``wait()``, abandoning it if a stop is requested; True if it finished."""
        if self._stop.requested:
            return False
        with anyio.CancelScope() as scope:
            self._scopes.add(scope)
            try:
                await wait()
            finally:
                self._scopes.discard(scope)
        return not scope.cancelled_caught

    def send_slots(self, count: int) -> SendSlots:
        """A pool of ``count`` slots whose takers give up when a stop is requested."""
        pool = SendSlots(count, self._stop)
        self._pools.append(pool)
        return pool


class SendSlots:
    """``count`` slots (the calls a run may have out at once): taken before a call, given
    back when its outcome is stored."""

    def __init__(self, count: int, stop: StopRequest) -> None:
        self.free = count
        self._stop = stop
        self._freed = anyio.Event()

    async def take(self) -> bool:
        """One slot, once one is free; False (holding none) if a stop comes first."""
        while not self._stop.requested:
            if self.free > 0:
                self.free -= 1
                return True
            if self._freed.is_set():  # set for slots others took: wait for the next
                self._freed = anyio.Event()
            await self._freed.wait()
        return False

    def release(self, count: int = 1) -> None:
        self.free += count
        self._freed.set()

    def wake(self) -> None:
        """A stop: every taker gives up."""
        self._freed.set()


def stop_kind(exc: StopRunError) -> str:
    """The :class:`StopKind` an error that stops a run stands for."""
    if isinstance(exc, QuotaExhaustedError):
        return StopKind.QUOTA
    if isinstance(exc, UnreachableError):
        return StopKind.UNREACHABLE
    if isinstance(exc, RedirectError):
        return StopKind.REDIRECTED
    if isinstance(exc, WindowSpentError):
        return StopKind.WINDOW
    return StopKind.AUTH
