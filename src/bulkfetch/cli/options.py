"""The options the commands share, as argparse parents: an API's command takes the ones it
needs (``parents=[source(), output(), calls()]``) and adds its own."""

from __future__ import annotations

import argparse
import math
import re
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

from bulkfetch.cli import watch
from bulkfetch.engine import EngineSettings
from bulkfetch.http import MAX_ANSWER_BYTES
from bulkfetch.io.formats import INPUT_FORMATS
from bulkfetch.io.names import NAMINGS
from bulkfetch.io.sinks import FORMATS
from bulkfetch.pacing.limits import Limit, parse_limit

__all__ = [
    "add_price",
    "amount",
    "api",
    "bulk",
    "calls",
    "concurrency",
    "count",
    "currency",
    "duration",
    "file_run",
    "fraction",
    "limit",
    "output",
    "port",
    "positive_float",
    "positive_int",
    "rate",
    "seconds",
    "size",
    "source",
]

# Numbers from the command line are checked finite first: inf is "above 0", and nan, false
# to every comparison, is never "0 or below", so a range check alone lets both through (a
# rate of inf overflowed the pacer; a timeout of nan never ends). Whole numbers are kept to
# a size that works.
_STORED = 2**63 - 1  # the store's integers (SQLite's, PostgreSQL's BIGINT) go no higher
_MOST_CONCURRENCY = 10_000  # a task and a connection each: beyond, memory, not the API, ends it
# Slower than a call in 11 days is no pace; far slower, a plan's "rows / rate" is inf.
_LEAST_RATE = 1e-6


def _whole(text: str, least: int, most: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < least:
        raise argparse.ArgumentTypeError(f"must be at least {least}; got {text!r}")
    if value > most:
        raise argparse.ArgumentTypeError(f"must be at most {most:,}; got {text!r}")
    return value


def _real(text: str, wanted: str, fits: Callable[[float], bool]) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not (math.isfinite(value) and fits(value)):
        raise argparse.ArgumentTypeError(f"must be {wanted}; got {text!r}")
    return value


def positive_int(text: str) -> int:
    """A whole number from 1 to what the store can hold."""
    return _whole(text, 1, _STORED)


def run_ids(text: str) -> list[int]:
    """Run ids, comma-separated (``1,2``): each a whole number from 1 on."""
    return [positive_int(part.strip()) for part in text.split(",")]


def count(text: str) -> int:
    """A whole number from 0 to what the store can hold."""
    return _whole(text, 0, _STORED)


def concurrency(text: str) -> int:
    """Requests in flight at once: from 1 to 10,000."""
    return _whole(text, 1, _MOST_CONCURRENCY)


def port(text: str) -> int:
    """A TCP port, 0 for any free one."""
    return _whole(text, 0, 65535)


def positive_float(text: str) -> float:
    """A finite number above 0."""
    return _real(text, "a finite number above 0", lambda value: value > 0)


def rate(text: str) -> float:
    """Calls a second: a finite number, a call in 11 days (0.000001) or faster."""
    return _real(text, f"a finite number of at least {_LEAST_RATE:g}", lambda v: v >= _LEAST_RATE)


def limit(text: str) -> Limit:
    """A limit of calls over a window: ``10/second``, ``600/minute``, ``2500/day``."""
    try:
        return parse_limit(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def seconds(text: str) -> float:
    """A finite number of seconds, 0 or more."""
    return _real(text, "a finite number, 0 or more", lambda value: value >= 0)


def fraction(text: str) -> float:
    """A finite number from 0 to 1."""
    return _real(text, "a number from 0 to 1", lambda value: 0 <= value <= 1)


def amount(text: str) -> Decimal:
    """Money, exactly as written: a plain decimal number above 0 (``0.02``, ``50``)."""
    if re.fullmatch(r"[0-9]{1,30}(\.[0-9]{0,30})?|\.[0-9]{1,30}", text.strip()) is None:
        raise argparse.ArgumentTypeError(f"not an amount: {text!r} (a number, like 0.02)")
    value = Decimal(text.strip())
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be above 0; got {text!r}")
    return value


def currency(text: str) -> str:
    """A currency's label, printed after its amounts: ``GBP``, ``USD``, ``credits``."""
    if not (re.fullmatch(r"\S{1,12}", text) and text.isprintable()):
        raise argparse.ArgumentTypeError(f"not a currency label: {text!r} (GBP, USD, ...)")
    return text


_BYTES = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9, "ki": 2**10, "mi": 2**20, "gi": 2**30}


def size(text: str) -> int:
    """Bytes, from ``10MB``, ``512kB``, ``1MiB``, ``2G`` (or plain bytes): at least 1 kB."""
    found = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmg]i?)?b?\s*", text.lower())
    if found is None:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (10MB, 512kB, 1MiB, or bytes)")
    value = float(found.group(1)) * _BYTES[found.group(2) or ""]
    if not 1000 <= value <= _STORED:
        raise argparse.ArgumentTypeError(f"must be from 1kB to 9EB; got {text!r}")
    return int(value)


