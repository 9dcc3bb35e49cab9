"""A bulk run, start to finish: input file -> store -> engine -> output file.

API-agnostic; each API module offers a one-call wrapper (``crystalroof.enrich``,
``labormarket.labor_market``) that the CLI and library users share.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol, TypedDict, Unpack

import anyio
import anyio.lowlevel

from bulkfetch.adapter import Adapter
from bulkfetch.budget import SharedRateLimiter
from bulkfetch.clock import Clock, SystemClock
from bulkfetch.errors import InvalidInputError
from bulkfetch.jobs import Lookup, Outcome, RowStatus
from bulkfetch.limiter import Pacer, RateLimiter
from bulkfetch.scheduler import EngineSettings, StopRequest, run_jobs
from bulkfetch.sinks import CsvSink, JsonlSink, OutputRecord, Rendered, Sink, atomic_text_file
from bulkfetch.sources import CsvSource
from bulkfetch.store import RowEntry, RunSpec, StopKind, Store

__all__ = [
    "BulkOptions",
    "ExitCode",
    "OutputFormat",
    "Progress",
    "RunReport",
    "bulk_file",
    "pacer_for",
    "run_bulk",
    "stop_exit_code",
    "write_output",
]

OutputFormat = Literal["csv", "jsonl"]
_ENQUEUE_CHUNK = 2000


class ExitCode:
    """The CLI's exit codes (documented in the README)."""

    OK = 0
    FAILED = 1
    USAGE = 2
    QUOTA = 3
    AUTH = 4
    INTERRUPTED = 130


_STOP_EXIT = {StopKind.QUOTA: ExitCode.QUOTA, StopKind.AUTH: ExitCode.AUTH}


def stop_exit_code(stop_kind: str) -> int:
    """The exit code of a run or worker that stopped early for this reason."""
    return _STOP_EXIT.get(stop_kind, ExitCode.INTERRUPTED)


class Progress(Protocol):
    """What a run reports as it goes (the CLI draws a bar from it)."""

    def start(self, total_rows: int, settled_rows: int) -> None: ...

    def advance(self, settled_rows: int, outcomes: Sequence[Outcome]) -> None: ...

    def notice(self, text: str) -> None:
        """Something the user should know now, not only at the end."""
        ...


class _Silent:
    def start(self, total_rows: int, settled_rows: int) -> None:
        pass

    def advance(self, settled_rows: int, outcomes: Sequence[Outcome]) -> None:
        pass

    def notice(self, text: str) -> None:
        pass


@dataclass(frozen=True, slots=True)
class RunReport:
    """What a run did, and how it ended."""

    run_id: int
    output: Path
    rows: int
    statuses: dict[str, int]
    calls: int  # requests sent by this invocation
    reclaimed: int  # jobs found in flight from a process that died: possibly billed twice
    stop_kind: str | None = None
    stop_reason: str | None = None
    notices: Sequence[str] = ()
    enqueued_only: bool = False  # work=False: rows counts the rows enqueued; nothing written

    @property
    def exit_code(self) -> int:
        if self.stop_kind is not None:
            return stop_exit_code(self.stop_kind)
        if self.statuses.get(RowStatus.FAILED.value) or self.statuses.get(RowStatus.PENDING.value):
            return ExitCode.FAILED
        return ExitCode.OK


async def pacer_for(store: Store, adapter: Adapter, rate: float | None, clock: Clock) -> Pacer:
    """In-process pacing; or, on a store several workers share, the key's shared budget."""
    if store.shared:
        return await SharedRateLimiter.join(store, adapter.rate_key, rate, clock=clock)
    return RateLimiter(rate, clock=clock)


