"""The ``bulkfetch`` command: thin; parses arguments, calls the library, shows progress."""

from __future__ import annotations

import argparse
import dataclasses
import os
import signal
import sys
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import anyio
from rich.console import Console
from rich.table import Table

from bulkfetch import __version__
from bulkfetch.apis import CRYSTALROOF_KEY, LMI_CUSTOMER_KEY, LMI_PLATFORM_KEY
from bulkfetch.apis.crystalroof import AREA_TYPES, DEFAULT_BASE_URL, OCCUPATION, CrystalRoof, enrich
from bulkfetch.apis.labormarket import (
    REGION_TYPES,
    LaborMarket,
    WireNames,
    known_regions,
    labor_market,
)
from bulkfetch.bulk import BulkOptions, ExitCode, RunReport
from bulkfetch.emulator import EmulatorConfig, serve
from bulkfetch.engine import EngineSettings, StopRequest
from bulkfetch.errors import BulkfetchError, StoreBusyError, StoreError, UsageError
from bulkfetch.jobs import RowStatus, StopKind
from bulkfetch.progress import ProgressBar
from bulkfetch.sinks import check_output
from bulkfetch.store import Store
from bulkfetch.workers import WorkReport, export_run, work

__all__ = ["main"]

# Wire names the Labor Market docs leave open: option -> WireNames field.
_WIRE_OPTIONS = {
    "region_field": "the JSON name of the region code",
    "msa_fallback_field": "the JSON name of the MSA-to-state fallback flag",
    "customer_key_header": "the header that carries the end-customer key",
    "cip_attribution_field": "the occupation field naming the CIP codes it matched",
}

R = TypeVar("R")
Job = Callable[[StopRequest, ProgressBar], Awaitable[R]]


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


def _run_options() -> argparse.ArgumentParser:
    """Options every bulk command shares: the store, the pace, the output."""
    shared = argparse.ArgumentParser(add_help=False)
    shared.add_argument("input", type=Path, help="CSV file with a header row")
    shared.add_argument("--column", required=True, help="the column holding the lookups")
    shared.add_argument("--out", required=True, type=Path, help="where to write the output")
    shared.add_argument("--base-url", default=None, help="the API's base URL")
    shared.add_argument("--refresh", action="store_true", help="fetch cached lookups again")
    shared.add_argument("--format", dest="output_format", choices=("csv", "jsonl"), default="csv")
    shared.add_argument("--encoding", default="utf-8-sig", help="the input's text encoding")
    shared.add_argument(
        "--encoding-errors",
        choices=("strict", "replace"),
        default="strict",
        help="bytes the encoding cannot read: refuse the file (strict), or carry on with "
        "them replaced by U+FFFD (replace)",
    )
    shared.add_argument("--timeout", type=_positive_float, default=30.0, help="seconds a call")
    shared.add_argument(
        "--no-work",
        dest="work",
        action="store_false",
        help="only enqueue (a PostgreSQL store): 'bulkfetch work' processes do the calls",
    )
    return shared


def _work_options() -> argparse.ArgumentParser:
    """Options of every command that makes calls: the store, the pace, the leases."""
    shared = argparse.ArgumentParser(add_help=False)
    shared.add_argument(
        "--db",
        default="bulkfetch.db",
        help="the job store: a SQLite file, or postgresql://user@host/database to share it",
    )
    shared.add_argument(
        "--rate", type=_positive_float, help="calls a second for the key (default: none)"
    )
    shared.add_argument("--concurrency", type=_positive_int, default=16)
    shared.add_argument(
        "--max-attempts", type=_positive_int, default=5, help="tries a lookup gets in one run"
    )
    shared.add_argument(
        "--lease",
        dest="lease_seconds",
        type=_positive_float,
        default=EngineSettings().lease_seconds,
        help="seconds a claimed lookup stays a worker's unless renewed (a dead worker's "
        "come back after this)",
    )
    return shared