_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def duration(text: str) -> float:
    """Seconds, from ``30d``, ``12h``, ``90m``, ``45s``, ``2w`` (or plain seconds)."""
    found = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*", text.lower())
    if found is None:
        raise argparse.ArgumentTypeError(
            f"not a duration: {text!r} (a number and a unit: 45s, 90m, 12h, 30d, 2w)"
        )
    value = float(found.group(1)) * _SECONDS[found.group(2) or "s"]
    if not math.isfinite(value):  # digits enough to pass a float's range
        raise argparse.ArgumentTypeError(f"not a duration a store can hold: {text!r}")
    return value


def source(*, column_needed_unless: str | None = None) -> argparse.ArgumentParser:
    """Where the input comes from and how it is read (``column_needed_unless``: the
    command's other ways to say where its lookups are, which make ``--column`` optional)."""
    options = argparse.ArgumentParser(add_help=False)
    options.add_argument(
        "input",
        type=Path,
        help="the input file, with a header row (CSV, TSV, JSON Lines, .xlsx, Parquet; "
        "- for standard input)",
    )
    options.add_argument(
        "--column",
        required=column_needed_unless is None,
        help="the column holding the lookups"
        + (f" (needed unless {column_needed_unless})" if column_needed_unless else ""),
    )
    options.add_argument(
        "--input-format",
        choices=INPUT_FORMATS,
        help="default: what the input's name says (.tsv, .jsonl, .xlsx, .parquet), else CSV",
    )
    options.add_argument(
        "--delimiter", help="a delimited input's (default: found from its header line)"
    )
    options.add_argument("--sheet", help="an .xlsx input's sheet (default: the first)")
    options.add_argument("--encoding", default="utf-8-sig", help="a text input's encoding")
    options.add_argument(
        "--encoding-errors",
        choices=("strict", "replace"),
        default="strict",
        help="bytes the encoding cannot read: refuse the file (strict), or carry on with "
        "them replaced by U+FFFD (replace)",
    )
    return options


def output() -> argparse.ArgumentParser:
    """Where the output goes and in what format."""
    options = argparse.ArgumentParser(add_help=False)
    options.add_argument(
        "--out", required=True, type=Path, help="where to write the output (- for standard output)"
    )
    options.add_argument(
        "--format",
        dest="output_format",
        choices=FORMATS,
        help="default: what the output's name says (.csv, .tsv, .jsonl, .parquet, .xlsx; no"
        " extension: CSV); another extension is refused",
    )
    options.add_argument(
        "--raw-values",
        action="store_true",
        help="CSV and TSV: write the API's values, column names and errors as it gave them."
        " By default one that begins like a spreadsheet formula (= + - @, tab, CR, LF, NUL)"
        " and is not a plain number gets a ' before it, so that a spreadsheet shows it rather"
        " than runs it; your input's cells are never changed. JSON Lines and Parquet always"
        " hold what the API gave",
    )
    options.add_argument(
        "--column-names",
        choices=NAMINGS,
        default="as-is",
        help="the names of the columns bulkfetch adds (lookup, status, error and the"
        " answers'): as-is (occupation.residents.1. Managers, directors...) or snake"
        " (occupation_residents_1_managers_directors...), which pandas and SQL take as they"
        " are; your input's columns keep their names",
    )
    return options


