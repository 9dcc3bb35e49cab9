"""The ``bulkfetch`` command: thin; parses arguments, calls the library, shows progress."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import anyio
from rich.console import Console

from bulkfetch import __version__
from bulkfetch.apis.crystalroof import AREA_TYPES, DEFAULT_BASE_URL, OCCUPATION, CrystalRoof, enrich
from bulkfetch.bulk import ExitCode, RunReport
from bulkfetch.emulator import EmulatorConfig, serve
from bulkfetch.errors import BulkfetchError, StoreError, UsageError
from bulkfetch.progress import ProgressBar
from bulkfetch.scheduler import StopRequest
from bulkfetch.store import StopKind, Store

__all__ = ["main"]

STORE_ERROR = 5  # not among the run outcomes: the store itself could not be used


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be positive")
    return value


def _fraction(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError("must be between 0 and 1")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bulkfetch",
        description="Bulk lookups against rate-limited, paid HTTP APIs.",
    )
    parser.add_argument("--version", action="version", version=f"bulkfetch {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    enrich_cmd = commands.add_parser(
        "enrich", help="add CrystalRoof columns to a CSV file of UK locations"
    )
    enrich_cmd.add_argument("input", type=Path, help="CSV file with a header row")
    enrich_cmd.add_argument("--column", required=True, help="the column holding the locations")
    enrich_cmd.add_argument("--out", required=True, type=Path, help="where to write the output")
    enrich_cmd.add_argument("--area-type", default="oa", choices=AREA_TYPES)
    enrich_cmd.add_argument("--dataset", default=OCCUPATION, help="<category>/<method>")
    enrich_cmd.add_argument("--db", default="bulkfetch.db", help="the job store (SQLite file)")
    enrich_cmd.add_argument("--rate", type=_positive_float, help="calls a second (default: none)")
    enrich_cmd.add_argument("--concurrency", type=_positive_int, default=16)
    enrich_cmd.add_argument(
        "--max-attempts", type=_positive_int, default=5, help="tries a lookup gets in one run"
    )
    enrich_cmd.add_argument("--base-url", default=None, help="the API's base URL")
    enrich_cmd.add_argument("--refresh", action="store_true", help="fetch cached lookups again")
    enrich_cmd.add_argument(
        "--format", dest="output_format", choices=("csv", "jsonl"), default="csv"
    )
    enrich_cmd.add_argument("--encoding", default="utf-8-sig", help="the input's text encoding")
    enrich_cmd.add_argument(
        "--api-key", help="the CrystalRoof key (better: the CRYSTALROOF_API_KEY variable)"
    )
    enrich_cmd.add_argument("--timeout", type=_positive_float, default=30.0, help="seconds a call")

    status_cmd = commands.add_parser("status", help="what a store holds and how its last run ended")
    status_cmd.add_argument("--db", default="bulkfetch.db")
    status_cmd.add_argument("--run", type=int, help="a run id (default: the latest)")

    emulate = commands.add_parser("emulate", help="run the local API emulator")
    emulate.add_argument("--host", default="127.0.0.1")
    emulate.add_argument("--port", type=int, default=8710, help="0 picks a free port")
    emulate.add_argument("--keys", help="comma-separated valid keys (default: any key)")
    emulate.add_argument("--rate-limit", type=_positive_int, help="calls per key per second")
    emulate.add_argument("--quota", type=int, help="billed calls per key, then 402")
    emulate.add_argument("--not-found-rate", type=_fraction, default=0.03)
    for fault in ("fail", "drop", "slow", "truncate", "throttle"):
        emulate.add_argument(f"--{fault}-rate", type=_fraction, default=0.0)
    emulate.add_argument("--slow-seconds", type=float, default=30.0)
    emulate.add_argument("--latency", default="0,0", help="MIN,MAX seconds added to answers")
    emulate.add_argument("--seed", type=int, default=0)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the console script."""
    args = _parser().parse_args(argv)
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    try:
        if args.command == "enrich":
            code = _enrich(args, err)
        elif args.command == "status":
            if "://" not in args.db and not Path(args.db).exists():
                raise UsageError(f"no store at {args.db}")
            code = anyio.run(_status, args)
        else:
            code = _emulate(args)
    except BulkfetchError as exc:
        code = _report_error(exc, err)
    except BaseExceptionGroup as group:
        # Task groups wrap what their tasks raise; ours raise one error at a time.
        first = _first_error(group)
        if first is None:
            raise
        code = _report_error(first, err)
    sys.exit(code)


def _first_error(group: BaseExceptionGroup[BaseException]) -> BulkfetchError | None:
    for exc in group.exceptions:
        if isinstance(exc, BulkfetchError):
            return exc
        if isinstance(exc, BaseExceptionGroup):
            found = _first_error(exc)
            if found is not None:
                return found
    return None


