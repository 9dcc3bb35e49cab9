"""Allowances over windows longer than a second (``600/minute``, ``2500/day``,
``100000/month``) for one API key, on top of its pace.

:class:`WindowedPacer` is a gate in front of any :class:`~bulkfetch.pacing.Pacer`: once a
call has its send slot, it is counted in each window's allowance in the store
(``store.windows``, under a fingerprint of the key), so that every worker and every run on
the store spends one allowance. A call that finds one spent is held until the next window
opens, or stops the run (``at_limit="stop"``: :class:`~bulkfetch.errors.WindowSpentError`),
saying when that is. A call counts as it is sent, whatever its answer (a 429 or a 500 too,
as a provider counts them); the few whose slot comes just as the run stops count unsent.
Windows are the UTC calendar's, on the injected clock (a window is minutes long at least,
so the workers' clocks agree well enough). The store knows only what went through it: a
fresh store knows nothing of what an earlier one spent.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Literal

from bulkfetch.clock import Clock, SystemClock
from bulkfetch.errors import WindowSpentError
from bulkfetch.pacing import Pacer
from bulkfetch.pacing.limits import Limit
from bulkfetch.store import Allowance, Store

__all__ = ["AtLimit", "WindowedPacer", "spent_now", "utc"]

# What a run does once a window's allowance is spent: wait for the next, or stop.
AtLimit = Literal["wait", "stop"]


class WindowedPacer:
    """A :class:`~bulkfetch.pacing.Pacer` whose calls also keep to allowances over longer
    windows, counted in the store; the pace itself is ``pacer``'s."""

    def __init__(
        self,
        pacer: Pacer,
        store: Store,
        key_id: str,
        limits: Sequence[Limit],
        *,
        at_limit: AtLimit = "wait",
        clock: Clock | None = None,
        tell: Callable[[str], None] | None = None,
    ) -> None:
        """``limits``: windows longer than a second (a second's is the pace). ``tell``:
        hears, once a wait, when calls go on."""
        if not limits or any(limit.per_second for limit in limits):
            raise ValueError("a window's gate takes limits over a minute or longer")
        if at_limit not in ("wait", "stop"):
            raise ValueError(f"at_limit is 'wait' or 'stop'; got {at_limit!r}")
        self._pacer = pacer
        self._store = store
        self._key_id = key_id
        self._limits = tuple(limits)
        self._at_limit = at_limit
        self._clock = clock or SystemClock()
        self._tell = tell or (lambda _notice: None)
        # The allowance found spent last, and when its window ends: until then it stays
        # spent, whatever any worker does, so no call asks the store.
        self._spent: Limit | None = None
        self._opens = 0.0
        self._told = 0.0  # the opening the user heard of last

    @classmethod
    async def join(
        cls,
        pacer: Pacer,
        store: Store,
        key_id: str,
        limits: Sequence[Limit],
        *,
        at_limit: AtLimit = "wait",
        clock: Clock | None = None,
        tell: Callable[[str], None] | None = None,
    ) -> WindowedPacer:
        """The gate of the key's windows on ``store``, in front of ``pacer``."""
        await store.windows.open(key_id, [limit.unit for limit in limits])
        return cls(pacer, store, key_id, limits, at_limit=at_limit, clock=clock, tell=tell)

    @property
    def rate(self) -> float | None:
        return self._pacer.rate

    @property
    def throughput(self) -> int:
        return self._pacer.throughput

    @property
    def learned(self) -> float | None:
        return self._pacer.learned

    def acquire_now(self) -> bool:
        """Never at once: each call is counted in the store's windows first."""
        return False

    async def acquire(self) -> None:
        """Wait for a send slot from the pacer, then count the call in every window; one
        whose allowance is spent holds it until the next window opens (or stops the run)."""
        while True:
            await self._wait_while_spent()
            await self._pacer.acquire()
            now = self._clock.time()
            spent = await self._store.windows.take(self._key_id, _allowances(self._limits, now))
            if not spent:
                return
            for limit in self._limits:
                ends = limit.window(now)[1]
                if limit.unit in spent and ends > self._opens:
                    self._spent, self._opens = limit, ends

    async def _wait_while_spent(self) -> None:
        while self._spent is not None and self._clock.time() < self._opens:
            limit, opens = self._spent, self._opens
            spent = f"the {limit.unit}'s allowance of {limit.count} calls is spent"
            if self._at_limit == "stop":
                raise WindowSpentError(f"{spent}; it opens again at {utc(opens)}", opens_at=opens)
            if self._told != opens:
                self._told = opens
                self._tell(f"{spent} ({limit}): calls go on at {utc(opens)}")
            await self._clock.sleep(opens - self._clock.time())

    def on_success(self, sent_at: float | None = None) -> None:
        self._pacer.on_success(sent_at)

    def on_rate_limited(
        self, retry_after: float | None = None, sent_at: float | None = None
    ) -> None:
        self._pacer.on_rate_limited(retry_after, sent_at)

    def on_headers(self, remaining: int | None, reset_in: float | None) -> None:
        self._pacer.on_headers(remaining, reset_in)

    async def on_stop(self, kind: str, reason: str) -> None:
        await self._pacer.on_stop(kind, reason)


async def spent_now(
    store: Store, key_id: str, limits: Sequence[Limit], now: float
) -> dict[Limit, int]:
    """The calls the store counted for the key in each limit's window at ``now``."""
    counted = await store.windows.spent(key_id, _allowances(limits, now))
    return dict(zip(limits, counted, strict=True))


def utc(moment: float) -> str:
    """A moment (seconds since the epoch) in words: ``2026-12-02 00:00 UTC``."""
    return dt.datetime.fromtimestamp(moment, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def _allowances(limits: Sequence[Limit], now: float) -> list[Allowance]:
    return [Allowance(limit.unit, limit.window(now)[0], limit.count) for limit in limits]
