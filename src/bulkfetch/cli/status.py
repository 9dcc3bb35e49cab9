"""``bulkfetch status`` and ``bulkfetch export``: what a store holds, and a run's output
written from it."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console

from bulkfetch import speedups
from bulkfetch.cli import options
from bulkfetch.cli.exits import ExitCode
from bulkfetch.cli.helptext import examples
from bulkfetch.cli.running import price_of
from bulkfetch.cli.terminal import say
from bulkfetch.errors import UsageError
from bulkfetch.io.files import check_output
from bulkfetch.io.formats import output_format, writable
from bulkfetch.io.sinks import STDOUT
from bulkfetch.jobs import JobState, RowStatus
from bulkfetch.run import export_run
from bulkfetch.spend import Price
from bulkfetch.store import RunCounts, Store
from bulkfetch.untrusted import printable

__all__ = ["add"]


def add(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    export = commands.add_parser(
        "export",
        parents=[options.output()],
        help="write a run's output from the store",
        epilog=examples(
            "bulkfetch export --db bulkfetch.db --run 1 --out again.csv",
            "bulkfetch export --db bulkfetch.db --run 1,2 --out both-datasets.csv",
        ),
    )
    export.add_argument("--db", required=True, help="the job store")
    export.add_argument(
        "--run",
        required=True,
        type=options.run_ids,
        help="the run id ('status' shows it), or the ids of one pass's runs, comma-separated"
        " (1,2: one command's datasets), written side by side as that command wrote them",
    )
    export.set_defaults(handler=_export)

    report = commands.add_parser(
        "report",
        help="a run's report: one HTML page with its charts, nothing loaded from the network",
        epilog=examples(
            "bulkfetch report --db bulkfetch.db --run 1 --out report.html",
            "bulkfetch report --db postgresql://user@host/db --run 1,2 --out pass.html",
        ),
    )
    report.add_argument("--db", default="bulkfetch.db", help="the job store (a file or a URL)")
    report.add_argument(
        "--run", required=True, type=options.run_ids, help="run ids, comma-separated (1,2)"
    )
    report.add_argument("--out", required=True, type=Path, help="the page to write (.html)")
    options.add_price(report)  # money beside billed units, at the price given
    report.set_defaults(handler=_report)

    status = commands.add_parser(
        "status",
        help="the runs a store holds: what each fetched, spent and how it ended",
        epilog=examples(
            "bulkfetch status",
            "bulkfetch status --db postgresql://user@host/db --run 2 --json",
            "bulkfetch status --price 0.02 --currency GBP    # money beside billed units",
        ),
    )
    status.add_argument("--db", default="bulkfetch.db", help="the job store (a file or a URL)")
    status.add_argument(
        "--run",
        help="one run's id, or the name a library run was given (run=...); default: every run",
    )
    status.add_argument("--json", action="store_true", help="as JSON, for scripts")
    options.add_price(status)  # the store keeps no price: money is shown at the one given
    status.set_defaults(handler=_status)


def _export(args: argparse.Namespace, err: Console) -> int:
    _check_store_exists(args.db)
    if args.out != STDOUT:
        check_output(args.out, not_to={} if "://" in args.db else {"the store": Path(args.db)})
    output = output_format(args.out, args.output_format)
    writable(args.out, output)

    async def write() -> dict[str, int]:
        async with await Store.open(args.db, exclusive=False) as store:
            return await export_run(
                store,
                args.run,
                args.out,
                output_format=output,
                raw_values=args.raw_values,
                naming=args.column_names,
            )

    statuses = speedups.run(write)
    parts = ", ".join(f"{count} {status}" for status, count in sorted(statuses.items()))
    err.print(f"{sum(statuses.values())} rows: {parts or 'none'}; output {args.out}", markup=False)
    pending = statuses.get(RowStatus.PENDING.value, 0) + statuses.get(RowStatus.FAILED.value, 0)
    return ExitCode.FAILED if pending else ExitCode.OK


def _report(args: argparse.Namespace, err: Console) -> int:
    from bulkfetch.run.page import write_report

    price = price_of(args)
    _check_store_exists(args.db)
    check_output(args.out, not_to={} if "://" in args.db else {"the store": Path(args.db)})

    async def write() -> None:
        async with await Store.open(args.db, exclusive=False) as store:
            await write_report(store, args.run, args.out, price=price)

    speedups.run(write)
    say(err, f"report: {args.out}", event="report", output=str(args.out))
    return ExitCode.OK


def _check_store_exists(db: str) -> None:
    """Commands that read a store refuse one that is not there (rather than make it)."""
    if "://" not in db and not Path(db).exists():
        raise UsageError(f"no store at {db}")


def _status(args: argparse.Namespace, err: Console) -> int:
    price = price_of(args)  # a --currency without a --price: refused before the store
    _check_store_exists(args.db)
    return speedups.run(_print_status, args, price)


async def _print_status(args: argparse.Namespace, price: Price | None) -> int:
    async with await Store.open(args.db, exclusive=False) as store:
        if args.run is None:
            found = await store.runs.listing()
        elif args.run.strip().isdecimal():
            one = await store.runs.counts(int(args.run))
            found = [] if one is None else [one]
        else:  # a library run's name: every run of that name (one a dataset)
            found = [c for c in await store.runs.listing() if _name(c) == args.run]
        if args.run is not None and not found:
            raise UsageError(f"the store holds no run {args.run!r} ('bulkfetch status' lists them)")
    if args.json:
        print(json.dumps({"runs": [_as_json(counts, price) for counts in found]}, indent=2))
        return ExitCode.OK
    if not found:
        print("the store holds no runs")
    for counts in found:
        _print_run(counts, price)
    return ExitCode.OK


def _print_run(counts: RunCounts, price: Price | None) -> None:
    when = _when(counts.updated_at)
    _line(f"run {counts.run_id}: {counts.description} (last worked on {when})")
    options = _options(counts)
    if options:
        _line(f"  options: {', '.join(f'{k}={v}' for k, v in sorted(options.items()))}")
    if counts.input and counts.input.get("path"):
        named = f" (run {_name(counts)!r})" if _name(counts) else ""
        _line(f"  input: {counts.input['path']}{named}")
    if counts.input and counts.input.get("column"):
        _line(f"  column: {_columns(counts.input['column'])}")
    _line(f"  rows: {counts.rows} ({counts.invalid_rows} invalid input, no call)")
    states = ", ".join(f"{n} {state}" for state, n in sorted(_states(counts).items()))
    _line(f"  lookups: {states or 'none'}")
    spend, cap = counts.spend, counts.max_units
    billed = twice = capped = ""
    if price is not None:  # money beside units
        billed = f" ({price.cost(spend.units)})"
        twice = f" (up to {price.cost(spend.maybe_billed_twice)})"
        capped = f", {price.cost(cap)}" if cap is not None else ""
    cap_text = f" (cap: {cap}{capped})" if cap is not None else ""
    _line(f"  billed: {spend.units} lookups{billed} in {spend.requests} requests{cap_text}")
    _line(
        f"  from the store (not billed): {spend.from_store}; its last command had"
        f" {counts.last_from_store} from the store"
    )
    _line(f"  answered 429: {spend.rate_limited}; retried: {spend.retries}")
    _line(f"  connection failures (not calls, not billed): {spend.connect_failures}")
    _line(f"  possibly billed twice (answers lost, crashes): {spend.maybe_billed_twice}{twice}")
    stopped = (
        f"{counts.stop_kind}: {counts.stop_reason}" if counts.stop_kind else "it did not stop early"
    )
    _line(f"  last stopped: {stopped}")


def _line(text: str) -> None:
    """A line of the listing: names and reasons came from files and servers."""
    print(printable(text))


def _as_json(counts: RunCounts, price: Price | None) -> dict[str, Any]:
    money = {} if price is None else {"money": _money(counts, price)}
    return {
        "run": counts.run_id,
        "api": counts.api,
        "endpoint": counts.endpoint,
        "description": counts.description,
        "input": counts.input,
        "options": _options(counts),
        "created_at": _when(counts.created_at),
        "updated_at": _when(counts.updated_at),
        "rows": counts.rows,
        "invalid_rows": counts.invalid_rows,
        "lookups": counts.jobs_by_state,
        "spent": counts.spend.as_json(),
        "last_from_store": counts.last_from_store,
        "max_calls": counts.max_units,
        "stop": {"kind": counts.stop_kind, "reason": counts.stop_reason}
        if counts.stop_kind
        else None,
        **money,
    }


def _money(counts: RunCounts, price: Price) -> dict[str, str | None]:
    """What the run's units cost at ``price``, exactly, as text: ``"9.06"``."""
    cap = counts.max_units
    return {
        "price": f"{price.each:f}",
        "currency": price.currency,
        "billed": f"{price.of(counts.spend.units):f}",
        "maybe_billed_twice": f"{price.of(counts.spend.maybe_billed_twice):f}",
        "cap": None if cap is None else f"{price.of(cap):f}",
    }