def _report_error(exc: BulkfetchError, err: Console) -> int:
    if isinstance(exc, StoreError):
        err.print(f"bulkfetch: store error: {exc}", markup=False)
        return STORE_ERROR
    err.print(f"bulkfetch: error: {exc}", markup=False)
    return ExitCode.USAGE


def _enrich(args: argparse.Namespace, err: Console) -> int:
    key = args.api_key or os.environ.get("CRYSTALROOF_API_KEY")
    if not key:
        err.print("bulkfetch: error: no API key: set CRYSTALROOF_API_KEY or pass --api-key")
        return ExitCode.USAGE
    report = anyio.run(_run_enrich, args, key, err)
    if report is None:
        err.print("bulkfetch: stopped at once; run the same command again to carry on")
        return ExitCode.INTERRUPTED
    _print_summary(report, err)
    return report.exit_code


async def _run_enrich(args: argparse.Namespace, key: str, err: Console) -> RunReport | None:
    """The run's report, or None when a second signal cut it short."""
    stop = StopRequest()
    report = None
    async with anyio.create_task_group() as tg:
        tg.start_soon(_watch_signals, stop, tg.cancel_scope)
        async with CrystalRoof(
            key, base_url=args.base_url or DEFAULT_BASE_URL, timeout=args.timeout
        ) as api:
            with ProgressBar(err) as bar:
                report = await enrich(
                    api,
                    args.input,
                    column=args.column,
                    out=args.out,
                    db=args.db,
                    dataset=args.dataset,
                    area_type=args.area_type,
                    output_format=args.output_format,
                    encoding=args.encoding,
                    rate=args.rate,
                    concurrency=args.concurrency,
                    max_attempts=args.max_attempts,
                    refresh=args.refresh,
                    progress=bar,
                    stop=stop,
                )
        tg.cancel_scope.cancel()
    return report


async def _watch_signals(stop: StopRequest, scope: anyio.CancelScope) -> None:
    """First Ctrl-C or SIGTERM: stop sending, let calls in flight land. Second: stop now."""
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for signum in signals:
            if stop.requested:
                scope.cancel()
                return
            name = signal.Signals(signum).name
            stop.request(StopKind.INTERRUPTED, f"interrupted by {name}")
            print(
                f"bulkfetch: {name}: finishing the calls in flight (again to quit at once)",
                file=sys.stderr,
                flush=True,
            )


def _print_summary(report: RunReport, err: Console) -> None:
    parts = ", ".join(f"{count} {status}" for status, count in sorted(report.statuses.items()))
    err.print(
        f"{report.rows} rows: {parts or 'none'}; {report.calls} calls; output {report.output}",
        markup=False,
    )
    if report.reclaimed:
        err.print(
            f"resumed: {report.reclaimed} lookups were in flight when an earlier process died;"
            " they were fetched again and may have been billed twice",
            markup=False,
        )
    if report.stop_kind == StopKind.QUOTA:
        err.print(
            f"stopped: the package of calls is used up ({report.stop_reason}). Add calls to the"
            " package, then run the same command again to carry on.",
            markup=False,
        )
    elif report.stop_kind == StopKind.AUTH:
        err.print(
            f"stopped: the API refused the key ({report.stop_reason}). Check the key, then run"
            " the same command again to carry on.",
            markup=False,
        )
    elif report.stop_kind is not None:
        err.print(f"stopped: {report.stop_reason}; run the same command again to carry on.")
    elif report.exit_code == ExitCode.FAILED:
        err.print("some lookups failed after retries; run the same command again to retry them.")


async def _status(args: argparse.Namespace) -> int:
    async with await Store.open(args.db, exclusive=False) as store:
        counts = await store.counts(args.run)
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
    print(f"  possibly billed twice after a crash: {counts.reclaimed}")
    stopped = (
        f"{counts.stop_kind}: {counts.stop_reason}" if counts.stop_kind else "it did not stop early"
    )
    print(f"  last run stopped: {stopped}")
    return ExitCode.OK


def _emulate(args: argparse.Namespace) -> int:
    low, _, high = args.latency.partition(",")
    config = EmulatorConfig(
        keys=frozenset(args.keys.split(",")) if args.keys else None,
        rate_limit=args.rate_limit,
        quota=args.quota,
        not_found_rate=args.not_found_rate,
        fail_rate=args.fail_rate,
        drop_rate=args.drop_rate,
        slow_rate=args.slow_rate,
        slow_seconds=args.slow_seconds,
        truncate_rate=args.truncate_rate,
        throttle_rate=args.throttle_rate,
        latency_min=float(low or 0),
        latency_max=float(high or low or 0),
        seed=args.seed,
    )

    def ready(url: str) -> None:
        print(f"emulator listening on {url}", flush=True)

    async def run() -> None:
        async with anyio.create_task_group() as tg:

            async def until_signal() -> None:
                with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
                    async for _ in signals:
                        tg.cancel_scope.cancel()

            tg.start_soon(until_signal)
            await serve(config, host=args.host, port=args.port, on_ready=ready)

    anyio.run(run)
    return ExitCode.OK
