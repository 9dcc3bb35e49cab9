"""A file through an API into a file: what ``bulkfetch enrich`` and ``enrich()`` do."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypedDict, Unpack

import anyio

from bulkfetch.adapter import Operation
from bulkfetch.clock import SystemClock
from bulkfetch.engine import EngineSettings, StopRequest
from bulkfetch.io.files import check_output
from bulkfetch.io.formats import open_source
from bulkfetch.io.sinks import STDOUT, OutputFormat, output_format
from bulkfetch.io.sources import Source, column_index
from bulkfetch.io.stdin import STDIN, Copied, stdin_copy
from bulkfetch.run.plan import plan_in
from bulkfetch.run.report import Progress, RunReport
from bulkfetch.run.run import Run, pacer_for
from bulkfetch.store import Store

__all__ = ["RunOptions", "engine_settings", "run_file"]


class RunOptions(TypedDict, total=False):
    """How a bulk run over a file is stored, paced and written (all optional)."""

    db: str | Path  # the store; default bulkfetch.db
    output_format: OutputFormat | None  # default: what the output's name says (CSV)
    input_format: str | None  # csv, tsv, jsonl, xlsx, parquet; default: what its name says
    delimiter: str | None  # delimited text's; default: found from its header line
    sheet: str | None  # an .xlsx input's sheet; default: the first
    encoding: str  # a text input's; default utf-8-sig
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
    max_calls: int | None  # bill at most this many units, over all the run's invocations
    max_age: float | None  # seconds: an answer in the store older than this is fetched again
    plan: bool  # True: only say what the run would fetch and bill (``RunReport.plan``)


def engine_settings(options: RunOptions) -> EngineSettings:
    defaults = EngineSettings()
    return EngineSettings(
        concurrency=options.get("concurrency", defaults.concurrency),
        max_attempts=options.get("max_attempts", defaults.max_attempts),
        lease_seconds=options.get("lease_seconds", defaults.lease_seconds),
    )


async def run_file(
    operation: Operation[object],
    input_path: str | Path,
    *,
    column: str,
    out: str | Path,
    before: Callable[[Store], Awaitable[None]] | None = None,
    **options: Unpack[RunOptions],
) -> RunReport:
    """Enqueue a file's rows (idempotently), work them, and write ``out`` from the store.

    ``input_path`` ``-`` is standard input, ``out`` ``-`` standard output; each file's
    format follows its name unless the options say. What can be checked without the store
    is checked first (the input, its column, the output), then the store opened and
    ``before`` run (checks that need it). An error before any call was answered leaves no
    store behind that it created. ``work=False``: enqueue only, for workers (``bulkfetch
    work``) to take up. ``plan=True``: make no call and write nothing; the report's
    ``plan`` says what the run would fetch and bill.
    """
    path, out = Path(input_path), Path(out)
    with contextlib.ExitStack() as files:
        source = _source(path, files, options)
        column_index(source.header(), column)
        output = output_format(out, options.get("output_format"))
        if options.get("plan", False):
            return await _plan(operation, source, column, options)
        if out != STDOUT:
            db = options.get("db", "bulkfetch.db")
            kept = {"the input": path} if path != STDIN else {}
            check_output(
                out, not_to={**kept, **({} if "://" in str(db) else {"the store": Path(db)})}
            )
        store = await Store.open(options.get("db", "bulkfetch.db"))
        try:
            if before is not None:
                await before(store)
            report = await _run(store, operation, source, column, out, output, options)
        except BaseException:
            with anyio.CancelScope(shield=True):
                await store.close_unused()
            raise
        with anyio.CancelScope(shield=True):
            await store.close()
        return report


def _source(path: Path, files: contextlib.ExitStack, options: RunOptions) -> Source:
    """The input, in its format (standard input copied to a temporary file first)."""
    if path == STDIN:
        return Copied(_source(files.enter_context(stdin_copy()), files, options))
    return open_source(
        path,
        format=options.get("input_format"),
        encoding=options.get("encoding", "utf-8-sig"),
        errors=options.get("encoding_errors", "strict"),
        delimiter=options.get("delimiter"),
        sheet=options.get("sheet"),
    )


async def _run(
    store: Store,
    operation: Operation[object],
    source: Source,
    column: str,
    out: Path,
    output: OutputFormat,
    options: RunOptions,
) -> RunReport:
    clock = SystemClock()
    run = await Run.begin(
        store,
        operation,
        source,
        column=column,
        clock=clock,
        progress=options.get("progress"),
        stop=options.get("stop"),
    )
    rate = options.get("rate")
    await run.set_cap(options.get("max_calls"))
    if not options.get("work", True):
        return RunReport(run.id, None, run.rows, {}, enqueued_only=True, notices=run.notices)
    pacer = await pacer_for(store, run.client, rate, clock)
    run.progress.start(run.rows, 0)
    await run.work(
        pacer,
        settings=engine_settings(options),
        refresh=options.get("refresh", False),
        max_age=options.get("max_age"),
    )
    statuses = await run.write(out, output)
    return await run.report(statuses, out, rate)


async def _plan(
    operation: Operation[object], source: Source, column: str, options: RunOptions
) -> RunReport:
    """What the run would fetch: the input read, the store asked, no call made."""
    found = await plan_in(
        options.get("db", "bulkfetch.db"),
        operation,
        source,
        column=column,
        rate=options.get("rate"),
        max_age=options.get("max_age"),
        refresh=options.get("refresh", False),
        now=SystemClock().time(),
    )
    return RunReport(None, None, found.rows, {}, plan=found)
