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

__all__ = ["StopRequest", "StopWaits", "stop_kind"]


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

    async def watch(self) -> None:
        """Cut every wait short once a stop is requested (run for as long as they may)."""
        await self._stop.event.wait()
        for scope in list(self._scopes):
            scope.cancel()

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

    async def acquire(self, semaphore: anyio.Semaphore) -> bool:
        """Take one of ``semaphore``; False (holding none) if a stop comes first."""
        if self._stop.requested:
            return False
        if semaphore.value > 0:  # the common case, without a task to watch for a stop
            semaphore.acquire_nowait()
            return True
        acquired = await self.unless_stopped(semaphore.acquire)
        if acquired and self._stop.requested:
            semaphore.release()
            return False
        return acquired


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
