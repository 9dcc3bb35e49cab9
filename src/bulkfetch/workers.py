"""Working on a shared store: workers that join its runs, and output written on request.

``bulkfetch work --db postgresql://...`` joins any number of worker processes, on any hosts,
to the runs in a store. A worker rebuilds each run's adapter from the spec the run keeps
(with the keys of its own environment), leases jobs, and paces its calls through the key's
shared budget. It leaves when no run has anything left to do: every run enqueued to the end
and none of its jobs pending or leased. ``bulkfetch export`` writes a run's output from the
store and its input file, wherever the run was worked.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import anyio

from bulkfetch.bulk import (
    ExitCode,
    OutputFormat,
    Progress,
    pacer_for,
    stop_exit_code,
    write_output,
)
from bulkfetch.clock import Clock, SystemClock
from bulkfetch.engine import EngineSettings, StopRequest, run_jobs
from bulkfetch.errors import UsageError
from bulkfetch.jobs import Outcome
from bulkfetch.pacing import Pacer
from bulkfetch.plugins import Rebuilt, plugin
from bulkfetch.store import Store

__all__ = ["WorkReport", "export_run", "work"]


@dataclass(slots=True)
class WorkReport:
    """What a worker did before it left."""

    runs: list[int] = field(default_factory=list)  # the runs it sent calls for
    calls: int = 0
    reclaimed: int = 0  # jobs of dead workers it took back: possibly billed twice
    stop_kind: str | None = None
    stop_reason: str | None = None

    @property
    def exit_code(self) -> int:
        if self.stop_kind is not None:
            return stop_exit_code(self.stop_kind)
        return ExitCode.OK


async def work(
    store: Store,
    environ: Mapping[str, str],
    *,
    rate: float | None = None,
    settings: EngineSettings | None = None,
    stop: StopRequest | None = None,
    progress: Progress | None = None,
    clock: Clock | None = None,
    poll_seconds: float = 1.0,
) -> WorkReport:
    """Work every run of the store until none has anything left, or a stop."""
    clock = clock or SystemClock()
    stop = stop or StopRequest()
    report = WorkReport()
    adapters: dict[str, Rebuilt] = {}
    pacers: dict[str, Pacer] = {}
    prepared: set[int] = set()

    def on_outcomes(settled: int, outcomes: Sequence[Outcome]) -> None:
        report.calls += sum(outcome.called for outcome in outcomes)
        if progress is not None:
            progress.advance(settled, outcomes)

    try:
        while not stop.requested:
            run_ids = await store.runs.with_work()
            if not run_ids:
                break
            calls_before = report.calls
            for run_id in run_ids:
                detail = await store.runs.detail(run_id)
                if detail is None or stop.requested:
                    continue
                adapter = adapters.get(detail.adapter)
                if adapter is None:
                    adapter = adapters[detail.adapter] = plugin(detail.api).rebuild(
                        json.loads(detail.adapter), environ
                    )
                pacer = pacers.get(adapter.rate_key)
                if pacer is None:
                    pacer = pacers[adapter.rate_key] = await pacer_for(store, adapter, rate, clock)
                if run_id not in prepared:  # failed jobs get their fresh attempts once
                    report.reclaimed += await store.runs.prepare(
                        run_id, refresh=False, now=clock.time()
                    )
                    prepared.add(run_id)
                before = report.calls
                await run_jobs(
                    store,
                    run_id,
                    adapter,
                    pacer,
                    settings=settings,
                    stop=stop,
                    clock=clock,
                    on_outcomes=on_outcomes,
                )
                if report.calls > before:
                    report.runs.append(run_id)
                if stop.kind is not None:
                    await store.runs.record_stop(run_id, stop.kind, stop.reason or stop.kind)
            if report.calls == calls_before and not stop.requested:
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
    run_id: int,
    out: Path,
    *,
    output_format: OutputFormat = "csv",
) -> dict[str, int]:
    """Write run ``run_id``'s output from the store alone (its rows and their answers), on
    any host, with or without its input file. The count of each row status."""
    detail = await store.runs.detail(run_id)
    if detail is None:
        raise UsageError(f"the store holds no run {run_id} ('bulkfetch status' lists them)")
    if not detail.enqueue_complete:
        raise UsageError(
            f"run {run_id} stopped while its input was being read: run its command again to"
            " read the rest, then export it"
        )
    answers = plugin(detail.api).rebuild(json.loads(detail.adapter), None)
    return await write_output(store, run_id, answers, out, output_format)
