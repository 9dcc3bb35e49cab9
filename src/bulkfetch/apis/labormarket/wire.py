"""Where the Labor Market API is, and the names on its wire, some of which its pages leave
open: each is one setting here, with the documented or most likely default."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = ["BASE_URLS", "MAX_CODES", "NAME", "PATH", "By", "Environment", "WireNames"]

NAME = "labormarket"
MAX_CODES = 25
BASE_URLS = {
    "test": "https://embedded-api.testing.mapademics.com",
    "production": "https://embedded-api.mapademics.com",
}
Environment = Literal["test", "production"]
By = Literal["soc", "cip"]
PATH = "/v1/labor-market-intelligence"


@dataclass(frozen=True, slots=True)
class WireNames:
    """Names on the wire that the provider's pages do not settle, in one place."""

    region_field: str = "region"  # third-party client code sends "region"
    msa_fallback_field: str = "msaFallback"  # the docs describe the flag but not its name
    customer_key_header: str = "X-Customer-Key"  # the API reference (one guide says otherwise)
    platform_key_header: str = "Authorization"  # sent as "Bearer <key>"
    # A CIP answer's occupations may say which input codes they match; under this name.
    cip_attribution_field: str = "matchedCipCodes"
    quota_codes: frozenset[str] = field(
        default_factory=lambda: frozenset({"QUOTA_EXCEEDED", "QUOTA_EXHAUSTED"})
    )
