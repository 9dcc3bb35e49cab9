"""bulkfetch: bulk lookups against rate-limited, paid HTTP APIs.

It never loses work, never pays twice for one lookup, and never gets blocked.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from bulkfetch.apis.crystalroof import CrystalRoof, DatasetResult, OccupationResult, enrich
from bulkfetch.apis.labormarket import LaborMarket, LaborMarketResult, Occupation, labor_market
from bulkfetch.bulk import ExitCode, RunReport, run_bulk
from bulkfetch.errors import (
    ApiError,
    AuthenticationError,
    BulkfetchError,
    InvalidInputError,
    NotFoundError,
    QuotaExhaustedError,
    RateLimitedError,
    RetryableError,
    StoreError,
    UsageError,
)
from bulkfetch.locations import Location, parse_location
from bulkfetch.scheduler import EngineSettings, StopRequest
from bulkfetch.store import Store

try:
    __version__ = version("bulkfetch")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0+unknown"

__all__ = [
    "ApiError",
    "AuthenticationError",
    "BulkfetchError",
    "CrystalRoof",
    "DatasetResult",
    "EngineSettings",
    "ExitCode",
    "InvalidInputError",
    "LaborMarket",
    "LaborMarketResult",
    "Location",
    "NotFoundError",
    "Occupation",
    "OccupationResult",
    "QuotaExhaustedError",
    "RateLimitedError",
    "RetryableError",
    "RunReport",
    "StopRequest",
    "Store",
    "StoreError",
    "UsageError",
    "__version__",
    "enrich",
    "labor_market",
    "parse_location",
    "run_bulk",
]
