"""A whole file of locations through CrystalRoof, as ``bulkfetch enrich`` does it: one
dataset, or several in one pass (each row's answers side by side)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Unpack

from bulkfetch.adapter import Operation
from bulkfetch.apis.crystalroof.catalogue import DatasetChoice, choose, parse_choice, part_names
from bulkfetch.apis.crystalroof.client import OCCUPATION, CrystalRoof, DatasetOperation
from bulkfetch.apis.crystalroof.columns import LocationColumns
from bulkfetch.errors import UsageError
from bulkfetch.run import RunOptions, RunReport, run_file

__all__ = ["choices", "enrich"]


async def enrich(
    api: CrystalRoof,
    input_path: str | Path,
    *,
    out: str | Path,
    column: str | None = None,
    lat_column: str | None = None,
    lon_column: str | None = None,
    uprn_column: str | None = None,
    dataset: str | Sequence[str] = OCCUPATION,
    area_type: str | None = None,
    **options: Unpack[RunOptions],
) -> RunReport:
    """Add CrystalRoof datasets' columns to every row of a file of locations.

    ``await enrich(api, "in.csv", column="postcode", out="out.csv", dataset=["occupation:
    area_type=lsoa", "income", "flood-risk"], rate=5)``

    ``dataset``: one or several, each a catalogue name or ``<category>/<method>``, with
    options after a colon (``crime:month=2024-05``); ``area_type`` goes to those that take
    one and were not given their own. With several, each one's columns are prefixed by its
    name. The location is in ``column`` (a postcode, ``lat,long`` or UPRN), or
    ``lat_column`` and ``lon_column``, or ``uprn_column``: with several, a row's UPRN is
    tried first, then its ``column``, then its coordinates.
    """
    where = LocationColumns(column, lat_column, lon_column, uprn_column)
    picked = choices([dataset] if isinstance(dataset, str) else list(dataset), area_type)
    operations: dict[str, Operation[Any]] = {
        name: DatasetOperation.of(api, choice) for name, choice in picked.items()
    }
    target = next(iter(operations.values())) if len(operations) == 1 else operations
    return await run_file(target, input_path, column=where, out=out, **options)


def choices(datasets: Sequence[str], area_type: str | None) -> dict[str, DatasetChoice]:
    """The datasets asked for, by the name their columns carry; a usage error for one that
    cannot be asked as given, or twice."""
    if not datasets:
        raise UsageError("give at least one dataset")
    picked: list[DatasetChoice] = []
    for text in datasets:
        name, options = parse_choice(text)
        choice = choose(name, options, area_type=area_type)
        if choice in picked:
            raise UsageError(f"the dataset {text!r} is given twice")
        picked.append(choice)
    names = part_names([(choice.short, choice.area_type) for choice in picked])
    return dict(zip(names, picked, strict=True))
