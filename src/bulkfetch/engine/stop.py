"""Why a run must stop sending: the first reason given wins."""

from __future__ import annotations

import anyio

from bulkfetch.errors import QuotaExhaustedError, StopRunError, UnreachableError
from bulkfetch.jobs import StopKind

__all__ = ["StopRequest", "stop_kind"]


class StopRequest:
    """Why the run must stop sending; the first reason given wins."""

    def __init__(self) -> None:
        self.kind: str | None = None
        self.reason: str | None = None
        self.event = anyio.Event()

    def request(self, kind: str, reason: str) -> None:
        if self.kind is None:
            self.kind, self.reason = kind, reason
            self.event.set()

    @property
    def requested(self) -> bool:
        return self.kind is not None


def stop_kind(exc: StopRunError) -> str:
    """The :class:`StopKind` an error that stops a run stands for."""
    if isinstance(exc, QuotaExhaustedError):
        return StopKind.QUOTA
    if isinstance(exc, UnreachableError):
        return StopKind.UNREACHABLE
    return StopKind.AUTH
