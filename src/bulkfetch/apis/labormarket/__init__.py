"""Labor Market Intelligence (US, Mapademics): occupations and labor-market data by SOC or
CIP codes. The client, its results, the codes it reads, and a whole file at once."""

from __future__ import annotations

from bulkfetch.apis.labormarket.bulk import labor_market
from bulkfetch.apis.labormarket.client import CodesOperation, LaborMarket
from bulkfetch.apis.labormarket.codes import (
    REGION_TYPES,
    normalise_cip,
    normalise_soc,
    resolve_region,
)
from bulkfetch.apis.labormarket.models import (
    Demand,
    LaborMarketData,
    LaborMarketResult,
    Occupation,
    Region,
    Skill,
    Warning,
)
from bulkfetch.apis.labormarket.regions import check_region, known_regions
from bulkfetch.apis.labormarket.wire import BASE_URLS, MAX_CODES, NAME, WireNames

__all__ = [
    "BASE_URLS",
    "MAX_CODES",
    "NAME",
    "REGION_TYPES",
    "CodesOperation",
    "Demand",
    "LaborMarket",
    "LaborMarketData",
    "LaborMarketResult",
    "Occupation",
    "Region",
    "Skill",
    "Warning",
    "WireNames",
    "check_region",
    "known_regions",
    "labor_market",
    "normalise_cip",
    "normalise_soc",
    "resolve_region",
]
