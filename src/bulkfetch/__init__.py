"""bulkfetch: bulk lookups against rate-limited, paid HTTP APIs.

It never loses work, never pays twice for one lookup, and never gets blocked.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from bulkfetch.apis.crystalroof import (
    CrystalRoof,
    DatasetResult,
    Location,
    OccupationResult,
    enrich,
    parse_location,
)
from bulkfetch.apis.labormarket import LaborMarket, LaborMarketResult, Occupation, labor_market
from bulkfetch.describe import DescribedApi, DescriptionError, load_api
from bulkfetch.engine import EngineSettings, StopRequest
from bulkfetch.errors import (
    ApiError,
    AuthenticationError,
    BadResponseError,
    BulkfetchError,
    CapReachedError,
    ConnectError,
    InvalidInputError,
    MissingColumnError,
    NotFoundError,
    QuotaExhaustedError,
    RateLimitedError,
    RedirectError,
    RejectedError,
    RetryableError,
    ServerError,
    StopRunError,
    StoreBusyError,
    StoreError,
    TransportError,
    UnreachableError,
    UsageError,
    WindowSpentError,
)
from bulkfetch.run import Item, Plan, Run, RunReport, fetch_many, plan, run_file
from bulkfetch.spend import Spend
from bulkfetch.store import Store

try:
    __version__ = version("bulkfetch")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0+unknown"

__all__ = [
    "ApiError",
    "AuthenticationError",
    "BadResponseError",
    "BulkfetchError",
    "CapReachedError",
    "ConnectError",
    "CrystalRoof",
    "DatasetResult",
    "DescribedApi",
    "DescriptionError",
    "EngineSettings",
    "InvalidInputError",
    "Item",
    "LaborMarket",
    "LaborMarketResult",
    "Location",
    "MissingColumnError",
    "NotFoundError",
    "Occupation",
    "OccupationResult",
    "Plan",
    "QuotaExhaustedError",
    "RateLimitedError",
    "RedirectError",
    "RejectedError",
    "RetryableError",
    "Run",
    "RunReport",
    "ServerError",
    "Spend",
    "StopRequest",
    "StopRunError",
    "Store",
    "StoreBusyError",
    "StoreError",
    "TransportError",
    "UnreachableError",
    "UsageError",
    "WindowSpentError",
    "__version__",
    "enrich",
    "fetch_many",
    "labor_market",
    "load_api",
    "parse_location",
    "plan",
    "run_file",
]
