"""The regions the Labor Market API knows, fetched once per origin and kept in the store,
so that an unknown state or MSA is refused before a bulk run spends a call on it."""

from __future__ import annotations

import time

from bulkfetch.apis.labormarket.client import LaborMarket
from bulkfetch.apis.labormarket.codes import resolve_region
from bulkfetch.apis.labormarket.models import Region
from bulkfetch.errors import UsageError
from bulkfetch.store import Store

__all__ = ["check_region", "known_regions"]


async def known_regions(api: LaborMarket, store: Store) -> list[Region]:
    """The API's regions, fetched once per origin and kept in the store."""
    kept = await store.reference.get(api.origin, "regions")
    if kept is None:
        kept = [[r.type, r.code, r.label] for r in await api.regions()]
        await store.reference.put(api.origin, "regions", kept, now=time.time())
    return [Region(*row) for row in kept]


async def check_region(
    api: LaborMarket, store: Store, region_type: str | None, region: str | int | None
) -> None:
    """Refuse an unknown state or MSA code before a bulk run spends a call on it."""
    region_type, region = resolve_region(region_type, region)
    if region_type == "national":
        return
    codes = {r.code for r in await known_regions(api, store) if r.type == region_type}
    if region not in codes:
        raise UsageError(
            f"{region!r} is not a known {region_type} code; "
            f"'bulkfetch regions --type {region_type}' lists them"
        )