def _run_key(signature: dict[str, object]) -> str:
    canonical = json.dumps(signature, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


async def run_bulk(
    *,
    adapter: Adapter,
    source: CsvSource,
    column: str,
    make_lookup: Callable[[str], Lookup],
    template: dict[str, str],
    store: Store,
    out: Path,
    output_format: OutputFormat = "csv",
    rate: float | None = None,
    settings: EngineSettings | None = None,
    refresh: bool = False,
    progress: Progress | None = None,
    stop: StopRequest | None = None,
    clock: Clock | None = None,
    work: bool = True,
) -> RunReport:
    """Enqueue ``source`` (idempotently), work its jobs, and write ``out`` from the store.

    ``work=False``: enqueue only, for workers (``bulkfetch work``) to take up.

    ``template`` describes the lookup apart from the input value (endpoint and options); with
    the input file's identity it names the run, so the same command finds the same run.
    """
    clock = clock or SystemClock()
    stop = stop or StopRequest()
    progress = progress or _Silent()
    header = source.header()
    index = source.column_index(column)
    signature: dict[str, object] = {
        "api": adapter.name,
        "column": column,
        **template,
        "input": source.signature(),
    }
    spec = RunSpec(
        run_key=_run_key(signature),
        api=adapter.name,
        endpoint=template.get("endpoint", ""),
        description=f"{adapter.name} {template.get('endpoint', '')} of {source.path.name}",
        adapter=json.dumps(adapter.spec(), sort_keys=True),
        input=json.dumps(source.signature(), sort_keys=True),
    )
    run = await store.begin_run(spec, clock.time())
    total_rows = run.rows_enqueued
    if not run.enqueue_complete:
        total_rows = await _enqueue(
            store, run.id, source, index, make_lookup, run.rows_enqueued, stop, clock
        )
    if not work:
        return RunReport(run.id, out, total_rows, {}, 0, 0, enqueued_only=True)
    reclaimed = await store.prepare_run(run.id, refresh=refresh, now=clock.time())
    if reclaimed:
        progress.notice(
            f"resumed: {reclaimed} lookups were in flight when an earlier process died; they"
            " are fetched again and may be billed twice"
        )
    progress.start(total_rows, 0)
    calls = settled_here = 0
    first_commit = anyio.Event()

    def on_outcomes(settled: int, outcomes: Sequence[Outcome]) -> None:
        nonlocal calls, settled_here
        calls += sum(outcome.called for outcome in outcomes)
        settled_here += settled
        progress.advance(settled, outcomes)
        first_commit.set()

    async def count_earlier_rows() -> None:
        # Counting a big run's settled rows takes a while: not before the first call.
        await first_commit.wait()
        progress.advance(await store.settled_rows(run.id) - settled_here, ())

    learned: float | None = None
    if not stop.requested:
        pacer = await pacer_for(store, adapter, rate, clock)
        async with anyio.create_task_group() as tg:
            tg.start_soon(count_earlier_rows)
            await run_jobs(
                store,
                run.id,
                adapter,
                pacer,
                settings=settings,
                stop=stop,
                clock=clock,
                on_outcomes=on_outcomes,
            )
            tg.cancel_scope.cancel()
        learned = pacer.learned
    if stop.kind is not None:
        await store.record_stop(run.id, stop.kind, stop.reason or stop.kind)
    statuses = await write_output(store, run.id, adapter, source, header, out, output_format)
    if stop.kind is None and not statuses.get(RowStatus.PENDING.value):
        await store.complete_run(run.id)
    return RunReport(
        run_id=run.id,
        output=out,
        rows=sum(statuses.values()),
        statuses=statuses,
        calls=calls,
        reclaimed=reclaimed,
        stop_kind=stop.kind,
        stop_reason=stop.reason,
        notices=(*adapter.notices, *_rate_notice(rate, learned)),
    )


def _rate_notice(rate: float | None, learned: float | None) -> list[str]:
    """Tell the user the limit the limiter learned, when the rate they gave was above it."""
    if learned is None or (rate is not None and rate <= learned):
        return []
    per_second = max(1, math.floor(learned))
    return [
        f"the API answered 429 beyond about {per_second} calls a second; a rate of "
        f"{per_second} (--rate {per_second}) spares those 429s and the pauses after them"
    ]


async def _enqueue(
    store: Store,
    run_id: int,
    source: CsvSource,
    index: int,
    make_lookup: Callable[[str], Lookup],
    start: int,
    stop: StopRequest,
    clock: Clock,
) -> int:
    """Enqueue rows from ``start``; return how many rows the run holds."""
    chunk: list[RowEntry] = []
    # Repeated values are common in big files: build each one's lookup (and fingerprint) once.
    make_lookup = functools.lru_cache(maxsize=65536)(make_lookup)
    last = start - 1
    for row_no, fields in source.rows(start):
        last = row_no
        try:
            chunk.append(RowEntry(row_no, make_lookup(fields[index])))
        except InvalidInputError as exc:
            chunk.append(RowEntry(row_no, None, str(exc)))
        if len(chunk) >= _ENQUEUE_CHUNK:
            await store.enqueue(run_id, chunk, clock.time())
            chunk = []
            if stop.requested:
                return last + 1
    await store.enqueue(run_id, chunk, clock.time())
    await store.finish_enqueue(run_id)
    return last + 1


async def write_output(
    store: Store,
    run_id: int,
    adapter: Adapter,
    source: CsvSource,
    header: list[str],
    out: Path,
    output_format: OutputFormat,
) -> dict[str, int]:
    """Write every row in input order from the store; return the count of each status."""
    statuses: dict[str, int] = {}
    columns = [c for c in await store.output_columns(run_id) if c not in adapter.fixed_columns]
    with atomic_text_file(out) as handle:
        sink: Sink = (
            CsvSink(
                handle,
                header,
                [*columns, *adapter.fixed_columns],
                row_column=adapter.expands_rows,
            )
            if output_format == "csv"
            else JsonlSink(handle, header)
        )
        render = _Renderer(adapter, sink)
        stored = aiter(store.output_rows(run_id))
        row = await anext(stored, None)
        for row_no, fields in source.rows():
            if row is None or row.row_no != row_no:
                # Not enqueued: the run stopped while it was still reading the input.
                sink.write(OutputRecord(row_no, fields, RowStatus.PENDING.value))
                _count(statuses, RowStatus.PENDING)
                continue
            status = RowStatus.INVALID if row.state is None else RowStatus.of(row.state)
            _count(statuses, status)
            if status is RowStatus.OK and row.body is not None and row.job_id is not None:
                sink.write(OutputRecord(row_no, fields, status.value, render(row.job_id, row.body)))
            else:
                sink.write(OutputRecord(row_no, fields, status.value, error=row.error))
            row = await anext(stored, None)
            if row_no % 5000 == 0:
                await anyio.lowlevel.checkpoint()
    return statuses


class _Renderer:
    """Bodies as the sink writes them, remembered for the lookups seen last: repeated
    lookups are common in big files, and rendering is most of what writing costs."""

    SIZE = 4096

    def __init__(self, adapter: Adapter, sink: Sink) -> None:
        self._adapter = adapter
        self._sink = sink
        self._seen: OrderedDict[int, Rendered] = OrderedDict()

    def __call__(self, job_id: int, body: str) -> Rendered:
        found = self._seen.get(job_id)
        if found is None:
            found = self._seen[job_id] = self._sink.render(self._adapter, body)
            if len(self._seen) > self.SIZE:
                self._seen.popitem(last=False)
        return found


def _count(statuses: dict[str, int], status: RowStatus) -> None:
    statuses[status.value] = statuses.get(status.value, 0) + 1


class BulkOptions(TypedDict, total=False):
    """How a bulk run over a file is stored, paced and written (all optional)."""

    db: str | Path  # the store; default bulkfetch.db
    output_format: OutputFormat
    encoding: str  # the input's; default utf-8-sig
    rate: float | None
    concurrency: int
    max_attempts: int
    refresh: bool
    progress: Progress | None
    stop: StopRequest | None
    lease_seconds: float  # how long a claimed job stays a worker's without renewal
    work: bool  # False: enqueue only, for ``bulkfetch work`` to take up


def engine_settings(options: BulkOptions) -> EngineSettings:
    defaults = EngineSettings()
    return EngineSettings(
        concurrency=options.get("concurrency", defaults.concurrency),
        max_attempts=options.get("max_attempts", defaults.max_attempts),
        lease_seconds=options.get("lease_seconds", defaults.lease_seconds),
    )


async def bulk_file(
    adapter: Adapter,
    input_path: str | Path,
    *,
    column: str,
    out: str | Path,
    make_lookup: Callable[[str], Lookup],
    template: dict[str, str],
    before: Callable[[Store], Awaitable[None]] | None = None,
    **options: Unpack[BulkOptions],
) -> RunReport:
    """Open the store, run ``before`` (checks that need it), then :func:`run_bulk`."""
    settings = engine_settings(options)
    async with await Store.open(options.get("db", "bulkfetch.db")) as store:
        if before is not None:
            await before(store)
        return await run_bulk(
            adapter=adapter,
            source=CsvSource(Path(input_path), options.get("encoding", "utf-8-sig")),
            column=column,
            make_lookup=make_lookup,
            template=template,
            store=store,
            out=Path(out),
            output_format=options.get("output_format", "csv"),
            rate=options.get("rate"),
            settings=settings,
            refresh=options.get("refresh", False),
            progress=options.get("progress"),
            stop=options.get("stop"),
            work=options.get("work", True),
        )
