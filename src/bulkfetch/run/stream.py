"""The library's bulk call: ``fetch_many``, a program's values through the durable queue, the
typed results back in input order as they come.

::

    async with CrystalRoof(key) as api:
        async for item in fetch_many(api.occupation, postcodes, area_type="lsoa", run="x"):
            print(item.index, item.input, item.status, item.result, item.error)

The same store, dedupe, pacing, retries and stops as the command line. A named run resumes
where it stopped when called again with the same name, and what the store holds costs no
call. A stop ends the iteration with its error after the rows that settled: a spent package
:class:`~bulkfetch.errors.QuotaExhaustedError`, a refused key
:class:`~bulkfetch.errors.AuthenticationError`, an API that cannot be reached
:class:`~bulkfetch.errors.UnreachableError`, the run's cap on billed units reached
:class:`~bulkfetch.errors.CapReachedError`. Leaving the loop (``break``, a cancelled task)
lets the calls in flight land and be stored, as Ctrl-C does; that happens when the
generator is closed (at once with ``contextlib.aclosing``, else when Python collects it),
and a second ``fetch_many`` on the same store waits for it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

import anyio

from bulkfetch.adapter import Operation, operation_of
from bulkfetch.clock import Clock, SystemClock
from bulkfetch.engine import EngineSettings, StopRequest
from bulkfetch.errors import (
    AuthenticationError,
    BulkfetchError,
    CapReachedError,
    QuotaExhaustedError,
    UnreachableError,
)
from bulkfetch.io.iterable import COLUMN, IterableSource
from bulkfetch.jobs import RowStatus, StopKind
from bulkfetch.run.report import Progress
from bulkfetch.run.run import Run, pacer_for
from bulkfetch.store import OutputRow, Store

__all__ = ["Item", "fetch_many"]

R = TypeVar("R")

_STOPS: dict[str, type[BulkfetchError]] = {
    StopKind.QUOTA: QuotaExhaustedError,
    StopKind.AUTH: AuthenticationError,
    StopKind.UNREACHABLE: UnreachableError,
    StopKind.CAP: CapReachedError,
}
# One bulk call at a time on a store of this process (a SQLite store has one user): the
# next waits for the one before to finish landing its calls.
_STORES: dict[str, asyncio.Lock] = {}


@dataclass(frozen=True, slots=True)
class Item(Generic[R]):
    """What one input became."""

    index: int  # its place among the inputs, from 0
    input: str  # the value, as text
    status: RowStatus  # ok, not_found, invalid, failed
    result: R | None  # the call's own result type; None unless answered
    error: str | None  # why, when not ok


async def fetch_many(
    call: Callable[..., Awaitable[R]],
    inputs: Iterable[Any] | AsyncIterable[Any],
    /,
    *,
    db: str | Path = "bulkfetch.db",
    run: str | None = None,
    rate: float | None = None,
    concurrency: int = 16,
    max_attempts: int = 5,
    refresh: bool = False,
    max_age: float | None = None,
    max_calls: int | None = None,
    progress: Progress | None = None,
    stop: StopRequest | None = None,
    clock: Clock | None = None,
    **query: Any,
) -> AsyncIterator[Item[R]]:
    """``call`` (a client's bound method: ``api.occupation``, ``api.by_soc``) for every
    value of ``inputs``, with ``query`` (its other arguments: ``area_type="lsoa"``), as
    typed items in input order.

    ``db``: the store (a SQLite file, or a PostgreSQL URL). ``run``: a name that makes the
    run resumable: called again with the same name (and the same inputs), it carries on.
    ``rate``: calls a second for the key (the client's pacing, shared with its single
    calls). ``concurrency``, ``max_attempts``: as the command line's. ``max_age``
    (seconds): an answer in the store older than that is fetched again. ``max_calls``: the
    run bills at most that many units over all its calls (a named run's, across resumes),
    then ends with :class:`~bulkfetch.errors.CapReachedError`.
    """
    operation = operation_of(call, query)
    clock = clock or SystemClock()
    stop = stop or StopRequest()
    settings = EngineSettings(concurrency=concurrency, max_attempts=max_attempts)
    lock = _STORES.setdefault(str(db), asyncio.Lock())
    async with lock:
        store = await Store.open(db)
        try:
            begun = await Run.begin(
                store,
                operation,
                IterableSource(inputs),
                column=COLUMN,
                name=run,
                clock=clock,
                progress=progress,
                stop=stop,
            )
            await begun.set_cap(max_calls)
            pacer = await pacer_for(store, begun.client, rate, clock)
            done = anyio.Event()

            async def work() -> None:
                try:
                    await begun.work(pacer, settings=settings, refresh=refresh, max_age=max_age)
                finally:
                    done.set()

            working = asyncio.create_task(work())
            try:
                async for row in begun.follow(done):
                    yield _item(row, operation)
                await working
            finally:
                if not working.done():  # the caller left: land the calls in flight
                    stop.request(StopKind.INTERRUPTED, "the caller stopped iterating")
                with anyio.CancelScope(shield=True):
                    with contextlib.suppress(Exception):
                        await working
        finally:
            with anyio.CancelScope(shield=True):
                await store.close()
    if stop.kind in _STOPS:
        raise _STOPS[stop.kind](stop.reason or stop.kind)


def _item(row: OutputRow, operation: Operation[R]) -> Item[R]:
    value = row.fields[0] if row.fields else ""
    status = RowStatus.INVALID if row.state is None else RowStatus.of(row.state)
    result = None
    if row.body is not None and status in (RowStatus.OK, RowStatus.NOT_FOUND):
        result = operation.result(row.body, operation.lookup(value))
    error = None if status is RowStatus.OK else row.error
    return Item(row.row_no, value, status, result, error)
