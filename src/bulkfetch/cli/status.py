"""``bulkfetch status`` and ``bulkfetch export``: what a store holds, and a run's output
written from it."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path

import anyio
from rich.console import Console

from bulkfetch.cli import options
from bulkfetch.cli.exits import ExitCode
from bulkfetch.errors import UsageError
from bulkfetch.io.files import check_output
from bulkfetch.io.sinks import STDOUT, output_format
from bulkfetch.jobs import RowStatus
from bulkfetch.run import export_run
from bulkfetch.store import Store

__all__ = ["add"]


def add(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    export = commands.add_parser(
        "export", parents=[options.output()], help="write a run's output from the store"
    )
    export.add_argument("--db", required=True, help="the job store")
    export.add_argument("--run", required=True, type=int, help="the run id ('status' shows it)")
    export.set_defaults(handler=_export)

    status = commands.add_parser("status", help="what a store holds and how its last run ended")
    status.add_argument("--db", default="bulkfetch.db")
    status.add_argument("--run", type=int, help="a run id (default: the latest)")
    status.set_defaults(handler=_status)


def _export(args: argparse.Namespace, err: Console) -> int:
    _check_store_exists(args.db)
    if args.out != STDOUT:
        check_output(args.out, not_to={} if "://" in args.db else {"the store": Path(args.db)})
    output = output_format(args.out, args.output_format)

    async def write() -> dict[str, int]:
        async with await Store.open(args.db, exclusive=False) as store:
            return await export_run(store, args.run, args.out, output_format=output)

    statuses = anyio.run(write)
    parts = ", ".join(f"{count} {status}" for status, count in sorted(statuses.items()))
    err.print(f"{sum(statuses.values())} rows: {parts or 'none'}; output {args.out}", markup=False)
    pending = statuses.get(RowStatus.PENDING.value, 0) + statuses.get(RowStatus.FAILED.value, 0)
    return ExitCode.FAILED if pending else ExitCode.OK


def _check_store_exists(db: str) -> None:
    """Commands that read a store refuse one that is not there (rather than make it)."""
    if "://" not in db and not Path(db).exists():
        raise UsageError(f"no store at {db}")


def _status(args: argparse.Namespace, err: Console) -> int:
    _check_store_exists(args.db)
    return anyio.run(_print_status, args)


async def _print_status(args: argparse.Namespace) -> int:
    async with await Store.open(args.db, exclusive=False) as store:
        counts = await store.runs.counts(args.run)
    if counts is None:
        print("the store holds no runs")
        return ExitCode.OK
    when = datetime.fromtimestamp(counts.updated_at, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    print(f"run {counts.run_id}: {counts.description} (last worked on {when})")
    print(f"  rows: {counts.rows} ({counts.invalid_rows} invalid input, no call)")
    print("  lookups by state:")
    for state, count in sorted(counts.jobs_by_state.items()):
        print(f"    {state:<10} {count}")
    print(f"  calls made: {counts.calls}", end="")
    print(f" ({counts.rate_limited} answered 429, {counts.retries} retried)")
    print(f"  connection failures (not calls, not billed): {counts.connect_failures}")
    print(f"  possibly billed twice after a crash: {counts.reclaimed}")
    stopped = (
        f"{counts.stop_kind}: {counts.stop_reason}" if counts.stop_kind else "it did not stop early"
    )
    print(f"  last run stopped: {stopped}")
    return ExitCode.OK
