"""The seam between the engine and an API: what the scheduler needs to know, and no more.

An adapter builds the request for a batch of lookups, sends it, and reads the answer back
into one result per lookup. Failures of the whole call are raised as
:class:`bulkfetch.errors.ApiError` subclasses; their ``disposition`` tells the scheduler
what to do. The scheduler never sees a URL, a key or a body's shape.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from bulkfetch.jobs import Lookup, OutcomeKind

__all__ = ["Adapter", "LookupResult", "Reply"]


@dataclass(frozen=True, slots=True)
class LookupResult:
    """One lookup's part of an answer."""

    kind: OutcomeKind  # DONE, NOT_FOUND or INVALID
    status: int
    body: str | None = None  # JSON text kept in the store, for DONE
    columns: tuple[str, ...] = ()  # the output columns this body fills
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Reply:
    """A whole answer: results aligned with the lookups sent, and the provider's rate news."""

    results: Sequence[LookupResult]
    remaining: int | None = None
    reset_in: float | None = None


class Adapter(Protocol):
    """What the engine needs from an API."""

    @property
    def name(self) -> str:
        """A short name, stored with every job (``crystalroof``)."""
        ...

    @property
    def batch_size(self) -> int:
        """How many lookups one request may carry."""
        ...

    @property
    def fixed_columns(self) -> tuple[str, ...]:
        """Output columns every row has after the value columns (``data_date``)."""
        ...

    @property
    def expands_rows(self) -> bool:
        """Whether one answer may fill several CSV lines (they then get a ``row`` column)."""
        ...

    @property
    def notices(self) -> Sequence[str]:
        """Things the user should hear once, learnt while fetching."""
        ...

    async def fetch(self, lookups: Sequence[Lookup]) -> Reply:
        """Send one request for these lookups: at most ``batch_size`` of them, all alike but
        for the one value a batch varies. ``batch_size`` may change as answers teach more."""
        ...

    def output_rows(self, body: str) -> Sequence[Mapping[str, Any]]:
        """A stored body as flat CSV lines (value and fixed columns); usually one."""
        ...

    def output_document(self, body: str) -> Mapping[str, Any]:
        """A stored body as the nested object written to JSON Lines."""
        ...

    @property
    def rate_key(self) -> str:
        """Names the key's rate budget, shared by every worker that calls with the key: a
        fingerprint, never the key."""
        ...

    def spec(self) -> dict[str, Any]:
        """How a worker rebuilds this adapter with its own keys (JSON; never a key)."""
        ...
