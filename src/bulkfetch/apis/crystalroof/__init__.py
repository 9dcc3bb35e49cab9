"""CrystalRoof (UK): Census 2021 occupation and many datasets of the same shape, by
postcode, coordinates or UPRN. The client, its results, and a whole file at once."""

from __future__ import annotations

from bulkfetch.apis.crystalroof.bulk import enrich
from bulkfetch.apis.crystalroof.catalogue import AREA_TYPES, CATALOGUE, Dataset, choose
from bulkfetch.apis.crystalroof.client import (
    DEFAULT_BASE_URL,
    NAME,
    OCCUPATION,
    CrystalRoof,
    DatasetOperation,
)
from bulkfetch.apis.crystalroof.columns import LocationColumns
from bulkfetch.apis.crystalroof.locations import Location, LocationKind, parse_location
from bulkfetch.apis.crystalroof.models import DatasetResult, OccupationResult

__all__ = [
    "AREA_TYPES",
    "CATALOGUE",
    "DEFAULT_BASE_URL",
    "NAME",
    "OCCUPATION",
    "CrystalRoof",
    "Dataset",
    "DatasetOperation",
    "DatasetResult",
    "Location",
    "LocationColumns",
    "LocationKind",
    "OccupationResult",
    "choose",
    "enrich",
    "parse_location",
]
