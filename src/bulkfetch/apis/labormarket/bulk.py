"""A whole file of SOC or CIP codes through the Labor Market API, as ``bulkfetch
labor-market`` does it."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Unpack

from bulkfetch.apis.labormarket.client import LaborMarket
from bulkfetch.apis.labormarket.regions import check_region
from bulkfetch.apis.labormarket.wire import By
from bulkfetch.run import RunOptions, RunReport, run_file

__all__ = ["labor_market"]


async def labor_market(
    api: LaborMarket,
    input_path: str | Path,
    *,
    by: By,
    column: str,
    out: str | Path,
    region_type: str | None = None,
    region: str | int | None = None,
    fields: Sequence[str] | None = None,
    include_skills: bool = False,
    msa_fallback: bool = False,
    **options: Unpack[RunOptions],
) -> RunReport:
    """Add labor-market data to every row of a file of SOC or CIP codes.

    Codes are packed 25 to a request (CIP too, unless answers do not say which code an
    occupation came from), split back per code, and stored per code. A state or MSA is
    checked against the API's regions before the first call (a plan, which makes none,
    checks only its form).
    """
    query = {
        "region_type": region_type,
        "region": region,
        "fields": fields,
        "include_skills": include_skills,
        "msa_fallback": msa_fallback,
    }
    operation = api.operation(f"by_{by}", query)  # bad options fail here
    return await run_file(
        operation,
        input_path,
        column=column,
        out=out,
        before=lambda store: check_region(api, store, region_type, region),
        **options,
    )
