"""Running a bulk command: signals (a first Ctrl-C drains, a second quits), the progress
display, and the summary at the end. An API's command builds its client and operation and
hands the work to :func:`run_bulk_command`."""

from __future__ import annotations

import argparse
import json
import signal
from collections.abc import Awaitable, Callable
from typing import TypeVar

import anyio
from rich.console import Console

from bulkfetch import speedups
from bulkfetch.cli.exits import ExitCode, exit_code
from bulkfetch.cli.progress import ProgressBar
from bulkfetch.cli.terminal import say, stderr_of
from bulkfetch.engine import StopRequest
from bulkfetch.errors import UsageError
from bulkfetch.jobs import StopKind
from bulkfetch.run import RunOptions, RunReport
from bulkfetch.run.run import abandoned
from bulkfetch.untrusted import printable

__all__ = ["Job", "bulk_options", "run_bulk_command", "supervised"]

R = TypeVar("R")
Job = Callable[[StopRequest, ProgressBar], Awaitable[R]]


def bulk_options(args: argparse.Namespace, stop: StopRequest, bar: ProgressBar) -> RunOptions:
    """The library's options of a bulk run, from the shared command-line options."""
    if not args.work and "://" not in args.db:
        raise UsageError(
            "--no-work leaves the calls to 'bulkfetch work' processes, which need a shared "
            "store: give --db postgresql://user@host/database"
        )
    return RunOptions(
        db=args.db,
        output_format=args.output_format,
        raw_values=args.raw_values,
        column_names=args.column_names,
        input_format=args.input_format,
        delimiter=args.delimiter,
        sheet=args.sheet,
        encoding=args.encoding,
        encoding_errors=args.encoding_errors,
        rate=args.rate,
        limits=args.limits,
        at_limit=args.at_limit,
        concurrency=args.concurrency,
        max_attempts=args.max_attempts,
        lease_seconds=args.lease_seconds,
        refresh=args.refresh,
        progress=bar,
        stop=stop,
        work=args.work,
        max_calls=args.max_calls,
        max_age=args.max_age,
        plan=args.plan,
    )


def run_bulk_command(job: Job[RunReport], err: Console, args: argparse.Namespace) -> int:
    """Run a bulk job under signal handling and a progress bar; print its summary (or, with
    ``--plan``, its plan: as JSON with ``--json``)."""
    if args.json and not args.plan:
        raise UsageError("--json goes with --plan ('bulkfetch status --json' for a run's figures)")
    with ProgressBar(err, every=args.progress_every, enabled=not args.plan) as bar:
        report = speedups.run(supervised, job, bar)
    if report is None:
        say(err, "bulkfetch: stopped at once; run the same command again to carry on")
        return ExitCode.INTERRUPTED
    if report.plan is not None:
        if args.json:
            print(json.dumps(report.plan.as_json()))
        else:
            print("\n".join(printable(line) for line in report.plan.describe()))
        return ExitCode.OK
    _print_summary(report, err, bar.shown, args.db)
    return exit_code(report)


async def supervised(job: Job[R], bar: ProgressBar) -> R | None:
    """The job's report, or None when a second signal cut it short. Off a terminal, the
    bar prints a line of progress every few seconds meanwhile. If the reader of standard
    error goes away, the job stops as on a first signal."""
    stop = StopRequest()
    stderr = stderr_of(bar.console)
    if stderr is not None:
        stderr.when_gone(lambda: stop.request(StopKind.INTERRUPTED, "standard error was closed"))
    report = None
    async with anyio.create_task_group() as tg:
        tg.start_soon(_watch_signals, stop, tg.cancel_scope, bar)
        tg.start_soon(bar.heartbeat)
        report = await job(stop, bar)
        tg.cancel_scope.cancel()
    return report


async def _watch_signals(stop: StopRequest, scope: anyio.CancelScope, bar: ProgressBar) -> None:
    """First Ctrl-C or SIGTERM: stop sending, let calls in flight land. Second: stop now,
    saying what that abandons."""
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for signum in signals:
            name = signal.Signals(signum).name
            if stop.requested:
                bar.notice(f"bulkfetch: {name} again: {abandoned(stop.unstored_calls)}")
                scope.cancel()
                return
            stop.request(StopKind.INTERRUPTED, f"interrupted by {name}")
            bar.notice(f"bulkfetch: {name}: finishing the calls in flight (again to quit at once)")


def _print_summary(report: RunReport, err: Console, shown: set[str], db: str) -> None:
    from bulkfetch.store import shown_store  # the run loaded it: no cost at start-up

    named = report.parts or (("", report),)
    if report.enqueued_only:
        where = shown_store(db)
        runs = ", ".join(f"{part.run_id}{f' ({name})' if name else ''}" for name, part in named)
        say(
            err,
            f"run{'s' if len(named) > 1 else ''} {runs}: {report.rows} rows enqueued. Start"
            f" workers with 'bulkfetch work --db {where}'; write the output with 'bulkfetch"
            f" export --db {where} --run {','.join(str(part.run_id) for _, part in named)}"
            " --out FILE'.",
        )
        return
    parts = ", ".join(f"{count} {status}" for status, count in sorted(report.statuses.items()))
    say(err, f"{report.rows} rows: {parts or 'none'}; output {report.output}")
    cap = f" (cap: {report.max_calls})" if report.max_calls is not None else ""
    for name, part in named:
        run = f"run {part.run_id}{f' ({name})' if name else ''}"
        say(err, f"{run} spent now: {part.spent.describe()}")
        if part.run_spent is not None:
            say(err, f"{run} so far: {part.run_spent.describe()}{cap}")
    for notice in report.notices:
        if notice not in shown:
            say(err, f"note: {notice}")
    if report.stop_kind is not None:
        advice = _STOP_ADVICE.get(report.stop_kind, _STOPPED)
        say(err, advice.format(reason=report.stop_reason, cap=report.max_calls))
    elif exit_code(report) == ExitCode.FAILED:
        say(err, "some lookups failed after retries; run the same command again to retry them.")


# What the summary says of each stop, and what to do about it.
_STOP_ADVICE = {
    StopKind.QUOTA: "stopped: the package of calls is used up ({reason}). Add calls to the"
    " package, then run the same command again to carry on.",
    StopKind.AUTH: "stopped: the API refused the key ({reason}). Check the key, then run the"
    " same command again to carry on.",
    StopKind.UNREACHABLE: "stopped: {reason}. Nothing was billed for those lookups; check the"
    " address (--base-url) and the network, then run the same command again.",
    StopKind.REDIRECTED: "stopped: {reason}. Nothing was taken from those answers; give the"
    " API's own address (--base-url), then run the same command again.",
    StopKind.CAP: "stopped: the run's cap of {cap} billed lookups is reached. Run the same"
    " command with a higher --max-calls to carry on (nothing is billed twice).",
    StopKind.WINDOW: "stopped: {reason}. Run the same command again then to carry on.",
}
_STOPPED = "stopped: {reason}; run the same command again to carry on."


# -- other commands -----------------------------------------------------------------------
