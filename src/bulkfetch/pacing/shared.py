"""One rate budget per API key, shared by every worker on a PostgreSQL store.

Each worker asks the store for its next send slot; the store hands slots out on one grid,
``1/rate`` apart on the database's clock, whichever worker asks, so N workers together keep
to the key's limit and share it in the order they ask. A 429 or a provider's reset news
that one worker sees is passed on with its next request and slows them all; a quota or key
stop (402, 401) is recorded on the budget, and every worker stops sending at its next slot,
or sooner: a worker that waited for its slot looks again before it sends.
"""

from __future__ import annotations

from bulkfetch.clock import Clock, SystemClock
from bulkfetch.errors import AuthenticationError, QuotaExhaustedError
from bulkfetch.jobs import StopKind
from bulkfetch.pacing.window import PerSecond, sleep_to_slot, window_pause
from bulkfetch.store import SlotRequest, Store

__all__ = ["SharedRateLimiter"]

# Its slots are a grid on the database's clock, not placed inside the provider's seconds:
# a little under the limit, for wake-ups and the network that jitter by a few ms.
HEADROOM = 0.985


class SharedRateLimiter:
    """A :class:`~bulkfetch.limiter.Pacer` whose slots come from the store's budget."""

    # A worker that waited longer than this for its slot checks for a stop before sending.
    RECHECK_AFTER = 0.05

    def __init__(self, store: Store, key_id: str, *, clock: Clock | None = None) -> None:
        self._store = store
        self._key_id = key_id
        self._clock = clock or SystemClock()
        self._rate: float | None = None
        self._rate_limited = False
        self._pause = 0.0
        self._successes = PerSecond()
        self._sends = PerSecond()

    @classmethod
    async def join(
        cls, store: Store, key_id: str, rate: float | None, *, clock: Clock | None = None
    ) -> SharedRateLimiter:
        """Join the key's budget; ``rate`` (calls a second), if given, becomes its ceiling."""
        ceiling = rate * HEADROOM if rate is not None else None
        await store.budgets.open(key_id, ceiling)
        return cls(store, key_id, clock=clock)

    @property
    def rate(self) -> float | None:
        return self._rate

    @property
    def throughput(self) -> int:
        return self._successes.recent(self._clock.time())

    @property
    def learned(self) -> float | None:
        return None  # the shared budget halves and climbs back; it learns no limit

    async def acquire(self) -> None:
        """Wait for a slot from the budget; one woken after its slot's second ended asks for
        another (see :func:`~bulkfetch.limiter.sleep_to_slot`)."""
        while True:
            request = SlotRequest(
                rate_limited=self._rate_limited,
                sending=float(self._sends.recent(self._clock.time())),
                pause=self._pause,
            )
            self._rate_limited, self._pause = False, 0.0
            grant = await self._store.budgets.take_slot(self._key_id, request)
            self._rate = grant.rate
            if grant.stop_kind is not None:
                raise _stop_error(grant.stop_kind, grant.stop_reason or grant.stop_kind)
            if grant.wait <= 0:
                break
            in_time = await sleep_to_slot(self._clock, grant.wait)
            if grant.wait > self.RECHECK_AFTER:
                stopped = await self._store.budgets.stop_of(self._key_id)
                if stopped is not None:
                    raise _stop_error(*stopped)
            if in_time:
                break
        self._sends.count(self._clock.time())

    def on_success(self, sent_at: float | None = None) -> None:
        self._successes.count(self._clock.time() if sent_at is None else sent_at)

    def on_rate_limited(
        self, retry_after: float | None = None, sent_at: float | None = None
    ) -> None:
        self._rate_limited = True
        self._pause = max(self._pause, retry_after or window_pause(self._clock.time()))

    def on_headers(self, remaining: int | None, reset_in: float | None) -> None:
        if remaining is not None and remaining <= 0 and reset_in is not None and reset_in > 0:
            self._pause = max(self._pause, reset_in)

    async def on_stop(self, kind: str, reason: str) -> None:
        await self._store.budgets.stop(self._key_id, kind, reason)


def _stop_error(kind: str, reason: str) -> QuotaExhaustedError | AuthenticationError:
    """The stop another worker recorded, as the error this worker would have met."""
    if kind == StopKind.QUOTA:
        return QuotaExhaustedError(f"another worker found the package used up: {reason}")
    return AuthenticationError(f"another worker found the key refused: {reason}")
