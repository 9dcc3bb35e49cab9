"""``bulkfetch enrich``: CrystalRoof's columns added to a file of UK locations."""

from __future__ import annotations

import argparse
import os

from rich.console import Console

from bulkfetch.apis.crystalroof.bulk import enrich
from bulkfetch.apis.crystalroof.client import AREA_TYPES, DEFAULT_BASE_URL, OCCUPATION, CrystalRoof
from bulkfetch.cli import options
from bulkfetch.cli.progress import ProgressBar
from bulkfetch.cli.running import bulk_options, run_bulk_command
from bulkfetch.engine import StopRequest
from bulkfetch.errors import UsageError
from bulkfetch.run import RunReport

__all__ = ["KEY_VARIABLE", "add_commands"]

KEY_VARIABLE = "CRYSTALROOF_API_KEY"  # where the key comes from: off the command line


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    command = commands.add_parser(
        "enrich",
        parents=options.file_run(),
        help="add CrystalRoof columns to a file of UK locations",
    )
    command.add_argument("--area-type", default="oa", choices=AREA_TYPES)
    command.add_argument("--dataset", default=OCCUPATION, help="<category>/<method>")
    command.add_argument(
        "--api-key", help=f"the CrystalRoof key (better: the {KEY_VARIABLE} variable)"
    )
    command.set_defaults(handler=_enrich)


def _enrich(args: argparse.Namespace, err: Console) -> int:
    key = args.api_key or os.environ.get(KEY_VARIABLE)
    if not key:
        raise UsageError(f"no API key: set {KEY_VARIABLE} or pass --api-key")

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
                **bulk_options(args, stop, bar),
            )

    return run_bulk_command(job, err, args)
