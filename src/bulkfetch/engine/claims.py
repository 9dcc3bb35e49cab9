"""How much the claimer leases: about a second of calls at a time, or, while the adapter is
probing (it learns its batch size from answers), one batch with nothing else out."""

from __future__ import annotations

import math

from bulkfetch.adapter import Adapter
from bulkfetch.engine.settings import EngineSettings
from bulkfetch.pacing import Pacer

__all__ = ["chunk", "probing"]


def chunk(limiter: Pacer, settings: EngineSettings) -> int:
    """Batches to lease in one claim: about a second of calls (at the limiter's rate, or
    as many as went through in the last second when no rate is set), never fewer than
    the workers send at once nor more than ``claim_limit``."""
    rate = limiter.rate
    per_second = limiter.throughput if rate is None else math.ceil(rate)
    return max(settings.concurrency, min(settings.claim_limit, per_second))


def probing(adapter: Adapter) -> bool:
    """The adapter's optional hint (:attr:`~bulkfetch.adapter.Adapter.probing`; absent:
    False): whether it still learns its batch size from answers."""
    return bool(getattr(adapter, "probing", False))