def calls(*, store: bool = True, money: bool = False) -> argparse.ArgumentParser:
    """How calls are made: the store, the pace, the retries, the leases (``store=False``:
    all but the store, for a command that names its store otherwise; ``money``: with
    ``--price``, ``--currency`` and ``--max-spend``, for a command that makes a run)."""
    options = argparse.ArgumentParser(add_help=False)
    if store:
        options.add_argument(
            "--db",
            default="bulkfetch.db",
            help="the job store: a SQLite file, or postgresql://user@host/database to share it",
        )
    options.add_argument(
        "--rate",
        type=rate,
        help="calls a second for the key (default: a --limit N/second, else none)",
    )
    options.add_argument(
        "--limit",
        dest="limits",
        metavar="N/UNIT",
        type=limit,
        action="append",
        default=[],
        help="the key's allowance over a window of the UTC calendar: 10/second (the pace),"
        " 600/minute, 5000/hour, 2500/day, 100000/month; again for another window. Calls"
        " are counted in the store, across runs and workers (a new store knows nothing of"
        " what was spent before)",
    )
    options.add_argument(
        "--at-limit",
        choices=("wait", "stop"),
        default="wait",
        help="once a window's allowance is spent: wait for the next window (wait), or stop"
        " (exit 9), saying when it opens",
    )
    options.add_argument(
        "--concurrency", type=concurrency, default=16, help="requests in flight at once"
    )
    options.add_argument(
        "--max-attempts", type=positive_int, default=5, help="tries a lookup gets in one run"
    )
    options.add_argument(
        "--max-calls",
        type=positive_int,
        help="bill at most this many units (calls; Labor Market: codes) for the run, over "
        "all its resumes and workers; it stops before the call that would pass it (exit 7)",
    )
    if money:
        add_price(options)
        options.add_argument(
            "--max-spend",
            type=amount,
            metavar="MONEY",
            help="with --price: spend at most this (50: 2500 units at 0.02), a cap in units"
            " as --max-calls is (the smaller of the two caps holds)",
        )
    options.add_argument(
        "--progress-every",
        type=positive_float,
        default=10.0,
        help="seconds between progress lines when not on a terminal (a log, a pipe)",
    )
    options.add_argument(
        "--lease",
        dest="lease_seconds",
        type=positive_float,
        default=EngineSettings().lease_seconds,
        help="seconds a claimed lookup stays a worker's unless renewed (a dead worker's "
        "come back after this)",
    )
    watch.add_options(options)
    return options


def add_price(options: argparse.ArgumentParser) -> None:
    """``--price`` and ``--currency``: money shown beside units."""
    options.add_argument(
        "--price",
        type=amount,
        help="what a billed unit (a call; Labor Market: a code) costs, 0.02: money is shown"
        " beside units (default: none shown)",
    )
    options.add_argument(
        "--currency",
        type=currency,
        help="the label of --price's money, GBP or USD: 12.34 GBP (default: the number alone)",
    )


def api() -> argparse.ArgumentParser:
    """Where an API is, how patiently it is waited for, and how much of it is read."""
    options = argparse.ArgumentParser(add_help=False)
    options.add_argument(
        "--base-url",
        default=None,
        help="the API's base URL (a user:password@ in it is sent as basic auth, never stored)",
    )
    options.add_argument("--timeout", type=positive_float, default=30.0, help="seconds a call")
    options.add_argument(
        "--max-answer-size",
        dest="max_answer_bytes",
        type=size,
        default=MAX_ANSWER_BYTES,
        help="an answer longer than this is cut off and its lookup fails, saying so (10MB,"
        " 512kB, 1MiB, or bytes; default 10MB)",
    )
    return options


def bulk() -> argparse.ArgumentParser:
    """What a bulk command over a file does with what the store holds."""
    options = argparse.ArgumentParser(add_help=False)
    options.add_argument("--refresh", action="store_true", help="fetch cached lookups again")
    options.add_argument(
        "--max-age",
        type=duration,
        help="fetch again what the store answered longer ago than this (30d, 12h)",
    )
    options.add_argument(
        "--plan",
        action="store_true",
        help="make no call: say what the run would fetch and bill, and how long it takes",
    )
    options.add_argument("--json", action="store_true", help="with --plan: the plan as JSON")
    options.add_argument(
        "--no-work",
        dest="work",
        action="store_false",
        help="only enqueue (a PostgreSQL store): 'bulkfetch work' processes do the calls",
    )
    return options


def file_run(*, column_needed_unless: str | None = None) -> list[argparse.ArgumentParser]:
    """Every option of a command that runs a file through an API into a file
    (``column_needed_unless``: the command's other ways to say where its lookups are)."""
    return [
        source(column_needed_unless=column_needed_unless),
        output(),
        api(),
        bulk(),
        calls(money=True),
    ]
