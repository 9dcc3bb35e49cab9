"""``bulkfetch enrich``: CrystalRoof's columns added to a file of UK locations; ``bulkfetch
datasets``: the datasets it knows."""

from __future__ import annotations

import argparse
import os

from rich.console import Console

from bulkfetch.apis.crystalroof.bulk import choices, enrich
from bulkfetch.apis.crystalroof.catalogue import AREA_TYPES, CATALOGUE
from bulkfetch.apis.crystalroof.client import DEFAULT_BASE_URL, OCCUPATION, CrystalRoof
from bulkfetch.apis.crystalroof.columns import LocationColumns
from bulkfetch.cli import options
from bulkfetch.cli.helptext import examples
from bulkfetch.cli.keys import key_or_plan
from bulkfetch.cli.progress import ProgressBar
from bulkfetch.cli.running import bulk_options, run_bulk_command
from bulkfetch.engine import StopRequest
from bulkfetch.run import RunReport

__all__ = ["KEY_VARIABLE", "add_commands"]

KEY_VARIABLE = "CRYSTALROOF_API_KEY"  # where the key comes from: off the command line


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    command = commands.add_parser(
        "enrich",
        parents=options.file_run(
            column_needed_unless="--lat-column and --lon-column, or --uprn-column, are given"
        ),
        help="add CrystalRoof columns to a file of UK locations",
        epilog=examples(
            "bulkfetch enrich postcodes.csv --column postcode --out enriched.csv",
            "bulkfetch enrich postcodes.csv --column postcode --out enriched.csv --plan"
            "    # what it costs; no call, no key",
            "bulkfetch enrich points.parquet --lat-column lat --lon-column lon"
            " --dataset occupation --dataset income --out enriched.xlsx",
        ),
    )
    command.add_argument("--lat-column", help="the column of latitudes (with --lon-column)")
    command.add_argument("--lon-column", help="the column of longitudes (with --lat-column)")
    command.add_argument(
        "--uprn-column", help="the column of UPRNs (100023336956 or uprn100023336956)"
    )
    command.add_argument(
        "--area-type",
        choices=AREA_TYPES,
        help="for the datasets that take one and are not given their own (default: oa)",
    )
    command.add_argument(
        "--dataset",
        action="append",
        help="a name from 'bulkfetch datasets' or <category>/<method>, options after a colon"
        " (occupation:area_type=lsoa, crime:month=2024-05); again for several in one pass"
        f" (default: {OCCUPATION})",
    )
    command.add_argument(
        "--api-key", help=f"the CrystalRoof key (better: the {KEY_VARIABLE} variable)"
    )
    command.set_defaults(handler=_enrich)
    listing = commands.add_parser(
        "datasets",
        help="the CrystalRoof datasets bulkfetch knows",
        epilog=examples("bulkfetch datasets"),
    )
    listing.set_defaults(handler=_datasets)


def _datasets(args: argparse.Namespace, err: Console) -> int:
    """The catalogue, a line each: name, path, area types, what else it needs."""
    print("name\tpath\tarea types\tneeds\tabout")
    for dataset in CATALOGUE:
        areas = ",".join(dataset.area_types) or "none"
        needs = ",".join(f"{n}=..." for n in dataset.needs) or "-"
        print(f"{dataset.short}\t{dataset.path}\t{areas}\t{needs}\t{dataset.about}")
    err.print(
        "Any other dataset: --dataset <category>/<method>[:area_type=...,postcode_segment=no]"
    )
    return 0


def _enrich(args: argparse.Namespace, err: Console) -> int:
    datasets = args.dataset or [OCCUPATION]
    choices(datasets, args.area_type)  # refused before anything else
    LocationColumns(args.column, args.lat_column, args.lon_column, args.uprn_column)
    key = key_or_plan(
        args.api_key or os.environ.get(KEY_VARIABLE),
        plan=args.plan,
        missing=f"no API key: set {KEY_VARIABLE} or pass --api-key",
    )

    async def job(stop: StopRequest, bar: ProgressBar) -> RunReport:
        base_url = args.base_url or DEFAULT_BASE_URL
        async with CrystalRoof(
            key, base_url=base_url, timeout=args.timeout, max_answer_bytes=args.max_answer_bytes
        ) as api:
            return await enrich(
                api,
                args.input,
                column=args.column,
                lat_column=args.lat_column,
                lon_column=args.lon_column,
                uprn_column=args.uprn_column,
                out=args.out,
                dataset=datasets,
                area_type=args.area_type,
                **bulk_options(args, stop, bar),
            )

    return run_bulk_command(job, err, args)
