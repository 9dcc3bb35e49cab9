"""Group commits: the outcomes that land close together stored in one transaction.

A commit costs far more than a row of one (the log synced, a handful of statements), and
calls that go out together land together. So the writer, once an outcome has come, waits a
moment for those still out, at most ``GROUP_SECONDS``, and not at all once every call sent
has landed: a call's send slot is held until its outcome is stored, so that moment delays
the next call by as much, and no more than the calls a ``kill -9`` can cost stay unstored.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import anyio

from bulkfetch.engine.handoff import Handoff

__all__ = ["GROUP_SECONDS", "gather"]

T = TypeVar("T")

GROUP_SECONDS = 0.005


async def gather(
    landed: Handoff[T],
    group: list[T],
    *,
    complete: Callable[[list[T]], bool],
    seconds: float = GROUP_SECONDS,
) -> None:
    """Add to ``group`` (which holds the first) what has landed, then what lands within
    ``seconds`` unless ``complete(group)`` says nothing more is to come. What was added
    stays in ``group`` if the wait is cancelled, for the caller to store."""
    group.extend(landed.take_all())
    if complete(group):
        return
    with anyio.move_on_after(seconds):
        while not complete(group):
            item = await landed.take()
            if item is None:
                return
            group.append(item)
            group.extend(landed.take_all())
