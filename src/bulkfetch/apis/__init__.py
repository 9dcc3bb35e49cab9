"""The APIs bulkfetch speaks. Each module is one adapter (see :mod:`bulkfetch.adapter`).

A run keeps its adapter's :meth:`~bulkfetch.adapter.Adapter.spec` in the store; a worker
that joins the run rebuilds the adapter from it with the keys of its own environment.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bulkfetch.apis.crystalroof import CrystalRoof
from bulkfetch.apis.labormarket import LaborMarket, WireNames
from bulkfetch.errors import UsageError

__all__ = ["CRYSTALROOF_KEY", "LMI_CUSTOMER_KEY", "LMI_PLATFORM_KEY", "adapter_from_spec"]

# Where the keys come from: environment variables, so that they stay off command lines.
CRYSTALROOF_KEY = "CRYSTALROOF_API_KEY"
LMI_PLATFORM_KEY = "LMI_PLATFORM_KEY"
LMI_CUSTOMER_KEY = "LMI_CUSTOMER_KEY"

_NO_CALLS = "(export only: no calls are made)"


def adapter_from_spec(
    spec: Mapping[str, Any], environ: Mapping[str, str] | None
) -> CrystalRoof | LaborMarket:
    """The adapter a run's spec describes, with keys from ``environ``; ``environ=None``
    gives one that only renders stored answers (``export``) and must make no call."""

    def key(name: str, *, required: bool = True) -> str | None:
        if environ is None:
            return _NO_CALLS
        found = environ.get(name) or None
        if found is None and required:
            raise UsageError(f"no key for the run's API: set {name}")
        return found

    api = spec.get("api")
    timeout = float(spec.get("timeout") or 30.0)
    if api == CrystalRoof.name:
        return CrystalRoof(key(CRYSTALROOF_KEY) or "", base_url=spec["base_url"], timeout=timeout)
    if api == LaborMarket.name:
        wire: dict[str, Any] = {
            name: frozenset(value) if isinstance(value, list) else value
            for name, value in dict(spec.get("wire", {})).items()
        }
        client = LaborMarket(
            key(LMI_PLATFORM_KEY) or "",
            customer_key=key(LMI_CUSTOMER_KEY, required=False),
            environment=spec.get("environment", "test"),
            base_url=spec["base_url"],
            timeout=timeout,
            wire=WireNames(**wire),
        )
        client.prepare(spec.get("by", "soc"))
        return client
    raise UsageError(f"the store holds a run of an API this bulkfetch does not know: {api}")
