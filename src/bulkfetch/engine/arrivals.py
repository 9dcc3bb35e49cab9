"""Jobs still arriving: the rows of an input read and enqueued while the engine works them,
so that calls begin on the first rows of a big file. The engine waits for more instead of
finishing while jobs may still come."""

from __future__ import annotations

import anyio

__all__ = ["Arrivals"]


class Arrivals:
    """Told by the enqueue as jobs arrive and when it is done; waited on by the engine."""

    def __init__(self) -> None:
        self.done = False
        self.event = anyio.Event()  # set when jobs arrived since it was taken (then replaced)

    @classmethod
    def none(cls) -> Arrivals:
        """No jobs to come: all were enqueued before the engine began."""
        arrivals = cls()
        arrivals.done = True
        return arrivals

    def arrived(self) -> None:
        """Jobs were enqueued."""
        self.event.set()
        self.event = anyio.Event()

    def finished(self) -> None:
        """No more will come (the input was read to its end, or the enqueue stopped)."""
        self.done = True
        self.arrived()
