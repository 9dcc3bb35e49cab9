"""A file through an API into a file: what ``bulkfetch enrich`` and ``enrich()`` do."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TypedDict, Unpack

import anyio

from bulkfetch.adapter import Operation
from bulkfetch.clock import SystemClock
from bulkfetch.engine import EngineSettings, StopRequest
from bulkfetch.errors import UsageError
from bulkfetch.io.files import check_output
from bulkfetch.io.formats import open_source, writable
from bulkfetch.io.sinks import STDOUT, OutputFormat, output_format
from bulkfetch.io.sources import Picker, Source, picker
from bulkfetch.io.stdin import STDIN, Copied, stdin_copy
from bulkfetch.jobs import RowStatus
from bulkfetch.metrics import Metrics
from bulkfetch.pacing.limits import Limit
from bulkfetch.pacing.windows import AtLimit
from bulkfetch.run.output import ColumnNaming, Part, write_output
from bulkfetch.run.pace import pacer_for
from bulkfetch.run.passes import begin_pass
from bulkfetch.run.plan import plan_pass, sum_plans
from bulkfetch.run.report import Progress, RunReport, combined_report
from bulkfetch.run.run import Run
from bulkfetch.store import Store

__all__ = ["RunOptions", "engine_settings", "run_file"]


class RunOptions(TypedDict, total=False):
    """How a bulk run over a file is stored, paced and written (all optional)."""

    db: str | Path  # the store; default bulkfetch.db
    output_format: OutputFormat | None  # default: what the output's name says (CSV)
    raw_values: bool  # CSV and TSV: the API's values as given, even a formula (default False:
    # a value a spreadsheet would run gets a leading "'"; see bulkfetch.io.cells)
    column_names: ColumnNaming  # the added columns' names: "as-is" (default) or "snake"
    input_format: str | None  # csv, tsv, jsonl, xlsx, parquet; default: what its name says
    delimiter: str | None  # delimited text's; default: found from its header line
    sheet: str | None  # an .xlsx input's sheet; default: the first
    encoding: str  # a text input's; default utf-8-sig
    encoding_errors: str  # "strict" (default): refuse bytes the encoding cannot read;
    # "replace": carry on with them replaced by U+FFFD
    rate: float | None  # calls a second for the key; default: a per-second limit's
    limits: Sequence[Limit]  # the key's allowances (10/second, 2500/day), over the client's
    at_limit: AtLimit  # a window's allowance spent: "wait" (default) for the next, or "stop"
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
    metrics: Metrics | None  # what each run spends, counted there too (bulkfetch.metrics)


def engine_settings(options: RunOptions) -> EngineSettings:
    defaults = EngineSettings()
    return EngineSettings(
        concurrency=options.get("concurrency", defaults.concurrency),
        max_attempts=options.get("max_attempts", defaults.max_attempts),
        lease_seconds=options.get("lease_seconds", defaults.lease_seconds),
    )


async def run_file(
    operation: Operation[object] | Mapping[str, Operation[object]],
    input_path: str | Path,
    *,
    column: str | Picker,
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

    Several operations by name (``{"occupation": ..., "income": ...}``, all of one client):
    a run each over the same input, all enqueued by one read of it (see
    :mod:`bulkfetch.run.passes`), worked one after another at one pace, and one output
    row per input row with each one's columns prefixed by its name (see
    :mod:`bulkfetch.run.merged`); ``max_calls`` caps them together.
    """
    parts = dict(operation) if isinstance(operation, Mapping) else {"": operation}
    path, out = Path(input_path), Path(out)
    with contextlib.ExitStack() as files:
        source = _source(path, files, options)
        picker(column).bind(source.header())
        plan = options.get("plan", False)
        if out != STDOUT and not plan:  # first: an output that is the store or the input
            db = options.get("db", "bulkfetch.db")
            kept = {"the input": path} if path != STDIN else {}
            check_output(
                out, not_to={**kept, **({} if "://" in str(db) else {"the store": Path(db)})}
            )
        output = output_format(out, options.get("output_format"))
        writable(out, output)  # before any call: what the format needs
        if len(parts) > 1 and options.get("max_calls") and not options.get("work", True):
            raise UsageError(
                "--max-calls caps several datasets together only when they are worked here,"
                " one after another: leave out --no-work, or run each dataset on its own"
            )
        if plan:
            return await _plan(parts, source, column, options)
        store = await Store.open(options.get("db", "bulkfetch.db"))
        try:
            if before is not None:
                await before(store)
            report = await _run(store, parts, source, column, out, output, options)
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
    parts: Mapping[str, Operation[object]],
    source: Source,
    column: str | Picker,
    out: Path,
    output: OutputFormat,
    options: RunOptions,
) -> RunReport:
    clock = SystemClock()
    # One read of the input for every dataset's run.
    runs = await begin_pass(
        store,
        parts,
        source,
        column=column,
        clock=clock,
        progress=options.get("progress"),
        stop=options.get("stop"),
        # Worked here: calls begin on the first rows while the rest are read.
        stream=options.get("work", True),
    )
    rate, cap = options.get("rate"), options.get("max_calls")
    first = next(iter(runs.values()))
    if not options.get("work", True):
        await first.set_cap(cap)  # one run (several with a cap are refused before)
        notices = [n for run in runs.values() for n in run.notices]
        enqueued = {
            name: RunReport(run.id, None, run.rows, {}, enqueued_only=True)
            for name, run in runs.items()
        }
        return RunReport(
            first.id,
            None,
            first.rows,
            {},
            enqueued_only=True,
            notices=notices,
            parts=tuple(enqueued.items()) if len(runs) > 1 else (),
        )
    pacer = await pacer_for(
        store,
        first.client,
        rate,
        clock,
        limits=options.get("limits", ()),
        at_limit=options.get("at_limit", "wait"),
        tell=first.tell,
    )
    done: list[Run] = []
    metrics = options.get("metrics")
    for name, run in runs.items():
        if metrics is not None:
            endpoint = parts[name].template.get("endpoint", "")
            run.meter = metrics.run(run.id, run.client.name, endpoint)  # as a worker names it
        await _cap(store, run, [r for r in runs.values() if r is not run], cap)
        run.progress.start(run.rows, 0, name if len(runs) > 1 else "")
        await run.work(
            pacer,
            settings=engine_settings(options),
            refresh=options.get("refresh", False),
            max_age=options.get("max_age"),
        )
        done.append(run)
    raw, naming = options.get("raw_values", False), options.get("column_names", "as-is")
    if len(runs) == 1:
        statuses = await first.write(out, output, raw_values=raw, naming=naming)
        return await first.report(statuses, out, rate)
    for run in runs.values():
        run.check_writable()
    merged = [Part(name, run.id, run.client) for name, run in runs.items()]
    # Rows the first run stopped before enqueueing are written pending, from the input.
    rest = None if first.enqueue_complete else source.rows()
    statuses = await write_output(
        store,
        merged,
        out,
        output,
        rest=rest,
        rest_from=first.rows,
        raw_values=raw,
        naming=naming,
    )
    if not statuses.get(RowStatus.PENDING.value) and all(r.stop.kind is None for r in done):
        for run in runs.values():
            await store.runs.complete(run.id)
    reports = {name: await run.report(statuses, out, rate) for name, run in runs.items()}
    return combined_report(reports)


async def _cap(store: Store, run: Run, others: Iterable[Run], cap: int | None) -> None:
    """Cap ``run`` at what the ``others`` of its pass (worked one at a time) left of ``cap``
    (None: none), over all their invocations."""
    left = cap
    for other in others:
        counts = await store.runs.counts(other.id)
        if left is not None and counts is not None:
            left -= counts.spend.units + counts.spend.maybe_billed_twice
    await run.set_cap(None if left is None else max(0, left))


async def _plan(
    parts: Mapping[str, Operation[object]],
    source: Source,
    column: str | Picker,
    options: RunOptions,
) -> RunReport:
    """What the run would fetch: the input read (once, for every dataset), the store asked,
    no call made."""
    found = await plan_pass(
        options.get("db", "bulkfetch.db"),
        list(parts.values()),
        source,
        column=column,
        rate=options.get("rate"),
        limits=options.get("limits", ()),
        max_age=options.get("max_age"),
        refresh=options.get("refresh", False),
        now=SystemClock().time(),
    )
    return RunReport(None, None, found[0].rows, {}, plan=sum_plans(found))
