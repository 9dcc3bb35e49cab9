"""Pacing: how fast calls go out for one API key, and what 429s and headers teach.

:class:`Pacer` is what the engine asks of a pacer; :class:`~bulkfetch.pacing.limiter.RateLimiter`
paces one process, :class:`~bulkfetch.pacing.shared.SharedRateLimiter` every worker on a
shared store.
"""

from __future__ import annotations

from typing import Protocol

__all__ = ["Pacer"]


class Pacer(Protocol):
    """What the engine asks of a rate limiter, in-process or shared by workers."""

    @property
    def rate(self) -> float | None:
        """The rate calls are spaced at now; None while unlimited."""
        ...

    @property
    def throughput(self) -> int:
        """Calls that went through in the last whole second (or this one so far)."""
        ...

    @property
    def learned(self) -> float | None:
        """The provider's limit as last learned from its 429s (calls a second), if any."""
        ...

    def acquire_now(self) -> bool:
        """Take this caller's slot if it is due now, without waiting (cheaper than
        :meth:`acquire` when the pacer has room); False: :meth:`acquire` waits for it."""
        ...

    async def acquire(self) -> None:
        """Wait for this caller's slot. A shared limiter raises a
        :class:`~bulkfetch.errors.StopRunError` when another worker stopped the key."""
        ...

    def on_success(self, sent_at: float | None = None) -> None:
        """A call went through; ``sent_at``: when it was sent (seconds since the epoch),
        the second the provider counted it in; now if not given."""
        ...

    def on_rate_limited(
        self, retry_after: float | None = None, sent_at: float | None = None
    ) -> None:
        """A 429 for a call sent at ``sent_at`` (seconds since the epoch; now if not
        given), with the provider's Retry-After if it gave one."""
        ...

    def on_headers(self, remaining: int | None, reset_in: float | None) -> None: ...

    async def on_stop(self, kind: str, reason: str) -> None:
        """This worker saw a quota or key stop: tell whoever shares the key."""
        ...
