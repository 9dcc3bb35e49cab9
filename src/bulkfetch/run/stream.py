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
:class:`~bulkfetch.errors.CapReachedError`, a redirect to another origin
:class:`~bulkfetch.errors.RedirectError`, a window's allowance spent (``at_limit="stop"``)
:class:`~bulkfetch.errors.WindowSpentError`. Leaving the loop (``break``, a cancelled
task) lets the calls in flight land and be stored, as Ctrl-C does; that happens when the
generator is closed (at once with ``contextlib.aclosing``, else when Python collects it),
or when the client is closed, whichever comes first: the client waits for the runs it
started before its connections close. A second ``fetch_many`` on the same store waits for
it.
"""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Sequence,
)
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
    RedirectError,
    UnreachableError,
    WindowSpentError,
)
from bulkfetch.io.iterable import COLUMN, IterableSource
from bulkfetch.jobs import RowStatus, StopKind
from bulkfetch.pacing.limits import Limit
from bulkfetch.pacing.windows import AtLimit
from bulkfetch.run.pace import pacer_for
from bulkfetch.run.report import Progress
from bulkfetch.run.run import Run
from bulkfetch.store import OutputRow, Store

__all__ = ["Item", "fetch_many"]

R = TypeVar("R")

_STOPS: dict[str, type[BulkfetchError]] = {
    StopKind.QUOTA: QuotaExhaustedError,
    StopKind.AUTH: AuthenticationError,
    StopKind.UNREACHABLE: UnreachableError,
    StopKind.CAP: CapReachedError,
    StopKind.REDIRECTED: RedirectError,
    StopKind.WINDOW: WindowSpentError,
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
    limits: Sequence[Limit] = (),
    at_limit: AtLimit = "wait",
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
    calls; default: a per-second limit's). ``limits``: the key's allowances
    (``parse_limit("2500/day")``), over the client's own for the same unit: once a window's
    is spent, calls wait for the next window (``at_limit="wait"``) or the run ends with
    :class:`~bulkfetch.errors.WindowSpentError` (``"stop"``), counted in the store across
    runs and workers. ``concurrency``, ``max_attempts``: as the command line's. ``max_age``
    (seconds): an answer in the store older than that is fetched again. ``max_calls``: the
    run bills at most that many units over all its calls (a named run's, across resumes),
    then ends with :class:`~bulkfetch.errors.CapReachedError`.
    """
    operation = operation_of(call, query)
    clock = clock or SystemClock()
    stop = stop or StopRequest()
    settings = EngineSettings(concurrency=concurrency, max_attempts=max_attempts)
    lock = _STORES.setdefault(str(db), asyncio.Lock())
    await lock.acquire()
    try:
        store = await Store.open(db)
    except BaseException:
        lock.release()
        raise
    landing = _Landing(store, lock, stop)
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
        pacer = await pacer_for(
            store, begun.client, rate, clock, limits=limits, at_limit=at_limit, tell=begun.tell
        )
        done = anyio.Event()

        async def work() -> None:
            try:
                await begun.work(pacer, settings=settings, refresh=refresh, max_age=max_age)
            finally:
                done.set()

        landing.start(asyncio.create_task(work()), begun.client)
        async for row in begun.follow(done):
            yield _item(row, operation)
        await landing.finished()
    finally:
        await landing.land()
    if stop.kind in _STOPS:
        raise _STOPS[stop.kind](stop.reason or stop.kind)


class _Landing:
    """The end of a ``fetch_many``'s run, which works in a task of its own while its caller
    iterates: stop it if it is still working, let its calls in flight land and be stored,
    close its store, free the store for the next ``fetch_many``. Once, by whichever comes
    first: the run's end, the caller leaving the loop, or the client closing (a caller that
    left with ``break`` and no ``aclosing`` is closed only when Python collects it, which
    may be after the client's session is gone)."""

    def __init__(self, store: Store, lock: asyncio.Lock, stop: StopRequest) -> None:
        self._store = store
        self._lock = lock
        self._stop = stop
        self._task: asyncio.Task[None] | None = None
        self._unregister: Callable[[], None] = lambda: None
        self._landed: asyncio.Future[None] | None = None

    def start(self, task: asyncio.Task[None], client: object) -> None:
        self._task = task
        working = getattr(client, "working", None)  # an HttpClient waits for it to land
        if working is not None:
            self._unregister = working(self.land)

    async def finished(self) -> None:
        """Wait for the run to end by itself; raise what it raised."""
        if self._task is not None:
            await self._task

    async def land(self) -> None:
        if self._landed is None:
            self._landed = asyncio.ensure_future(self._land())
        await asyncio.shield(self._landed)

    async def _land(self) -> None:
        task = self._task
        with anyio.CancelScope(shield=True):
            if task is not None:
                if not task.done():  # the caller left: land the calls in flight
                    self._stop.request(StopKind.INTERRUPTED, "the caller stopped iterating")
                await asyncio.wait([task])
            await self._store.close()
        self._lock.release()
        self._unregister()
        if task is not None and task.cancelled():
            warnings.warn(
                "fetch_many was left before its end and its event loop stopped before its"
                " calls in flight were stored: they are sent again (and may be billed again)"
                " by the next run. Close it as you leave it: async with"
                " contextlib.aclosing(fetch_many(...)) as items: ..., and close the client"
                " (async with CrystalRoof(...) as api) before the loop ends",
                RuntimeWarning,
                stacklevel=1,
            )


def _item(row: OutputRow, operation: Operation[R]) -> Item[R]:
    value = row.fields[0] if row.fields else ""
    status = RowStatus.INVALID if row.state is None else RowStatus.of(row.state)
    result = None
    error = None if status is RowStatus.OK else row.error
    if row.body is not None and status in (RowStatus.OK, RowStatus.NOT_FOUND):
        try:
            result = operation.result(row.body, operation.lookup(value))
        except Exception as exc:  # an adapter that cannot read back what it kept
            status, error = RowStatus.FAILED, _unreadable(exc)
    return Item(row.row_no, value, status, result, error)


def _unreadable(exc: Exception) -> str:
    return (
        f"the kept answer cannot be read ({exc.__class__.__name__}); refresh=True fetches it again"
    )
