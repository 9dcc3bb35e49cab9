"""The pacing a run's calls go through: the key's own in one process, the budget every
worker on a shared store keeps together, and the allowances of longer windows in front."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from bulkfetch.adapter import Adapter
from bulkfetch.clock import Clock
from bulkfetch.pacing import Pacer
from bulkfetch.pacing.limiter import RateLimiter
from bulkfetch.pacing.limits import Limit, limits_of, pace
from bulkfetch.pacing.shared import SharedRateLimiter
from bulkfetch.pacing.windows import AtLimit, WindowedPacer
from bulkfetch.store import Store

__all__ = ["pacer_for"]


async def pacer_for(
    store: Store,
    adapter: Adapter,
    rate: float | None,
    clock: Clock,
    *,
    limits: Sequence[Limit] = (),
    at_limit: AtLimit = "wait",
    tell: Callable[[str], None] | None = None,
) -> Pacer:
    """The pacing of the adapter's key: on a store several workers share, the key's shared
    budget; else the client's own pacer (its single calls share it), at ``rate`` if given,
    else at a per-second limit's. ``limits`` (with the adapter's own, which they override
    unit by unit) over a minute or longer gate it with their allowances, counted in the
    store (see :mod:`bulkfetch.pacing.windows`): ``at_limit`` says what a spent one does,
    and ``tell`` hears when a wait for one ends."""
    limits = limits_of(adapter, limits)
    rate = pace(rate, limits)
    pacer: Pacer
    own = getattr(adapter, "pacer", None)
    if store.shared:
        pacer = await SharedRateLimiter.join(store, adapter.rate_key, rate, clock=clock)
    elif isinstance(own, RateLimiter):
        if rate is not None:
            own.configure(rate)
        pacer = own
    else:
        pacer = RateLimiter(rate, clock=clock)
    windows = [limit for limit in limits if not limit.per_second]
    if not windows:
        return pacer
    return await WindowedPacer.join(
        pacer, store, adapter.rate_key, windows, at_limit=at_limit, clock=clock, tell=tell
    )