def _options(counts: RunCounts) -> dict[str, str]:
    """What the run's lookups share, but the endpoint (named already), the origin and what
    is empty (an option the dataset does not take)."""
    return {
        k: v
        for k, v in (counts.options or {}).items()
        if k not in {"endpoint", "origin"} and v not in ("", None)
    }


def _states(counts: RunCounts) -> dict[str, int]:
    """Lookups by state, as a user reads them: a lookup a worker has claimed is "leased"
    (its call may be in flight, or still waiting its turn: at most --concurrency are)."""
    return {_STATE_NAMES.get(state, state): n for state, n in counts.jobs_by_state.items()}


_STATE_NAMES = {JobState.IN_FLIGHT.value: "leased"}


def _columns(key: str) -> str:
    """The input columns a run read, as its key names them: one column's name, or
    CrystalRoof's ``[uprn, location, lat, lon]`` (those given)."""
    try:
        named = json.loads(key)
    except ValueError:
        return key
    if not (isinstance(named, list) and len(named) == len(_LOCATION_PARTS)):
        return key
    return ", ".join(
        f"{part} {name}" for part, name in zip(_LOCATION_PARTS, named, strict=True) if name
    )


_LOCATION_PARTS = ("uprn", "location", "lat", "lon")


def _name(counts: RunCounts) -> str | None:
    """The name a library run was given (``run=...``), if any."""
    name = (counts.input or {}).get("name")
    return name if isinstance(name, str) else None


def _when(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
