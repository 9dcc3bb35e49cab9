"""How hard the engine works and how patiently it retries."""

from __future__ import annotations

import random
from dataclasses import dataclass

__all__ = ["EngineSettings"]


@dataclass(frozen=True, slots=True)
class EngineSettings:
    """How hard the engine works and how patiently it retries."""

    concurrency: int = 16  # requests in flight at once
    max_attempts: int = 5  # a job failing this often ends FAILED (a later run tries again)
    backoff_base: float = 0.5  # seconds; the first retry waits up to this, doubling each time
    backoff_cap: float = 60.0
    lease_seconds: float = 60.0  # renewed every third of it while the worker lives
    claim_limit: int = 256  # requests claimed in one transaction, at most

    def __post_init__(self) -> None:
        if self.concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")

    def backoff(self, attempts: int, retry_after: float | None, rng: random.Random) -> float:
        """Full jitter, never shorter than what the provider asked for."""
        ceiling = min(self.backoff_cap, self.backoff_base * (2.0**attempts))
        return max(retry_after or 0.0, rng.uniform(0.0, ceiling))
