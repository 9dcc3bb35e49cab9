"""One rate budget per API key, shared by every worker on a PostgreSQL store.

The key's :class:`~bulkfetch.pacing.schedule.Schedule` (the policy, the window's fit and
slots, a pause) lives in the store, on the database's clock, and each worker takes its
send slots from it in turn, under the row's lock: N workers together keep to one limit,
placed inside the provider's seconds (or spaced), and share it in the order they ask.
What a worker's answers teach (successes and their latencies, 429s, Retry-After, a
provider's reset news) goes with its next request, so the policy and the fit read every
worker's answers, in the seconds they were sent, and learn the limit and the window's kind
as the in-process limiter does. A pause holds for every worker: one that slept to its
slot asks again before sending, and a pause since it took the slot gives it a new one. A
quota or key stop (402, 401) is recorded on the budget, and every worker stops sending at
its next slot.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from bulkfetch.clock import Clock, SystemClock
from bulkfetch.errors import (
    AuthenticationError,
    QuotaExhaustedError,
    RedirectError,
    StopRunError,
)
from bulkfetch.jobs import StopKind
from bulkfetch.pacing.policy import checked_rate
from bulkfetch.pacing.schedule import Schedule
from bulkfetch.pacing.window import PerSecond, sleep_to_slot
from bulkfetch.store import BudgetState, SlotDecision, SlotGrant, Store

__all__ = ["SharedRateLimiter"]


@dataclass(frozen=True, slots=True)
class _News:
    """One answer's news for the budget, on the database's clock."""

    at: float  # when its call was sent
    latency: float | None = None  # seconds from the send to its answer
    limited: bool = False  # a 429
    retry_after: float | None = None
    resume_at: float | None = None  # a provider's reset: nothing until then


@dataclass(frozen=True, slots=True)
class _Held:
    """A slot this caller holds, the latest it may go, and the budget's pauses counted when
    it was handed out (times on the database's clock)."""

    slot: float
    deadline: float
    epoch: int


class SharedRateLimiter:
    """A :class:`~bulkfetch.limiter.Pacer` whose slots come from the store's budget."""

    SOON = 0.001  # seconds: a slot this close is taken at once, with no sleep
    # A caller that slept longer than this for its slot asks again before sending.
    RECHECK_AFTER = 0.05

    def __init__(self, store: Store, key_id: str, *, clock: Clock | None = None) -> None:
        self._store = store
        self._key_id = key_id
        self._clock = clock or SystemClock()
        self._rate: float | None = None
        self._learned: float | None = None
        self._offset = 0.0  # the database's clock less ours, from the quickest request
        self._quickest = math.inf  # that request's round trip (seconds), slowly forgotten
        self._round_trip = 0.0  # the last request's
        self._news: list[_News] = []
        self._limited = 0  # 429s this worker saw: one since a slot was taken asks again
        self._successes = PerSecond()

    @classmethod
    async def join(
        cls, store: Store, key_id: str, rate: float | None, *, clock: Clock | None = None
    ) -> SharedRateLimiter:
        """Join the key's budget; ``rate`` (calls a second), if given, becomes its ceiling."""
        await store.budgets.open(key_id, None if rate is None else checked_rate(rate))
        return cls(store, key_id, clock=clock)

    @property
    def rate(self) -> float | None:
        return self._rate

    @property
    def throughput(self) -> int:
        return self._successes.recent(self._clock.time())

    @property
    def learned(self) -> float | None:
        return self._learned

    def acquire_now(self) -> bool:
        """Never at once: a slot of the shared budget is the store's to give."""
        return False

    async def acquire(self) -> None:
        """Wait for a slot from the budget; ask again before sending after a long sleep or a
        429, and take a new one if a pause came meanwhile or the wake-up came too late for
        the slot's second (see :func:`~bulkfetch.pacing.window.sleep_to_slot`)."""
        held: _Held | None = None
        while True:
            limited = self._limited
            grant, mine = await self._take(held)
            if grant.stop_kind is not None:
                raise _stop_error(grant.stop_kind, grant.stop_reason or grant.stop_kind)
            # On our clock: the request itself may have taken a while under load.
            wait = grant.slot - self._offset - self._clock.time()
            if held == mine or wait <= self.SOON:
                # Late by no more than the request that brought it: it was in time when
                # handed out. Later (a busy database or loop), it could crowd the next.
                if self._clock.time() + self._offset - self._round_trip <= mine.deadline:
                    return
                held = None  # the request took it past the slot's second: another
                continue
            in_time = await sleep_to_slot(self._clock, wait, mine.deadline - self._offset)
            if in_time and wait <= self.RECHECK_AFTER and limited == self._limited:
                return
            held = mine if in_time else None

    async def _take(self, held: _Held | None) -> tuple[SlotGrant, _Held]:
        """One request to the budget: this worker's news in, ``held`` kept if no pause came
        since it was handed out, else the next free slot."""
        news, self._news = self._news, []
        mine: list[_Held] = []

        def decide(budget: BudgetState) -> SlotDecision:
            schedule = Schedule(budget.ceiling)
            if budget.pacing is not None:
                schedule = Schedule.loads(budget.pacing)
                if budget.ceiling is not None and schedule.policy.ceiling != budget.ceiling:
                    schedule.policy.configure(budget.ceiling)
            _teach(schedule, news, budget.now)
            if held is not None and held.epoch == schedule.epoch:
                slot = held.slot
            else:
                slot = schedule.slot(budget.now)
            mine[:] = [_Held(slot, schedule.deadline(slot), schedule.epoch)]
            learned = schedule.policy.last_learned
            self._learned = None if learned is None else float(learned)
            return SlotDecision(schedule.dumps(), schedule.policy.budget, slot)

        sent = self._clock.time()
        grant = await self._store.budgets.take_slot(self._key_id, decide)
        answered = self._clock.time()
        self._round_trip = answered - sent
        # The clocks' difference, as well as one request can tell it: its round trip's
        # middle against the database's now; the quickest request tells it best.
        self._quickest *= 1.01
        if answered - sent <= self._quickest:
            self._quickest = answered - sent
            self._offset = grant.now - (sent + answered) / 2
        self._rate = grant.rate
        return grant, (mine[0] if mine else _Held(grant.slot, grant.slot, -1))

    def on_success(self, sent_at: float | None = None) -> None:
        now = self._clock.time()
        at = now if sent_at is None else sent_at
        self._successes.count(at)
        self._news.append(_News(at + self._offset, latency=now - at))

    def on_rate_limited(
        self, retry_after: float | None = None, sent_at: float | None = None
    ) -> None:
        self._limited += 1
        now = self._clock.time()
        at = now if sent_at is None else sent_at
        news = _News(at + self._offset, now - at, limited=True, retry_after=retry_after)
        self._news.append(news)

    def on_headers(self, remaining: int | None, reset_in: float | None) -> None:
        if remaining is not None and remaining <= 0 and reset_in is not None and reset_in > 0:
            now = self._clock.time() + self._offset
            self._news.append(_News(now, resume_at=now + reset_in))

    async def on_stop(self, kind: str, reason: str) -> None:
        await self._store.budgets.stop(self._key_id, kind, reason)


def _teach(schedule: Schedule, news: list[_News], now: float) -> None:
    """What a worker's answers teach the key's schedule, in the order they were sent."""
    for item in sorted(news, key=lambda item: item.at):
        if item.resume_at is not None:
            schedule.pause_until(item.resume_at)
        elif item.limited:
            schedule.rate_limited(item.at, now, item.retry_after, item.latency)
        else:
            schedule.success(item.at, now, item.latency)


def _stop_error(kind: str, reason: str) -> StopRunError:
    """The stop another worker recorded, as the error this worker would have met."""
    if kind == StopKind.QUOTA:
        return QuotaExhaustedError(f"another worker found the package used up: {reason}")
    if kind == StopKind.REDIRECTED:
        return RedirectError(f"another worker was redirected: {reason}")
    return AuthenticationError(f"another worker found the key refused: {reason}")
