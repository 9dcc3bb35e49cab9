"""``bulkfetch work``: one more worker on every run of a shared (PostgreSQL) store."""

from __future__ import annotations

import argparse
import os
from logging import WARNING
from pathlib import Path

from rich.console import Console

from bulkfetch import speedups
from bulkfetch.cli import options, watch
from bulkfetch.cli.exits import ExitCode, exit_code
from bulkfetch.cli.helptext import examples
from bulkfetch.cli.progress import ProgressBar
from bulkfetch.cli.running import supervised
from bulkfetch.cli.terminal import say
from bulkfetch.describe import load_description, trusting
from bulkfetch.engine import EngineSettings, StopRequest
from bulkfetch.errors import UsageError
from bulkfetch.jobs import StopKind
from bulkfetch.run import WorkReport, work
from bulkfetch.store import Store

__all__ = ["add"]


def add(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    command = commands.add_parser(
        "work",
        parents=[options.calls()],
        help="join the runs of a shared (PostgreSQL) store as one more worker",
        epilog=examples(
            "bulkfetch work --db postgresql://user@host/db    # on each machine of a fleet"
        ),
    )
    command.add_argument(
        "--api",
        dest="apis",
        action="append",
        type=Path,
        help="a description (.toml) whose runs this worker may work; again for several. A"
        " run of a described API not given here is refused: its description names the"
        " variables whose keys it sends",
    )
    command.set_defaults(handler=_work)


def _work(args: argparse.Namespace, err: Console) -> int:
    trusted = [load_description(path) for path in args.apis or []]  # mistakes: exit 2 now

    async def job(stop: StopRequest, bar: ProgressBar) -> WorkReport:
        settings = EngineSettings(
            concurrency=args.concurrency,
            max_attempts=args.max_attempts,
            lease_seconds=args.lease_seconds,
        )
        async with await Store.open(args.db) as store:
            if not store.shared:
                raise UsageError(
                    "'bulkfetch work' joins a shared store: give --db postgresql://user@host/db"
                    " (a SQLite store is worked by the command that made its run)"
                )
            return await work(
                store,
                os.environ,
                rate=args.rate,
                limits=args.limits,
                at_limit=args.at_limit,
                settings=settings,
                stop=stop,
                progress=bar,
                max_calls=args.max_calls,
                rebuild_with=trusting(trusted),
                metrics=metrics,
            )

    with watch.serving(args, err) as served:  # serving until what it did is said
        metrics = served.metrics
        with ProgressBar(err, every=args.progress_every) as bar:
            report = speedups.run(supervised, job, bar)
        if report is None:
            served.stopped_at_once()
        return _said(report, err)


def _said(report: WorkReport | None, err: Console) -> int:
    """What the worker did, said; its exit code."""
    if report is None:
        say(err, "bulkfetch: stopped at once", event="stop", level=WARNING, kind="interrupted")
        return ExitCode.INTERRUPTED
    runs = ", ".join(map(str, report.runs)) or "none"
    say(err, f"worked runs: {runs}; spent: {report.spent.describe()}", event="spent",
        runs=report.runs, spent=report.spent.as_json())  # fmt: skip
    if report.stop_kind == StopKind.CAP:
        text = (
            "stopped: a run's cap on billed lookups is reached; start the workers with a higher"
            " --max-calls to carry on (nothing is billed twice)."
        )
    elif report.stop_kind == StopKind.WINDOW:
        text = f"stopped: {report.stop_reason}. Start the workers again then to carry on."
    else:
        text = f"stopped: {report.stop_reason}; start the workers again to carry on."
    if report.stop_kind is not None:
        say(err, text, event="stop", level=WARNING, kind=report.stop_kind,
            reason=report.stop_reason)  # fmt: skip
    return exit_code(report)
