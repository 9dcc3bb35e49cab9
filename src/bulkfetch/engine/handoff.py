"""The engine's hand-offs between its tasks: the claimer's batches to the workers, first in
first out, and the workers' outcomes to the writer, as many at once as have come. Putting
never waits: the claimer leases no more than the workers are about to send, and outcomes
never outnumber the batches leased. Cheaper than a memory stream a lookup, which checks
for cancellation and the event loop on every send and receive."""

from __future__ import annotations

from collections import deque
from typing import Generic, TypeVar

import anyio

__all__ = ["Handoff"]

T = TypeVar("T")


class Handoff(Generic[T]):
    """Items put by some tasks and taken by others, until it is closed and empty."""

    def __init__(self) -> None:
        self._items: deque[T] = deque()
        self._arrived = anyio.Event()
        self.closed = False

    def __len__(self) -> int:
        """How many wait to be taken."""
        return len(self._items)

    def put(self, item: T) -> None:
        self._items.append(item)
        self._arrived.set()

    def close(self) -> None:
        """No more will be put: once the rest is taken, :meth:`take` says so."""
        self.closed = True
        self._arrived.set()

    async def take(self) -> T | None:
        """The next item, once there is one; None once closed and empty."""
        while not self._items:
            if self.closed:
                return None
            if self._arrived.is_set():  # set for items others took: wait for the next
                self._arrived = anyio.Event()
            await self._arrived.wait()
        return self._items.popleft()

    def take_all(self) -> list[T]:
        """Every item waiting now (none: an empty list), without waiting."""
        items = list(self._items)
        self._items.clear()
        return items
