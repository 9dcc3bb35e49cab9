"""A whole file of locations through CrystalRoof, as ``bulkfetch enrich`` does it."""

from __future__ import annotations

from pathlib import Path
from typing import Unpack

from bulkfetch.apis.crystalroof.client import OCCUPATION, CrystalRoof
from bulkfetch.run import RunOptions, RunReport, run_file

__all__ = ["enrich"]


async def enrich(
    api: CrystalRoof,
    input_path: str | Path,
    *,
    column: str,
    out: str | Path,
    dataset: str = OCCUPATION,
    area_type: str | None = "oa",
    **options: Unpack[RunOptions],
) -> RunReport:
    """Add a CrystalRoof dataset's columns to every row of a file of locations.

    ``await enrich(api, "postcodes.csv", column="postcode", out="enriched.csv", rate=5)``
    """
    operation = api.operation("dataset", {"dataset": dataset, "area_type": area_type})
    return await run_file(operation, input_path, column=column, out=out, **options)
