"""The options the commands share, as argparse parents: an API's command takes the ones it
needs (``parents=[source(), output(), calls()]``) and adds its own."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from bulkfetch.engine import EngineSettings
from bulkfetch.io.formats import INPUT_FORMATS
from bulkfetch.io.sinks import FORMATS

__all__ = [
    "api",
    "bulk",
    "calls",
    "duration",
    "file_run",
    "fraction",
    "output",
    "positive_float",
    "positive_int",
    "source",
]


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be positive")
    return value


_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def duration(text: str) -> float:
    """Seconds, from ``30d``, ``12h``, ``90m``, ``45s``, ``2w`` (or plain seconds)."""
    found = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*", text.lower())
    if found is None:
        raise argparse.ArgumentTypeError(
            f"not a duration: {text!r} (a number and a unit: 45s, 90m, 12h, 30d, 2w)"
        )
    return float(found.group(1)) * _SECONDS[found.group(2) or "s"]


def fraction(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError("must be between 0 and 1")
    return value


def source(*, column_required: bool = True) -> argparse.ArgumentParser:
    """Where the input comes from and how it is read (``column_required=False``: the
    command has other ways to say where its lookups are)."""
    options = argparse.ArgumentParser(add_help=False)
    options.add_argument(
        "input",
        type=Path,
        help="the input file, with a header row (CSV, TSV, JSON Lines, .xlsx, Parquet; "
        "- for standard input)",
    )
    options.add_argument(
        "--column", required=column_required, help="the column holding the lookups"
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
        help="default: what the output's name says (.tsv, .jsonl, .parquet), else CSV",
    )
    return options


def calls(*, store: bool = True) -> argparse.ArgumentParser:
    """How calls are made: the store, the pace, the retries, the leases (``store=False``:
    all but the store, for a command that names its store otherwise)."""
    options = argparse.ArgumentParser(add_help=False)
    if store:
        options.add_argument(
            "--db",
            default="bulkfetch.db",
            help="the job store: a SQLite file, or postgresql://user@host/database to share it",
        )
    options.add_argument(
        "--rate", type=positive_float, help="calls a second for the key (default: none)"
    )
    options.add_argument("--concurrency", type=positive_int, default=16)
    options.add_argument(
        "--max-attempts", type=positive_int, default=5, help="tries a lookup gets in one run"
    )
    options.add_argument(
        "--max-calls",
        type=positive_int,
        help="bill at most this many units (calls; Labor Market: codes) for the run, over "
        "all its resumes and workers; it stops before the call that would pass it (exit 7)",
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
    return options


def api() -> argparse.ArgumentParser:
    """Where an API is and how patiently it is waited for."""
    options = argparse.ArgumentParser(add_help=False)
    options.add_argument("--base-url", default=None, help="the API's base URL")
    options.add_argument("--timeout", type=positive_float, default=30.0, help="seconds a call")
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


def file_run(*, column_required: bool = True) -> list[argparse.ArgumentParser]:
    """Every option of a command that runs a file through an API into a file."""
    return [source(column_required=column_required), output(), api(), bulk(), calls()]
