"""``bulkfetch labor-market`` (US labor-market data added to a file of SOC or CIP codes)
and ``bulkfetch regions`` (the regions the API knows)."""

from __future__ import annotations

import argparse
import dataclasses
import os
from collections.abc import Mapping

from rich.console import Console
from rich.table import Table
from rich.text import Text

from bulkfetch import speedups
from bulkfetch.apis.labormarket.bulk import labor_market
from bulkfetch.apis.labormarket.client import LaborMarket
from bulkfetch.apis.labormarket.codes import REGION_TYPES
from bulkfetch.apis.labormarket.regions import known_regions
from bulkfetch.apis.labormarket.wire import WireNames
from bulkfetch.cli import options
from bulkfetch.cli.exits import ExitCode
from bulkfetch.cli.helptext import examples
from bulkfetch.cli.keys import key_or_plan
from bulkfetch.cli.progress import ProgressBar
from bulkfetch.cli.running import bulk_options, run_bulk_command
from bulkfetch.engine import StopRequest
from bulkfetch.http import MAX_ANSWER_BYTES
from bulkfetch.run import RunReport
from bulkfetch.store import Store
from bulkfetch.untrusted import printable

__all__ = ["CUSTOMER_KEY", "PLATFORM_KEY", "add_commands", "client_from"]

# Where the keys come from: environment variables, so that they stay off command lines
# (labor-market's --api-key and --customer-key, where given, go before them).
PLATFORM_KEY = "LMI_PLATFORM_KEY"
CUSTOMER_KEY = "LMI_CUSTOMER_KEY"
# Wire names the Labor Market docs leave open: option -> WireNames field.
_WIRE_OPTIONS = {
    "region_field": "the JSON name of the region code",
    "msa_fallback_field": "the JSON name of the MSA-to-state fallback flag",
    "customer_key_header": "the header that carries the end-customer key",
    "cip_attribution_field": "the occupation field naming the CIP codes it matched",
}


def _lmi_options() -> argparse.ArgumentParser:
    """Options of every Labor Market command: environment and the undocumented wire names."""
    shared = argparse.ArgumentParser(add_help=False)
    shared.add_argument(
        "--environment",
        choices=("test", "production"),
        default="test",
        help="the provider's test (synthetic, not billed) or production API",
    )
    wire = shared.add_argument_group("wire names the provider's docs leave open")
    defaults = WireNames()
    for name, meaning in _WIRE_OPTIONS.items():
        wire.add_argument(
            f"--{name.replace('_', '-')}",
            help=f"{meaning} (default {getattr(defaults, name)!r})",
        )
    return shared


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    lmi = commands.add_parser(
        "labor-market",
        parents=[*options.file_run(), _lmi_options()],
        help="add US labor-market data to a file of SOC or CIP codes",
        epilog=examples(
            "bulkfetch labor-market jobs.csv --by soc --column soc --out out.csv",
            "bulkfetch labor-market programs.csv --by cip --column cip --region CA --out out.xlsx",
        ),
    )
    lmi.add_argument(
        "--by", choices=("soc", "cip"), required=True, help="the kind of code --column holds"
    )
    lmi.add_argument(
        "--region-type",
        choices=REGION_TYPES,
        help="default: what --region's code is (1-2 digits a state, 5 an MSA), else national",
    )
    lmi.add_argument(
        "--region",
        help="a state (CA, California, or its FIPS code 6 or 06) or an MSA code (41860);"
        " 'bulkfetch regions' lists them",
    )
    lmi.add_argument(
        "--include-skills", action="store_true", help="each occupation's skills in the answer"
    )
    lmi.add_argument("--fields", help="comma-separated fields to ask for (sparse fieldset)")
    lmi.add_argument(
        "--msa-fallback", action="store_true", help="state projections where an MSA has none"
    )
    lmi.add_argument(
        "--api-key", help=f"the platform key, pk_... (better: the {PLATFORM_KEY} variable)"
    )
    lmi.add_argument(
        "--customer-key",
        help="the end-customer key, ck_..., that --environment production needs"
        f" (better: the {CUSTOMER_KEY} variable)",
    )
    lmi.set_defaults(handler=_labor_market)

    regions = commands.add_parser(
        "regions",
        parents=[_lmi_options(), options.api()],
        help="the Labor Market API's regions, as a table",
        epilog=examples("bulkfetch regions --type state"),
    )
    regions.add_argument(
        "--type", choices=REGION_TYPES, dest="region_type", help="only regions of this type"
    )
    regions.add_argument("--db", default="bulkfetch.db", help="where the regions are kept")
    regions.set_defaults(handler=_regions)


def client_from(
    environ: Mapping[str, str],
    *,
    environment: str,
    base_url: str | None,
    timeout: float,
    wire: WireNames,
    max_answer_bytes: int = MAX_ANSWER_BYTES,
    plan: bool = False,
    platform_key: str | None = None,
    customer_key: str | None = None,
    options: bool = False,
) -> LaborMarket:
    """A client with the keys given, else those of ``environ`` (none needed for a plan).
    ``options``: the command takes them as --api-key and --customer-key (its errors say so)."""
    given = {PLATFORM_KEY: "--api-key", CUSTOMER_KEY: "--customer-key"} if options else {}

    def missing(kind: str, variable: str) -> str:
        flag = f" or pass {given[variable]}" if variable in given else ""
        return f"no {kind}: set {variable}{flag}"

    platform = key_or_plan(
        platform_key or environ.get(PLATFORM_KEY),
        plan=plan,
        missing=missing("platform key", PLATFORM_KEY),
    )
    customer = customer_key or environ.get(CUSTOMER_KEY) or None
    if environment == "production":  # production calls need it; a plan makes none
        customer = key_or_plan(
            customer,
            plan=plan,
            missing=missing("end-customer key (production calls need one)", CUSTOMER_KEY),
        )
    return LaborMarket(
        platform,
        customer_key=customer,
        environment="production" if environment == "production" else "test",
        base_url=base_url,
        timeout=timeout,
        max_answer_bytes=max_answer_bytes,
        wire=wire,
    )


def _client(args: argparse.Namespace) -> LaborMarket:
    overrides = {name: getattr(args, name) for name in _WIRE_OPTIONS if getattr(args, name)}
    return client_from(
        os.environ,
        environment=args.environment,
        base_url=args.base_url,
        timeout=args.timeout,
        max_answer_bytes=args.max_answer_bytes,
        wire=dataclasses.replace(WireNames(), **overrides),
        plan=getattr(args, "plan", False),
        # labor-market's; regions takes its keys from the variables only.
        platform_key=getattr(args, "api_key", None),
        customer_key=getattr(args, "customer_key", None),
        options=hasattr(args, "api_key"),
    )


def _labor_market(args: argparse.Namespace, err: Console) -> int:
    api = _client(args)

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
                **bulk_options(args, stop, bar),
            )

    return run_bulk_command(job, err, args)


def _regions(args: argparse.Namespace, err: Console) -> int:
    api = _client(args)

    async def fetch() -> list[tuple[str, str, str]]:
        async with api, await Store.open(args.db) as store:
            found = await known_regions(api, store)
        return [(r.type, r.code, r.label) for r in found if args.region_type in (None, r.type)]

    table = Table("type", "code", "label")
    for row in speedups.run(fetch):
        table.add_row(*(Text(printable(cell)) for cell in row))  # the API's text, not markup
    Console(highlight=False).print(table)
    return ExitCode.OK
