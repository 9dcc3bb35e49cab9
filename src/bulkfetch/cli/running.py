"""Running a bulk command: signals (a first Ctrl-C drains, a second quits), the progress
display, and the summary at the end. An API's command builds its client and operation and
hands the work to :func:`run_bulk_command`."""

from __future__ import annotations

import argparse
import json
import logging
import signal
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any, TypeVar

import anyio
from rich.console import Console

from bulkfetch import speedups
from bulkfetch.cli import watch
from bulkfetch.cli.exits import ExitCode, exit_code
from bulkfetch.cli.progress import ProgressBar
from bulkfetch.cli.terminal import say, stderr_of
from bulkfetch.engine import StopRequest
from bulkfetch.errors import UsageError
from bulkfetch.jobs import StopKind
from bulkfetch.run import RunOptions, RunReport
from bulkfetch.run.notices import abandoned
from bulkfetch.run.plan import Plan
from bulkfetch.spend import Price
from bulkfetch.untrusted import printable

__all__ = ["Job", "bulk_options", "cap_of", "price_of", "run_bulk_command", "supervised"]

R = TypeVar("R")
Job = Callable[[StopRequest, ProgressBar], Awaitable[R]]
_MOST_UNITS = 2**63 - 1  # the store's integers go no higher: a cap there is none


def price_of(args: argparse.Namespace) -> Price | None:
    """The ``--price`` given (with its ``--currency``), if any; ``--currency`` or
    ``--max-spend`` without one is refused."""
    if args.price is None:
        for needing in ("currency", "max_spend"):
            if getattr(args, needing, None) is not None:
                flag = f"--{needing.replace('_', '-')}"
                raise UsageError(f"{flag} needs --price: what a billed unit costs")
        return None
    return Price(args.price, args.currency)


def cap_of(args: argparse.Namespace, price: Price | None) -> int | None:
    """The run's cap in units: ``--max-calls``, or the units ``--max-spend`` pays for at
    ``--price`` (floor(money / price)), whichever is smaller."""
    cap: int | None = args.max_calls
    if args.max_spend is None or price is None:
        return cap
    bought = min(price.units_within(args.max_spend), _MOST_UNITS)
    if bought < 1:
        raise UsageError(
            f"--max-spend {price.shown(args.max_spend)} pays for no unit at --price"
            f" {price.shown(price.each)}"
        )
    return bought if cap is None else min(cap, bought)


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
        max_calls=cap_of(args, price_of(args)),
        max_age=args.max_age,
        plan=args.plan,
        metrics=getattr(args, "metrics", None),  # served by run_bulk_command
    )


def run_bulk_command(job: Job[RunReport], err: Console, args: argparse.Namespace) -> int:
    """Run a bulk job under signal handling and a progress bar, its metrics served if asked
    (see :mod:`bulkfetch.cli.watch`); print its summary (or, with ``--plan``, its plan: as
    JSON with ``--json``)."""
    if args.json and not args.plan:
        raise UsageError("--json goes with --plan ('bulkfetch status --json' for a run's figures)")
    price = price_of(args)  # a mistake in the money: refused before anything
    cap = cap_of(args, price)
    with watch.serving(args, err) as served:
        args.metrics = served.metrics
        code = _run_and_tell(job, err, args, price, cap)
        if code == ExitCode.INTERRUPTED:
            served.stopped_at_once()
        return code


def _run_and_tell(
    job: Job[RunReport],
    err: Console,
    args: argparse.Namespace,
    price: Price | None,
    cap: int | None,
) -> int:
    with ProgressBar(err, every=args.progress_every, enabled=not args.plan) as bar:
        report = speedups.run(supervised, job, bar)
    if report is None:
        say(err, "bulkfetch: stopped at once; run the same command again to carry on",
            event="stop", level=logging.WARNING, kind="interrupted")  # fmt: skip
        return ExitCode.INTERRUPTED
    if report.plan is not None:
        _print_plan(report.plan, args.json, price)
        return ExitCode.OK
    spending = args.max_spend if cap != args.max_calls else None  # the cap --max-spend's
    _print_summary(report, err, bar.shown, args.db, price=price, max_spend=spending)
    return exit_code(report)


