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
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol, TypedDict, Unpack

import anyio
import anyio.lowlevel

from bulkfetch.adapter import Adapter, Answers, Operation
from bulkfetch.clock import Clock, SystemClock
from bulkfetch.engine import EngineSettings, StopRequest, run_jobs
from bulkfetch.errors import InvalidInputError, UsageError
from bulkfetch.io.sinks import (
    CsvSink,
    JsonlSink,
    OutputRecord,
    Rendered,
    Sink,
    atomic_text_file,
    check_output,
)
from bulkfetch.io.sources import CsvSource
from bulkfetch.jobs import Lookup, Outcome, RowStatus, StopKind
from bulkfetch.pacing import Pacer
from bulkfetch.pacing.limiter import RateLimiter
from bulkfetch.pacing.shared import SharedRateLimiter
from bulkfetch.store import RowEntry, RunSpec, Store

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
    STORE = 5
    UNREACHABLE = 6
    INTERRUPTED = 130
    BROKEN_PIPE = 141  # the reader of the output went away (128 + SIGPIPE)


_STOP_EXIT = {
    StopKind.QUOTA: ExitCode.QUOTA,
    StopKind.AUTH: ExitCode.AUTH,
    StopKind.UNREACHABLE: ExitCode.UNREACHABLE,
}


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
    operation: Operation[Any],
    source: CsvSource,
    column: str,
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

    The operation's ``template`` describes its lookups apart from the input value; with
    the input's place and content it names the run, so the same command over the same file
    finds the same run, and over a file whose content changed, a new one (and says so). The
    output is written from the rows the store kept, never by reading the input again; an
    input that changed while the run worked on it is refused before any output is written.
    """
    clock = clock or SystemClock()
    stop = stop or StopRequest()
    progress = progress or _Silent()
    adapter, template = operation.adapter, operation.template
    header = source.header()
    index = source.column_index(column)
    content = source.content_hash()
    identity = source.identity(content)
    lineage: dict[str, object] = {"api": adapter.name, "column": column, **template}
    lineage["input"] = {k: v for k, v in identity.items() if k != "sha256"}
    spec = RunSpec(
        run_key=_run_key({**lineage, "input": identity}),
        api=adapter.name,
        endpoint=template.get("endpoint", ""),
        description=f"{adapter.name} {template.get('endpoint', '')} of {source.path.name}",
        adapter=json.dumps(adapter.spec(), sort_keys=True),
        input=json.dumps(identity, sort_keys=True),
        lineage=_run_key(lineage),
        header=json.dumps(header, ensure_ascii=False),
    )
    run = await store.runs.begin(spec, clock.time())
    notices: list[str] = []
    if run.follows is not None:
        notices.append(
            f"{source.path} changed since run {run.follows} was enqueued from it: this is a new"
            f" run, {run.id}, over its content now (lookups answered before cost no call)"
        )
        progress.notice(notices[-1])
    total_rows = run.rows_enqueued
    if not run.enqueue_complete:
        total_rows = await _enqueue(
            store, run.id, source, index, operation.lookup, run.rows_enqueued, stop, clock, content
        )
    if not work:
        return RunReport(run.id, out, total_rows, {}, 0, 0, enqueued_only=True, notices=notices)
    reclaimed = await store.runs.prepare(run.id, refresh=refresh, now=clock.time())
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
        progress.advance(await store.queue.settled_rows(run.id) - settled_here, ())

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
        await store.runs.record_stop(run.id, stop.kind, stop.reason or stop.kind)
    if source.content_hash() != content:
        raise UsageError(
            f"{source.path} changed while run {run.id} worked on it: no output was written, so"
            " that no row can carry another row's answer. The answers are kept in the store:"
            " run the same command again to enqueue the file as it is now (lookups already"
            " answered cost no call)"
        )
    rest = () if run.enqueue_complete or total_rows == 0 else source.rows(total_rows)
    statuses = await write_output(store, run.id, operation.answers, out, output_format, rest=rest)
    if stop.kind is None and not statuses.get(RowStatus.PENDING.value):
        await store.runs.complete(run.id)
    return RunReport(
        run_id=run.id,
        output=out,
        rows=sum(statuses.values()),
        statuses=statuses,
        calls=calls,
        reclaimed=reclaimed,
        stop_kind=stop.kind,
        stop_reason=stop.reason,
        notices=(*notices, *adapter.notices, *_rate_notice(rate, learned)),
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
    content: str,
) -> int:
    """Enqueue rows from ``start``; return how many rows the run holds. A file whose content
    is no longer ``content`` by the end of reading it is refused, and the run it began
    retired: its rows may be a mix of two contents."""
    chunk: list[RowEntry] = []
    # Repeated values are common in big files: build each one's lookup (and fingerprint) once.
    make_lookup = functools.lru_cache(maxsize=65536)(make_lookup)
    last = start - 1
    read: list[str] = []
    for row_no, fields in source.rows(start, on_end=read.append):
        last = row_no
        try:
            chunk.append(RowEntry(row_no, make_lookup(fields[index]), fields=fields))
        except InvalidInputError as exc:
            chunk.append(RowEntry(row_no, None, str(exc), fields=fields))
        if len(chunk) >= _ENQUEUE_CHUNK:
            await store.queue.enqueue(run_id, chunk, clock.time())
            chunk = []
            if stop.requested:
                return last + 1
    if read != [content]:
        await store.runs.retire(run_id, clock.time())
        raise UsageError(
            f"{source.path} changed while it was being read: nothing was fetched for it. Run"
            " the same command again when it is no longer being written"
        )
    await store.queue.enqueue(run_id, chunk, clock.time())
    await store.runs.finish_enqueue(run_id)
    return last + 1


async def write_output(
    store: Store,
    run_id: int,
    answers: Answers,
    out: Path,
    output_format: OutputFormat,
    *,
    rest: Iterable[tuple[int, list[str]]] = (),
) -> dict[str, int]:
    """Write every row in input order from the store (and ``rest``: the input's rows the
    run had not enqueued when it stopped, all pending); the count of each status."""
    detail = await store.runs.detail(run_id)
    if detail is None:
        raise UsageError(f"the store holds no run {run_id} ('bulkfetch status' lists them)")
    if detail.header is None:
        raise UsageError(
            f"run {run_id} was made by an older bulkfetch, which kept its rows in the input"
            " file, not the store: run its command again to write its output (lookups already"
            " answered cost no call)"
        )
    not_yet = "not fetched yet" + (
        f" (the run stopped: {detail.stop_reason})" if detail.stop_reason else ""
    )
    statuses: dict[str, int] = {}
    columns = [c for c in await store.results.columns(run_id) if c not in answers.fixed_columns]
    with atomic_text_file(out) as handle:
        sink: Sink = (
            CsvSink(
                handle,
                detail.header,
                [*columns, *answers.fixed_columns],
                row_column=answers.expands_rows,
            )
            if output_format == "csv"
            else JsonlSink(handle, detail.header)
        )
        render = _Renderer(answers, sink)
        async for row in store.results.rows(run_id):
            status = RowStatus.INVALID if row.state is None else RowStatus.of(row.state)
            _count(statuses, status)
            fields = row.fields if row.fields is not None else []
            answer = Rendered()
            if row.body is not None and status in _ANSWERED and row.job_id is not None:
                answer = render(row.job_id, row.body)
            error = None if status is RowStatus.OK else row.error
            if status is RowStatus.PENDING:
                error = not_yet
            sink.write(OutputRecord(row.row_no, fields, status.value, answer, error))
            if row.row_no % 5000 == 0:
                await anyio.lowlevel.checkpoint()
        for row_no, fields in rest:
            # Not enqueued: the run stopped while it was still reading the input.
            sink.write(OutputRecord(row_no, fields, RowStatus.PENDING.value, error=not_yet))
            _count(statuses, RowStatus.PENDING)
    return statuses


_ANSWERED = frozenset({RowStatus.OK, RowStatus.NOT_FOUND})  # statuses a body may come with


class _Renderer:
    """Bodies as the sink writes them, remembered for the lookups seen last: repeated
    lookups are common in big files, and rendering is most of what writing costs."""

    SIZE = 4096

    def __init__(self, answers: Answers, sink: Sink) -> None:
        self._answers = answers
        self._sink = sink
        self._seen: OrderedDict[int, Rendered] = OrderedDict()

    def __call__(self, job_id: int, body: str) -> Rendered:
        found = self._seen.get(job_id)
        if found is None:
            found = self._seen[job_id] = self._sink.render(self._answers, body)
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
    encoding_errors: str  # "strict" (default): refuse bytes the encoding cannot read;
    # "replace": carry on with them replaced by U+FFFD
    rate: float | None
    concurrency: int
    max_attempts: int
    refresh: bool
    progress: Progress | None
    stop: StopRequest | None
    lease_seconds: float  # how long a claimed job stays a worker's without renewal
    work: bool  # False: enqueue only, for ``bulkfetch work`` to take up


def _store_file(db: str | Path) -> dict[str, Path]:
    """The store's file, for an output that must not overwrite it (none for a server's)."""
    return {} if "://" in str(db) else {"the store": Path(db)}


def engine_settings(options: BulkOptions) -> EngineSettings:
    defaults = EngineSettings()
    return EngineSettings(
        concurrency=options.get("concurrency", defaults.concurrency),
        max_attempts=options.get("max_attempts", defaults.max_attempts),
        lease_seconds=options.get("lease_seconds", defaults.lease_seconds),
    )


async def bulk_file(
    operation: Operation[Any],
    input_path: str | Path,
    *,
    column: str,
    out: str | Path,
    before: Callable[[Store], Awaitable[None]] | None = None,
    **options: Unpack[BulkOptions],
) -> RunReport:
    """Check what can be checked without the store (the input, its column, the output);
    open the store, run ``before`` (checks that need it), then :func:`run_bulk`. An error
    before any call was answered leaves no store behind that it created."""
    settings = engine_settings(options)
    source = CsvSource(
        Path(input_path),
        options.get("encoding", "utf-8-sig"),
        options.get("encoding_errors", "strict"),
    )
    source.column_index(column)
    db = options.get("db", "bulkfetch.db")
    kept = {"the input": source.path, **_store_file(db)}
    check_output(Path(out), not_to=kept)
    store = await Store.open(db)
    try:
        if before is not None:
            await before(store)
        report = await run_bulk(
            operation=operation,
            source=source,
            column=column,
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
    except BaseException:
        with anyio.CancelScope(shield=True):
            await store.close_unused()
        raise
    with anyio.CancelScope(shield=True):
        await store.close()
    return report