def _lmi_options() -> argparse.ArgumentParser:
    """Options of every Labor Market command: environment and the undocumented wire names."""
    shared = argparse.ArgumentParser(add_help=False)
    shared.add_argument("--environment", choices=("test", "production"), default="test")
    wire = shared.add_argument_group("wire names the provider's docs leave open")
    defaults = WireNames()
    for name, meaning in _WIRE_OPTIONS.items():
        wire.add_argument(
            f"--{name.replace('_', '-')}",
            help=f"{meaning} (default {getattr(defaults, name)!r})",
        )
    return shared


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bulkfetch", description="Bulk lookups against rate-limited, paid HTTP APIs."
    )
    parser.add_argument("--version", action="version", version=f"bulkfetch {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    run_options, lmi_options, work_options = _run_options(), _lmi_options(), _work_options()

    enrich_cmd = commands.add_parser(
        "enrich",
        parents=[run_options, work_options],
        help="add CrystalRoof columns to a CSV file of UK locations",
    )
    enrich_cmd.add_argument("--area-type", default="oa", choices=AREA_TYPES)
    enrich_cmd.add_argument("--dataset", default=OCCUPATION, help="<category>/<method>")
    enrich_cmd.add_argument(
        "--api-key", help="the CrystalRoof key (better: the CRYSTALROOF_API_KEY variable)"
    )

    lmi = commands.add_parser(
        "labor-market",
        parents=[run_options, work_options, lmi_options],
        help="add US labor-market data to a CSV file of SOC or CIP codes",
    )
    lmi.add_argument("--by", choices=("soc", "cip"), required=True)
    lmi.add_argument(
        "--region-type",
        choices=REGION_TYPES,
        help="default: what --region's code is (1-2 digits a state, 5 an MSA), else national",
    )
    lmi.add_argument("--region", help="state FIPS (6 or 06) or MSA code (see 'bulkfetch regions')")
    lmi.add_argument("--include-skills", action="store_true")
    lmi.add_argument("--fields", help="comma-separated fields to ask for (sparse fieldset)")
    lmi.add_argument(
        "--msa-fallback", action="store_true", help="state projections where an MSA has none"
    )

    regions = commands.add_parser(
        "regions", parents=[lmi_options], help="the Labor Market API's regions, as a table"
    )
    regions.add_argument("--type", choices=REGION_TYPES, dest="region_type")
    regions.add_argument("--db", default="bulkfetch.db", help="where the regions are kept")
    regions.add_argument("--base-url", default=None)
    regions.add_argument("--timeout", type=_positive_float, default=30.0)

    commands.add_parser(
        "work",
        parents=[work_options],
        help="join the runs of a shared (PostgreSQL) store as one more worker",
    )
    export = commands.add_parser("export", help="write a run's output from the store")
    export.add_argument("--db", required=True, help="the job store")
    export.add_argument("--run", required=True, type=int, help="the run id ('status' shows it)")
    export.add_argument("--out", required=True, type=Path, help="where to write the output")
    export.add_argument("--format", dest="output_format", choices=("csv", "jsonl"), default="csv")

    status_cmd = commands.add_parser("status", help="what a store holds and how its last run ended")
    status_cmd.add_argument("--db", default="bulkfetch.db")
    status_cmd.add_argument("--run", type=int, help="a run id (default: the latest)")

    emulate = commands.add_parser("emulate", help="run the local API emulator")
    emulate.add_argument("--host", default="127.0.0.1")
    emulate.add_argument("--port", type=int, default=8710, help="0 picks a free port")
    emulate.add_argument("--keys", help="comma-separated valid keys (default: any key)")
    emulate.add_argument("--rate-limit", type=_positive_int, help="calls per key per second")
    emulate.add_argument("--quota", type=int, help="billed calls per key, then 402 (LMI: 403)")
    emulate.add_argument("--not-found-rate", type=_fraction, default=0.03)
    for fault in ("fail", "drop", "slow", "truncate", "throttle"):
        emulate.add_argument(f"--{fault}-rate", type=_fraction, default=0.0)
    emulate.add_argument("--slow-seconds", type=float, default=30.0)
    emulate.add_argument(
        "--burst-429", default="0,0", help="EVERY,SECONDS: all calls 429 for SECONDS of EVERY"
    )
    emulate.add_argument("--latency", default="0,0", help="MIN,MAX seconds added to answers")
    emulate.add_argument("--seed", type=int, default=0)
    emulate.add_argument(
        "--lmi-production",
        action="store_true",
        help="Labor Market calls need an end-customer key (ck_...), as in production",
    )
    emulate.add_argument(
        "--no-cip-attribution",
        action="store_true",
        help="CIP answers do not say which input code an occupation matched",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the console script."""
    args = _parser().parse_args(argv)
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    commands: dict[str, Callable[[argparse.Namespace, Console], int]] = {
        "enrich": _enrich,
        "labor-market": _labor_market,
        "regions": _regions,
        "work": _work,
        "export": _export,
        "status": _status,
        "emulate": _emulate,
    }
    try:
        code = commands[args.command](args, err)
    except BulkfetchError as exc:
        code = _report_error(exc, err)
    except BaseExceptionGroup as group:
        # Task groups wrap what their tasks raise; ours raise one error at a time.
        first = _first_error(group)
        if first is None:
            raise
        code = _report_error(first, err)
    except BrokenPipeError:
        # The reader of our output went away (`bulkfetch status | head -1`): end quietly,
        # as a program killed by SIGPIPE would, and let no later flush complain.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = ExitCode.BROKEN_PIPE
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
    if isinstance(exc, StoreError) and not isinstance(exc, StoreBusyError):
        err.print(f"bulkfetch: store error: {exc}", markup=False)
        return ExitCode.STORE
    err.print(f"bulkfetch: error: {exc}", markup=False)
    return ExitCode.USAGE


# -- bulk commands ------------------------------------------------------------------------


def _bulk_options(args: argparse.Namespace, stop: StopRequest, bar: ProgressBar) -> BulkOptions:
    if not args.work and "://" not in args.db:
        raise UsageError(
            "--no-work leaves the calls to 'bulkfetch work' processes, which need a shared "
            "store: give --db postgresql://user@host/database"
        )
    return BulkOptions(
        db=args.db,
        output_format=args.output_format,
        encoding=args.encoding,
        encoding_errors=args.encoding_errors,
        rate=args.rate,
        concurrency=args.concurrency,
        max_attempts=args.max_attempts,
        lease_seconds=args.lease_seconds,
        refresh=args.refresh,
        progress=bar,
        stop=stop,
        work=args.work,
    )


def _run(job: Job[RunReport], err: Console) -> int:
    """Run a bulk job under signal handling and a progress bar; print its summary."""
    with ProgressBar(err) as bar:
        report = anyio.run(_supervised, job, bar)
    if report is None:
        err.print("bulkfetch: stopped at once; run the same command again to carry on")
        return ExitCode.INTERRUPTED
    _print_summary(report, err, bar.shown)
    return report.exit_code


async def _supervised(job: Job[R], bar: ProgressBar) -> R | None:
    """The job's report, or None when a second signal cut it short."""
    stop = StopRequest()
    report = None
    async with anyio.create_task_group() as tg:
        tg.start_soon(_watch_signals, stop, tg.cancel_scope)
        report = await job(stop, bar)
        tg.cancel_scope.cancel()
    return report


def _enrich(args: argparse.Namespace, err: Console) -> int:
    key = args.api_key or os.environ.get(CRYSTALROOF_KEY)
    if not key:
        raise UsageError(f"no API key: set {CRYSTALROOF_KEY} or pass --api-key")

    async def job(stop: StopRequest, bar: ProgressBar) -> RunReport:
        base_url = args.base_url or DEFAULT_BASE_URL
        async with CrystalRoof(key, base_url=base_url, timeout=args.timeout) as api:
            return await enrich(
                api,
                args.input,
                column=args.column,
                out=args.out,
                dataset=args.dataset,
                area_type=args.area_type,
                **_bulk_options(args, stop, bar),
            )

    return _run(job, err)


def _labor_market_client(args: argparse.Namespace) -> LaborMarket:
    platform_key = os.environ.get(LMI_PLATFORM_KEY)
    if not platform_key:
        raise UsageError(f"no platform key: set {LMI_PLATFORM_KEY}")
    overrides = {name: getattr(args, name) for name in _WIRE_OPTIONS if getattr(args, name)}
    return LaborMarket(
        platform_key,
        customer_key=os.environ.get(LMI_CUSTOMER_KEY) or None,
        environment=args.environment,
        base_url=args.base_url,
        timeout=args.timeout,
        wire=dataclasses.replace(WireNames(), **overrides),
    )


def _labor_market(args: argparse.Namespace, err: Console) -> int:
    api = _labor_market_client(args)

    async def job(stop: StopRequest, bar: ProgressBar) -> RunReport:
        async with api:
            return await labor_market(
                api,
                args.input,
                by=args.by,
                column=args.column,
                out=args.out,
                region_type=args.region_type,
                region=args.region,
                fields=[f.strip() for f in args.fields.split(",")] if args.fields else None,
                include_skills=args.include_skills,
                msa_fallback=args.msa_fallback,
                **_bulk_options(args, stop, bar),
            )

    return _run(job, err)


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


def _print_summary(report: RunReport, err: Console, shown: set[str]) -> None:
    if report.enqueued_only:
        err.print(
            f"run {report.run_id}: {report.rows} rows enqueued. Start workers with 'bulkfetch "
            f"work --db URL'; write the output with 'bulkfetch export --db URL --run "
            f"{report.run_id} --out FILE'.",
            markup=False,
        )
        return
    parts = ", ".join(f"{count} {status}" for status, count in sorted(report.statuses.items()))
    err.print(
        f"{report.rows} rows: {parts or 'none'}; {report.calls} calls; output {report.output}",
        markup=False,
    )
    for notice in report.notices:
        if notice not in shown:
            err.print(f"note: {notice}", markup=False)
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
    elif report.stop_kind == StopKind.UNREACHABLE:
        err.print(
            f"stopped: {report.stop_reason}. Nothing was billed for those lookups; check the "
            "address (--base-url) and the network, then run the same command again.",
            markup=False,
        )
    elif report.stop_kind is not None:
        err.print(f"stopped: {report.stop_reason}; run the same command again to carry on.")
    elif report.exit_code == ExitCode.FAILED:
        err.print("some lookups failed after retries; run the same command again to retry them.")


# -- other commands -----------------------------------------------------------------------


def _regions(args: argparse.Namespace, err: Console) -> int:
    api = _labor_market_client(args)

    async def fetch() -> list[tuple[str, str, str]]:
        async with api, await Store.open(args.db) as store:
            found = await known_regions(api, store)
        return [(r.type, r.code, r.label) for r in found if args.region_type in (None, r.type)]

    table = Table("type", "code", "label")
    for row in anyio.run(fetch):
        table.add_row(*row)
    Console(highlight=False).print(table)
    return ExitCode.OK


def _work(args: argparse.Namespace, err: Console) -> int:
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
            bar.start(0, 0)
            return await work(
                store, os.environ, rate=args.rate, settings=settings, stop=stop, progress=bar
            )

    with ProgressBar(err) as bar:
        report = anyio.run(_supervised, job, bar)
    if report is None:
        err.print("bulkfetch: stopped at once")
        return ExitCode.INTERRUPTED
    runs = ", ".join(map(str, report.runs)) or "none"
    err.print(f"worked runs: {runs}; {report.calls} calls", markup=False)
    if report.reclaimed:
        err.print(
            f"took back {report.reclaimed} lookups of workers that died: they may be billed twice",
            markup=False,
        )
    if report.stop_kind is not None:
        err.print(f"stopped: {report.stop_reason}; start the workers again to carry on.")
    return report.exit_code


def _export(args: argparse.Namespace, err: Console) -> int:
    _check_store_exists(args.db)
    check_output(args.out, not_to={} if "://" in args.db else {"the store": Path(args.db)})

    async def write() -> dict[str, int]:
        async with await Store.open(args.db, exclusive=False) as store:
            return await export_run(store, args.run, args.out, output_format=args.output_format)

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


def _emulate(args: argparse.Namespace, err: Console) -> int:
    low, _, high = args.latency.partition(",")
    every, _, burst = args.burst_429.partition(",")
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
        burst_every=float(every or 0),
        burst_seconds=float(burst or 0),
        latency_min=float(low or 0),
        latency_max=float(high or low or 0),
        seed=args.seed,
        lmi_environment="production" if args.lmi_production else "test",
        cip_attribution=not args.no_cip_attribution,
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
