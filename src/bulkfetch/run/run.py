"""A bulk run: one object that enqueues a source into the store, works its jobs, writes or
streams its output, and reports. The command line, the library (``fetch_many``) and the
workers (``bulkfetch work``) all use it; nothing else runs the engine."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import anyio

from bulkfetch.adapter import Client, Operation
from bulkfetch.clock import Clock, SystemClock
from bulkfetch.engine import Arrivals, EngineSettings, StopRequest, run_jobs
from bulkfetch.errors import UsageError
from bulkfetch.io.sources import Picker, Source
from bulkfetch.jobs import JobState, Outcome, RowStatus, StopKind
from bulkfetch.pacing import Pacer
from bulkfetch.plugins import rebuild
from bulkfetch.run.enqueue import BULK_CHUNK, CHUNK
from bulkfetch.run.notices import LOST_ANSWERS, abandoned, rate_notice
from bulkfetch.run.output import ColumnNaming, OutputFormat, Part, write_output
from bulkfetch.run.report import Progress, RunReport, Silent
from bulkfetch.run.seconds import Seconds
from bulkfetch.spend import Spend
from bulkfetch.store import OutputRow, Store

if TYPE_CHECKING:
    from bulkfetch.metrics import RunMeter

__all__ = ["Run"]


class Run:
    """One run of a store, as this process works on it."""

    def __init__(
        self,
        store: Store,
        run_id: int,
        client: Client,
        *,
        clock: Clock | None = None,
        progress: Progress | None = None,
        stop: StopRequest | None = None,
    ) -> None:
        self.store = store
        self.id = run_id
        self.client = client  # makes its calls and writes its answers
        self.clock = clock or SystemClock()
        self.progress = progress or Silent()
        self.stop = stop or StopRequest()
        self.source: Source | None = None  # what it was begun from here, if anything
        self.content: str | None = None  # that source's content hash when it was read
        self.rows = 0  # rows enqueued
        self.enqueue_complete = True
        self.spent = Spend()  # what this process spent on it
        self.learned: float | None = None  # the limit the pacer learnt from 429s, if any
        self.notices: list[str] = []
        self.settled = anyio.Event()  # set (and replaced) each time rows of it settle
        self.settled_jobs: set[int] = set()  # the jobs whose rows settled since last asked
        self.began_at = self.clock.time()  # when this process took the run up
        self.meter: RunMeter | None = None  # its metrics, when a process serves them
        # What begin(stream=True) left of the input to enqueue (for every run of its pass):
        # done as the first of them is worked.
        self.pending_enqueue: (
            Callable[[Run, Callable[[int], None], int], Awaitable[tuple[int, bool]]] | None
        ) = None

    @classmethod
    async def begin(
        cls,
        store: Store,
        operation: Operation[object],
        source: Source,
        *,
        column: str | Picker,
        name: str | None = None,
        clock: Clock | None = None,
        progress: Progress | None = None,
        stop: StopRequest | None = None,
        stream: bool = False,
    ) -> Run:
        """Find or make the run of ``operation`` over ``source`` and enqueue what it has not
        (see :func:`~bulkfetch.run.identity.run_spec` for what names a run). ``stream``:
        leave the enqueue to :meth:`work`, which calls the first rows as the rest are read.
        Several operations over one input: :func:`~bulkfetch.run.passes.begin_pass`."""
        from bulkfetch.run.passes import begin_pass  # which makes runs of this class

        begun = await begin_pass(
            store,
            {"": operation},
            source,
            column=column,
            name=name,
            clock=clock,
            progress=progress,
            stop=stop,
            stream=stream,
        )
        return begun[""]

    async def enqueued(self, arriving: Arrivals | None = None) -> None:
        """Enqueue what :meth:`begin` left of the input: now, or (with ``arriving``, told of
        each chunk stored and of the end) while the engine works the rows before."""
        pending = self.pending_enqueue
        if pending is None:
            return

        def stored(rows: int) -> None:
            self.rows = rows
            self.progress.grow(rows)
            if arriving is not None:
                arriving.arrived()

        try:
            # Smaller transactions while the engine works: they hold up its writes.
            chunk = BULK_CHUNK if arriving is None else CHUNK
            self.rows, self.enqueue_complete = await pending(self, stored, chunk)
        finally:
            if arriving is not None:
                arriving.finished()
        self.progress.grow(self.rows)

    @classmethod
    async def attach(
        cls,
        store: Store,
        run_id: int,
        environ: Mapping[str, str] | None,
        *,
        clock: Clock | None = None,
        progress: Progress | None = None,
        stop: StopRequest | None = None,
    ) -> Run:
        """A run already in the store, its adapter rebuilt by its API's plugin with the keys
        of ``environ`` (``None``: to write its output only, with no call)."""
        detail = await store.runs.detail(run_id)
        if detail is None:
            raise UsageError(f"the store holds no run {run_id} ('bulkfetch status' lists them)")
        client = rebuild(detail.api, json.loads(detail.adapter), environ)
        run = cls(store, run_id, client, clock=clock, progress=progress, stop=stop)
        run.rows, run.enqueue_complete = detail.rows_enqueued, detail.enqueue_complete
        return run

    def tell(self, notice: str, *, warning: bool = False) -> None:
        """A notice for the user: now, and in the report (``warning``: said even when only
        warnings are: what may be billed twice)."""
        self.notices.append(notice)
        self.progress.notice(notice, warning=warning)

    async def work(
        self,
        pacer: Pacer,
        *,
        settings: EngineSettings | None = None,
        refresh: bool = False,
        max_age: float | None = None,
        prepare: bool = True,
    ) -> None:
        """Work the run's jobs until each is final, or a stop. ``prepare``: first take back
        the jobs of processes that died and give failed ones fresh attempts (with
        ``refresh``, fetch again what the store holds; with ``max_age``, what it answered
        longer ago than that many seconds)."""
        if prepare:
            reclaimed = await self.store.runs.prepare(
                self.id, refresh=refresh, now=self.clock.time(), max_age=max_age
            )
            self.spent.maybe_billed_twice += reclaimed
            if self.meter is not None:
                self.meter.reclaimed(reclaimed)
            if reclaimed:
                self.tell(
                    f"resumed: {reclaimed} lookups were in flight when an earlier process died;"
                    " they are fetched again and may be billed twice",
                    warning=True,
                )
        settled_here = earlier = 0
        first_commit = anyio.Event()
        meter = self.meter
        if meter is not None:
            meter.watch(pacer)
        seconds = Seconds(self.store, self.id, pacer)  # for the run's report
        adapter = seconds.adapter(self.client if meter is None else meter.adapter(self.client))

        def on_outcomes(settled: int, outcomes: Sequence[Outcome]) -> None:
            nonlocal settled_here
            self.spent.add(outcomes)
            if meter is not None:
                meter.count(outcomes, self.rows - earlier - settled_here - settled)
            if LOST_ANSWERS not in self.notices and any(o.maybe_billed for o in outcomes):
                self.tell(LOST_ANSWERS, warning=True)
            settled_here += settled
            self.progress.advance(settled, outcomes)
            first_commit.set()
            if settled:
                self.settled_jobs.update(o.job_id for o in outcomes if o.settles)
                self.settled.set()
                self.settled = anyio.Event()

        async def count_earlier_rows() -> None:
            # Counting a big run's settled rows takes a while: not before the first call.
            nonlocal earlier
            await first_commit.wait()
            earlier = await self.store.queue.settled_rows(self.id) - settled_here
            self.progress.advance(earlier, ())

        arriving = Arrivals() if self.pending_enqueue is not None else None
        unread: list[Exception] = []  # why the input could not be enqueued to its end

        async def feed(arriving: Arrivals) -> None:
            try:
                await self.enqueued(arriving)
            except Exception as exc:  # the calls out land, then it is raised
                unread.append(exc)
                self.stop.request(StopKind.INTERRUPTED, "the input could not be read")

        if not self.stop.requested:
            try:
                async with anyio.create_task_group() as tg:
                    tg.start_soon(count_earlier_rows)
                    tg.start_soon(_every, self.clock, SECONDS_KEPT, seconds.keep)
                    if arriving is not None:
                        tg.start_soon(feed, arriving)
                    await run_jobs(
                        self.store,
                        self.id,
                        adapter,
                        pacer,
                        settings=settings,
                        stop=self.stop,
                        clock=self.clock,
                        on_outcomes=on_outcomes,
                        arriving=arriving,
                    )
                    while arriving is not None and not arriving.done:  # a stop: it ends soon
                        await arriving.event.wait()
                    tg.cancel_scope.cancel()
            except anyio.get_cancelled_exc_class():
                # Stopped at once (a second Ctrl-C, a cancelled task): the calls in flight are
                # abandoned, and the run says so, for status and the next resume to tell.
                with anyio.CancelScope(shield=True):
                    await self.store.runs.record_stop(
                        self.id, StopKind.INTERRUPTED, abandoned(self.stop.unstored_calls)
                    )
                raise
            finally:
                with anyio.CancelScope(shield=True):  # its calls by second, however it ended
                    await seconds.keep()
            self.learned = pacer.learned
            if meter is not None:
                meter.watch(None)  # its figures kept, not its pacer
        if self.stop.kind is not None:
            await self.store.runs.record_stop(self.id, self.stop.kind, self.stop.reason or "")
        if unread:
            raise unread[0]

    async def write(
        self,
        out: Path,
        output_format: OutputFormat = "csv",
        *,
        raw_values: bool = False,
        naming: ColumnNaming = "as-is",
    ) -> dict[str, int]:
        """Write the output from the store; the count of each row status (see
        :meth:`check_writable` for what is refused first). ``raw_values``: CSV and TSV cells
        from the API as they are (see :mod:`bulkfetch.io.cells`); ``naming``: the added
        columns' names as they are or in snake case (see :mod:`bulkfetch.io.names`)."""
        self.check_writable()
        source = self.source
        # Rows the run stopped before enqueueing are written pending, from the input.
        rest = source.rows() if not self.enqueue_complete and source is not None else None
        statuses = await write_output(
            self.store,
            [Part(None, self.id, self.client)],
            out,
            output_format,
            rest=rest,
            rest_from=self.rows,
            raw_values=raw_values,
            naming=naming,
        )
        if self.stop.kind is None and not statuses.get(RowStatus.PENDING.value):
            await self.store.runs.complete(self.id)
        return statuses

    def check_writable(self) -> None:
        """Refuse to write an input this run was begun from here that changed since (the
        output would not be what its rows are now), or one read in part with no source."""
        source = self.source
        if source is not None and self.content is not None:
            if source.content_hash() != self.content:
                raise UsageError(
                    f"{source.name} changed while run {self.id} worked on it: no output was"
                    " written, so that no row can carry another row's answer. The answers are"
                    " kept in the store: run the same command again to enqueue the input as it"
                    " is now (lookups already answered cost no call)"
                )
        elif not self.enqueue_complete:
            raise UsageError(
                f"run {self.id} stopped while its input was being read: run its command again"
                " to read the rest, then write its output"
            )

    async def follow(self, done: anyio.Event) -> AsyncIterator[OutputRow]:
        """The run's rows in input order as each settles (its lookup answered, or failed
        for this run), while :meth:`work` goes on elsewhere until ``done``. Once it is,
        the rows that settled are given and the rest (pending after a stop) are not."""
        after = -1
        while True:
            finished = done.is_set()
            self.settled_jobs.clear()  # before reading: a row that settles after is seen
            page = await self.store.results.page(self.id, after)
            waiting = None
            for row in page:
                if not _settled(row):
                    if finished:
                        return
                    waiting = row.job_id
                    break
                yield row
                after = row.row_no
            if waiting is None:
                if page:
                    continue
                if finished:
                    return
            while not done.is_set() and (waiting is None or waiting not in self.settled_jobs):
                await _first(self.settled, done)

    async def set_cap(self, max_calls: int | None) -> None:
        """Bill at most ``max_calls`` units for the run, over all its invocations and workers
        (None: no cap)."""
        await self.store.runs.set_cap(self.id, max_calls)

    async def report(
        self, statuses: Mapping[str, int], out: Path | None, rate: float | None
    ) -> RunReport:
        """What this process did with the run, and what the run spent so far."""
        counts = await self.store.runs.counts(self.id)
        if counts is not None:
            # What this process did not fetch, the store had: answered before it began on
            # the run (not what others answer meanwhile, nor it again with --refresh).
            self.spent.from_store = await self.store.runs.answered_before(self.id, self.began_at)
            await self.store.runs.keep_from_store(self.id, self.spent.from_store)
            if self.meter is not None:
                self.meter.answered_from_store(self.spent.from_store)
        return RunReport(
            run_id=self.id,
            output=out,
            rows=sum(statuses.values()),
            statuses=dict(statuses),
            spent=self.spent,
            run_spent=counts.spend if counts is not None else None,
            max_calls=counts.max_units if counts is not None else None,
            stop_kind=self.stop.kind,
            stop_reason=self.stop.reason,
            notices=(*self.notices, *self.client.notices, *rate_notice(rate, self.learned)),
        )


def _settled(row: OutputRow) -> bool:
    """Whether a row has its status for this run: no call to make, or its job final or
    failed (not pending, not in flight)."""
    return row.state is None or row.state.is_final or row.state is JobState.FAILED


SECONDS_KEPT = 5.0  # how often a run's counts by second are added to the store's


async def _every(clock: Clock, interval: float, work: Callable[[], Awaitable[None]]) -> None:
    """``work`` every ``interval`` seconds, until cancelled."""
    while True:
        await clock.sleep(interval)
        await work()


async def _first(*events: anyio.Event) -> None:
    """Wait until one of ``events`` is set."""
    async with anyio.create_task_group() as tg:
        for event in events:

            async def wait(event: anyio.Event = event) -> None:
                await event.wait()
                tg.cancel_scope.cancel()

            tg.start_soon(wait)
