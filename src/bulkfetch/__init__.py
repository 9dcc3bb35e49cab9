"""bulkfetch: bulk lookups against rate-limited, paid HTTP APIs.

It never loses work, never pays twice for one lookup, and never gets blocked.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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
    from bulkfetch.frames import enrich_frame
    from bulkfetch.run import Item, Plan, Run, RunReport, fetch_many, run_file
    from bulkfetch.run.plan import plan  # the function, not its module
    from bulkfetch.spend import Spend
    from bulkfetch.store import Store

# What each public name is imported from, when it is first used: ``import bulkfetch`` (and
# the command line, which needs one API's client and not every other's) costs only that.
_WHERE = {
    "CrystalRoof": "bulkfetch.apis.crystalroof",
    "DatasetResult": "bulkfetch.apis.crystalroof",
    "Location": "bulkfetch.apis.crystalroof",
    "OccupationResult": "bulkfetch.apis.crystalroof",
    "enrich": "bulkfetch.apis.crystalroof",
    "parse_location": "bulkfetch.apis.crystalroof",
    "LaborMarket": "bulkfetch.apis.labormarket",
    "LaborMarketResult": "bulkfetch.apis.labormarket",
    "Occupation": "bulkfetch.apis.labormarket",
    "labor_market": "bulkfetch.apis.labormarket",
    "DescribedApi": "bulkfetch.describe",
    "DescriptionError": "bulkfetch.describe",
    "load_api": "bulkfetch.describe",
    "EngineSettings": "bulkfetch.engine",
    "StopRequest": "bulkfetch.engine",
    "ApiError": "bulkfetch.errors",
    "AuthenticationError": "bulkfetch.errors",
    "BadResponseError": "bulkfetch.errors",
    "BulkfetchError": "bulkfetch.errors",
    "CapReachedError": "bulkfetch.errors",
    "ConnectError": "bulkfetch.errors",
    "InvalidInputError": "bulkfetch.errors",
    "MissingColumnError": "bulkfetch.errors",
    "NotFoundError": "bulkfetch.errors",
    "QuotaExhaustedError": "bulkfetch.errors",
    "RateLimitedError": "bulkfetch.errors",
    "RedirectError": "bulkfetch.errors",
    "RejectedError": "bulkfetch.errors",
    "RetryableError": "bulkfetch.errors",
    "ServerError": "bulkfetch.errors",
    "StopRunError": "bulkfetch.errors",
    "StoreBusyError": "bulkfetch.errors",
    "StoreError": "bulkfetch.errors",
    "TransportError": "bulkfetch.errors",
    "UnreachableError": "bulkfetch.errors",
    "UsageError": "bulkfetch.errors",
    "WindowSpentError": "bulkfetch.errors",
    "enrich_frame": "bulkfetch.frames",
    "Item": "bulkfetch.run",
    "Plan": "bulkfetch.run",
    "Run": "bulkfetch.run",
    "RunReport": "bulkfetch.run",
    "fetch_many": "bulkfetch.run",
    "plan": "bulkfetch.run.plan",
    "run_file": "bulkfetch.run",
    "Spend": "bulkfetch.spend",
    "Store": "bulkfetch.store",
}


def __getattr__(name: str) -> Any:
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            value: Any = version("bulkfetch")
        except PackageNotFoundError:  # pragma: no cover - running from a source tree
            value = "0+unknown"
    elif name in _WHERE:
        value = getattr(importlib.import_module(_WHERE[name]), name)
    else:
        raise AttributeError(f"module 'bulkfetch' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


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
    "enrich_frame",
    "fetch_many",
    "labor_market",
    "load_api",
    "parse_location",
    "plan",
    "run_file",
]
