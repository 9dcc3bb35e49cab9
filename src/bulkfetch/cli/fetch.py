"""``bulkfetch fetch --api FILE``: a file through any API its description says; and the
command of a Python plugin's API (``bulkfetch echo``). Both have every option the built-in
APIs' commands have."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console

from bulkfetch.cli import options
from bulkfetch.cli.helptext import examples
from bulkfetch.cli.progress import ProgressBar
from bulkfetch.cli.running import bulk_options, run_bulk_command
from bulkfetch.describe import load_description
from bulkfetch.engine import StopRequest
from bulkfetch.run import RunReport, run_file

if TYPE_CHECKING:
    from bulkfetch.describe import DescribedApi

__all__ = ["add", "add_api"]

Make = Callable[..., Any]  # a client from its options (environ=, base_url=, timeout=...)


def add(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    command = commands.add_parser(
        "fetch",
        parents=options.file_run(),
        help="run a file through any API a description file says (see examples/apis/)",
        description="Run a file through the API described in --api (a TOML file: its base"
        " URL, keys, request, batches, limits, and the answer's fields to write).",
        epilog=examples(
            "bulkfetch fetch --api examples/apis/postcodes-io.toml"
            " examples/apis/postcodes-io.csv --column postcode --out out.csv",
        ),
    )
    command.add_argument(
        "--api", required=True, type=Path, help="the API's description (a .toml file)"
    )
    command.set_defaults(handler=_fetch)


def add_api(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    help: str,
    make: Make,
) -> None:
    """The command of a plugin's API: its client made by ``make``."""
    command = commands.add_parser(
        name,
        parents=options.file_run(),
        help=help,
        epilog=examples(f"bulkfetch {name} input.csv --column COLUMN --out output.csv"),
    )
    command.set_defaults(handler=lambda args, err: _run(args, err, make))


def _fetch(args: argparse.Namespace, err: Console) -> int:
    from bulkfetch.describe.client import DescribedApi  # only this command's client

    description = load_description(args.api)  # a mistake in it: refused before anything

    def make(**settings: Any) -> DescribedApi:
        return DescribedApi(description, **settings)

    return _run(args, err, make)


def _run(args: argparse.Namespace, err: Console, make: Make) -> int:
    api = make(
        environ=os.environ,
        base_url=args.base_url,
        timeout=args.timeout,
        max_answer_bytes=args.max_answer_bytes,
        need_keys=not args.plan,  # a plan makes no call: it needs no key
    )

    async def job(stop: StopRequest, bar: ProgressBar) -> RunReport:
        async with api:
            return await run_file(
                api.operation("get", {}),
                args.input,
                column=args.column,
                out=args.out,
                **bulk_options(args, stop, bar),
            )

    result: int = run_bulk_command(job, err, args)
    return result
