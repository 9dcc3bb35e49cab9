"""Working on a shared store: a worker that joins its runs, and a run's output written on
request.

``bulkfetch work --db postgresql://...`` joins any number of worker processes, on any hosts,
to the runs in a store. A worker rebuilds each run's adapter from the spec the run keeps
(with the keys of its own environment), leases jobs, and paces its calls through the key's
shared budget. It leaves when no run has anything left to do: every run enqueued to the end
and none of its jobs pending or leased. ``bulkfetch export`` writes a run's output from the
store alone, wherever the run was worked.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import anyio

from bulkfetch.adapter import Client
from bulkfetch.clock import Clock, SystemClock
from bulkfetch.engine import EngineSettings, StopRequest
from bulkfetch.errors import UsageError
from bulkfetch.metrics import Metrics
from bulkfetch.pacing import Pacer
from bulkfetch.pacing.limits import Limit
from bulkfetch.pacing.windows import AtLimit
from bulkfetch.plugins import rebuild
from bulkfetch.run.output import ColumnNaming, OutputFormat, Part, write_output
from bulkfetch.run.pace import pacer_for
from bulkfetch.run.report import Progress, WorkReport
from bulkfetch.run.run import Run
from bulkfetch.store import Store
from bulkfetch.store.records import RunDetail

__all__ = ["export_run", "work"]


async def work(
    store: Store,
    environ: Mapping[str, str],
    *,
    rate: float | None = None,
    limits: Sequence[Limit] = (),
    at_limit: AtLimit = "wait",
    settings: EngineSettings | None = None,
    stop: StopRequest | None = None,
    progress: Progress | None = None,
    clock: Clock | None = None,
    poll_seconds: float = 1.0,
    max_calls: int | None = None,
    rebuild_with: Callable[[str, Mapping[str, Any], Mapping[str, str] | None], Client] = rebuild,
    metrics: Metrics | None = None,
) -> WorkReport:
    """Work every run of the store until none has anything left, or a stop. ``max_calls``:
    the cap on billed units each run it works may spend in all (else the cap its command
    set, if any). ``rate``, ``limits``, ``at_limit``: each key's pace and allowances, as
    :func:`~bulkfetch.run.stream.fetch_many` takes them. ``rebuild_with``: how a run's
    adapter is made from the spec it keeps (``bulkfetch work`` checks a described API's
    against the descriptions it was given). ``metrics``: what each run spends, counted there
    too (see :mod:`bulkfetch.metrics`)."""
    clock = clock or SystemClock()
    stop = stop or StopRequest()
    report = WorkReport()
    adapters: dict[str, Client] = {}
    pacers: dict[str, Pacer] = {}
    prepared: set[int] = set()
    try:
        while not stop.requested:
            run_ids = await store.runs.with_work()
            if not run_ids:
                break
            calls_before = report.spent.requests
            for run_id in run_ids:
                detail = await store.runs.detail(run_id)
                if detail is None or stop.requested:
                    continue
                adapter = adapters.get(detail.adapter)
                if adapter is None:
                    adapter = adapters[detail.adapter] = rebuild_with(
                        detail.api, json.loads(detail.adapter), environ
                    )
                pacer = pacers.get(adapter.rate_key)
                if pacer is None:
                    pacer = pacers[adapter.rate_key] = await pacer_for(
                        store,
                        adapter,
                        rate,
                        clock,
                        limits=limits,
                        at_limit=at_limit,
                        tell=None if progress is None else progress.notice,
                    )
                run = Run(store, run_id, adapter, clock=clock, progress=progress, stop=stop)
                if metrics is not None:
                    run.meter = metrics.run(run_id, detail.api, _endpoint(detail))
                if progress is not None:  # the run's rows; its rows settled come at its first
                    progress.start(detail.rows_enqueued, 0, f"run {run_id}")
                if max_calls is not None and run_id not in prepared:
                    await run.set_cap(max_calls)
                # Failed jobs get their fresh attempts once a worker.
                await run.work(pacer, settings=settings, prepare=run_id not in prepared)
                prepared.add(run_id)
                report.spent.add_spend(run.spent)
                if run.spent.requests:
                    report.runs.append(run_id)
            if report.spent.requests == calls_before and not stop.requested:
                # Only runs still being enqueued elsewhere: wait for their rows.
                with anyio.move_on_after(poll_seconds):
                    await stop.event.wait()
    finally:
        with anyio.CancelScope(shield=True):
            for client in adapters.values():
                await client.close()
    report.stop_kind, report.stop_reason = stop.kind, stop.reason
    report.runs = sorted(set(report.runs))
    return report


async def export_run(
    store: Store,
    run_id: int | Sequence[int],
    out: Path,
    *,
    output_format: OutputFormat = "csv",
    raw_values: bool = False,
    naming: ColumnNaming = "as-is",
) -> dict[str, int]:
    """Write run ``run_id``'s output from the store alone (its rows and their answers), on
    any host, with or without its input file; several runs of one pass (``[1, 2]``), side
    by side as their command wrote them (in the order it named them: by id). The count of
    each row status. ``raw_values``: CSV and TSV cells from the API as they are (see
    :mod:`bulkfetch.io.cells`); ``naming``: the added columns' names (see
    :mod:`bulkfetch.io.names`)."""
    # A pass's runs in its order (the order its command named them in): so named again.
    ids = [run_id] if isinstance(run_id, int) else sorted(set(run_id))
    runs = [await Run.attach(store, one, None) for one in ids]
    if len(runs) == 1:
        return await runs[0].write(out, output_format, raw_values=raw_values, naming=naming)
    await _one_pass(store, ids)
    for run in runs:
        run.check_writable()
        if run.client.expands_rows:
            raise UsageError(
                f"run {run.id}'s answers may fill several lines a row (CIP codes): export it"
                " on its own"
            )
    if any(run.rows > runs[0].rows for run in runs[1:]):
        raise UsageError(
            f"run {runs[0].id} holds fewer of the input's rows than the others: run its"
            " command again (answers already fetched cost nothing) to enqueue the rest"
        )
    parts = [Part(None, run.id, run.client) for run in runs]
    return await write_output(
        store, parts, out, output_format, raw_values=raw_values, naming=naming
    )


async def _one_pass(store: Store, ids: Sequence[int]) -> None:
    """Refuse runs side by side that are not over one input (its rows one for one)."""
    inputs = {}
    for one in ids:
        detail = await store.runs.detail(one)
        inputs[one] = None if detail is None else (detail.input, detail.header)
    first = inputs[ids[0]]
    others = [str(one) for one in ids[1:] if first is None or inputs[one] != first]
    if others:
        raise UsageError(
            f"run {ids[0]} and run {', '.join(others)} are not over the same input: give"
            " --run the runs of one pass (one command's datasets, as it named them)"
        )


def _endpoint(detail: RunDetail) -> str:
    """What a run's lookups ask for, as its metrics name it."""
    return str(json.loads(detail.options or "{}").get("endpoint", ""))