def _print_plan(plan: Plan, as_json: bool, price: Price | None) -> None:
    """The plan, in words or as JSON; with a price, what its units cost."""
    if as_json:
        found: dict[str, Any] = plan.as_json()
        if price is not None:
            found["money"] = {
                "price": f"{price.each:f}",
                "currency": price.currency,
                "cost": f"{price.of(plan.units):f}",
            }
        print(json.dumps(found))
        return
    lines = plan.describe()
    if price is not None:
        at = next((i + 1 for i, line in enumerate(lines) if line.startswith("to fetch:")), 0)
        each = price.shown(price.each)
        lines.insert(at, f"cost: {price.cost(plan.units)} ({plan.units} billable units at {each})")
    print("\n".join(printable(line) for line in lines))


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
                text = f"bulkfetch: {name} again: {abandoned(stop.unstored_calls)}"
                bar.notice(text, warning=True)
                scope.cancel()
                return
            stop.request(StopKind.INTERRUPTED, f"interrupted by {name}")
            text = f"bulkfetch: {name}: finishing the calls in flight (again to quit at once)"
            bar.notice(text, warning=True)


def _print_summary(
    report: RunReport,
    err: Console,
    shown: set[str],
    db: str,
    *,
    price: Price | None = None,
    max_spend: Decimal | None = None,
) -> None:
    """What the run spent (``price``: and what that cost), and how it ended (``max_spend``:
    the money that set its cap, when that did)."""
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
            event="enqueued",
            runs=[part.run_id for _, part in named],
            rows=report.rows,
        )
        return
    parts = ", ".join(f"{count} {status}" for status, count in sorted(report.statuses.items()))
    say(err, f"{report.rows} rows: {parts or 'none'}; output {report.output}", event="summary",
        rows=report.rows, statuses=report.statuses, output=str(report.output))  # fmt: skip
    cap = ""
    if report.max_calls is not None:
        costs = f", {price.cost(report.max_calls)}" if price is not None else ""
        cap = f" (cap: {report.max_calls}{costs})"
    for name, part in named:
        run = f"run {part.run_id}{f' ({name})' if name else ''}"
        which: dict[str, Any] = {"run": part.run_id, "dataset": name or None}
        say(err, f"{run} spent now: {part.spent.describe(price=price)}", event="spent", **which,
            spent=part.spent.as_json())  # fmt: skip
        if part.run_spent is not None:
            say(err, f"{run} so far: {part.run_spent.describe(price=price)}{cap}",
                event="run_spent", **which, spent=part.run_spent.as_json(),
                max_calls=report.max_calls)  # fmt: skip
    for notice in report.notices:
        if notice not in shown:
            say(err, f"note: {notice}", event="notice")
    if report.stop_kind is not None:
        say(err, _stopped(report.stop_kind, report, price, max_spend), event="stop",
            level=logging.WARNING, kind=report.stop_kind, reason=report.stop_reason)  # fmt: skip
    elif exit_code(report) == ExitCode.FAILED:
        say(err, "some lookups failed after retries; run the same command again to retry them.",
            event="failed", level=logging.WARNING)  # fmt: skip


def _stopped(kind: str, report: RunReport, price: Price | None, max_spend: Decimal | None) -> str:
    """What the summary says of the run's stop (``kind``), and what to do about it."""
    advice = _STOP_ADVICE.get(kind, _STOPPED)
    cap, money = report.max_calls, ""
    if price is not None and cap is not None:
        money = f" ({price.cost(cap)})"
        if kind == StopKind.CAP and max_spend is not None:  # the money's cap
            advice = _SPEND_CAP
            each = price.shown(price.each)
            money = f" ({price.cost(cap)}: --max-spend {price.shown(max_spend)} at {each} each)"
    return advice.format(reason=report.stop_reason, cap=cap, money=money)


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
    StopKind.CAP: "stopped: the run's cap of {cap} billed lookups{money} is reached. Run the same"
    " command with a higher --max-calls to carry on (nothing is billed twice).",
    StopKind.WINDOW: "stopped: {reason}. Run the same command again then to carry on.",
}
_SPEND_CAP = (
    "stopped: the run's cap of {cap} billed lookups{money} is reached. Run the same command"
    " with a higher --max-spend to carry on (nothing is billed twice)."
)
_STOPPED = "stopped: {reason}; run the same command again to carry on."


# -- other commands -----------------------------------------------------------------------
