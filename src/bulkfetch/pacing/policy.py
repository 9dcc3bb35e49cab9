"""What the provider's answers teach about its limit: one policy, as pure functions of the
answers and the times they were sent, with no waiting in it.

A provider that counts calls per wall-clock second lets ``L`` through in each second and
answers 429 to the rest. So the calls are counted here in the seconds they were *sent*
(the provider counts arrivals), and a 429 is read against the calls of its own second:

- **Whether it stands alone.** A limit refuses every call after it in its second: 429s in
  a row (no success sent between them) are the limit's, and pause sending to the next
  second; two in a row where about as many got through as ever did in a second (``t``
  near the most), three anywhere (a limit that fell). One alone is most likely a 429 at
  random (a provider under load): it is retried and costs nothing more, so 5% of calls
  refused at random keep the rate near the limit. 429s in a row with nothing through
  before them (the second spent already, or an outage refusing everyone) pause too, and
  teach nothing.
- **Whether it comes back.** A limit shows the same ``t`` in the next seconds; a 429 at
  random, or a burst of them, lands at another count. Two seconds within ``CONFIRM_SECONDS``
  whose 429s came after the same number of successes teach the limit: ``t`` a second,
  exactly (sends are placed inside the provider's seconds, so none needs headroom). A
  single 429 is such a sign only at or above the most that ever got through in a second
  (below that, it is one at random).

A learned limit holds for ``HOLD_SECONDS``, then is probed above (a limit may rise).
Without a configured rate the budget starts small and grows fourfold each second that uses
it all with no 429 (slow start): the first seconds of a run meet a 429 or two, not the
burst of every call in flight.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field
from typing import Any

__all__ = ["PacingPolicy", "checked_rate"]


@dataclass(slots=True)
class _Second:
    """The answers to the calls sent in one second of the wall clock."""

    successes: list[float] = field(default_factory=list)  # send times, sorted
    limited: list[float] = field(default_factory=list)  # send times of its 429s, sorted

    def through_before(self, at: float) -> int:
        """Successes of calls sent before (or with) one sent at ``at``."""
        return bisect.bisect_right(self.successes, at)


class PacingPolicy:
    """The calls a second to send at (the budget), from what answers teach."""

    HOLD_SECONDS = 30.0  # a learned limit holds this long before probing above it
    CONFIRM_SECONDS = 3  # two signs of a limit at most this many seconds apart teach it
    START = 16.0  # without a configured rate: the first second's budget (slow start)
    GROWTH = 4.0  # and its growth a full second with no 429, until the first 429
    USED = 0.75  # a second that sent this share of its budget was full (we may be slower)
    KEEP = 6  # seconds of answers kept
    NEAR_MOST = 0.9  # of the most that got through in a second: where a limit would refuse

    def __init__(
        self, ceiling: float | None, *, min_rate: float = 0.5, probe_seconds: float = 10.0
    ) -> None:
        self.ceiling = None if ceiling is None else checked_rate(ceiling)
        self.budget: float = self.ceiling if self.ceiling is not None else self.START
        self._min_rate = min_rate
        self._probe_seconds = probe_seconds
        self._seconds: dict[int, _Second] = {}
        self._most_through = 0  # the most successes any one second held
        self._sign: tuple[int, int] | None = None  # (second, t): a limit's sign awaiting another
        self._learned: int | None = None
        self._learned_at = 0.0
        self.last_learned: int | None = None
        self.slow_start = ceiling is None
        self._succeeded_since_pause = True
        self._paused_second = -1  # the last second a pause was called for
        self._grown = -1  # the last second slow start grew the budget in

    def configure(self, rate: float) -> None:
        """The user's rate (calls a second) is the ceiling from now on."""
        self.ceiling = rate = checked_rate(rate)
        self.slow_start = False
        self.budget = min(self.budget, rate) if self._learned is not None else rate

    def _second(self, at: float) -> _Second:
        second = math.floor(at)
        found = self._seconds.get(second)
        if found is None:
            found = self._seconds[second] = _Second()
            for old in sorted(self._seconds)[: -self.KEEP]:
                del self._seconds[old]
        return found

    def through(self, now: float) -> int:
        """Successes of the last whole second or this one so far."""
        second = math.floor(now)
        found = [self._seconds.get(s) for s in (second, second - 1)]
        return max((len(record.successes) for record in found if record), default=0)

    def success(self, sent_at: float, now: float) -> None:
        """A call sent at ``sent_at`` went through (``now``: the wall clock)."""
        record = self._second(sent_at)
        bisect.insort(record.successes, sent_at)
        self._most_through = max(self._most_through, len(record.successes))
        self._succeeded_since_pause = True
        if self._learned is not None and now - self._learned_at >= self.HOLD_SECONDS:
            self._learned = None  # probe above it: the provider may allow more by now
        if self._learned is not None:
            return
        if self.slow_start:
            # The second before used most of its budget with no 429: grow, from this one.
            second = math.floor(sent_at)
            before = self._seconds.get(second - 1)
            full = before is not None and len(before.successes) >= self.USED * self.budget
            if full and before is not None and not before.limited and self._grown < second:
                self.budget *= self.GROWTH
                self._grown = second
            return
        goal = self.ceiling if self.ceiling is not None else 2.0 * self.budget
        if self.budget < goal:
            step = goal / (2.0 * self._probe_seconds * max(self.budget, 1.0))
            self.budget = min(goal, self.budget + step)

    def rate_limited(self, sent_at: float, now: float) -> bool:
        """A call sent at ``sent_at`` met a 429: whether to pause to the next second."""
        record = self._second(sent_at)
        through = record.through_before(sent_at)
        place = bisect.bisect_right(record.limited, sent_at)
        # The 429s in a row this one ends: sent one after another, no success between.
        run = 1
        while place - run >= 0 and record.through_before(record.limited[place - run]) == through:
            run += 1
        first = place == 0
        record.limited.insert(place, sent_at)
        if math.floor(sent_at) <= self._paused_second:
            return False  # sent before the pause for its second began: the same event
        # Near the most that ever got through in a second: where a limit would refuse.
        high = through >= self.NEAR_MOST * self._most_through
        limit_like = through > 0 and ((run >= 2 and high) or run >= 3)
        if limit_like or (first and through >= self._most_through > 0):
            self._sign_of_limit(math.floor(sent_at), through, now)
        pause = limit_like or (through == 0 and run >= 2)
        if pause:
            self.slow_start = False  # a limit met (or an outage): from here, by the policy
            self._paused_second = math.floor(sent_at)
            # Nothing at all went through since the last pause: slow down besides.
            if not self._succeeded_since_pause:
                self.budget = max(self._min_rate, self.budget / 2)
            self._succeeded_since_pause = False
        return pause

    def _sign_of_limit(self, second: int, through: int, now: float) -> None:
        sign, self._sign = self._sign, (second, through)
        if sign is None or sign[0] == second or second - sign[0] > self.CONFIRM_SECONDS:
            return
        if abs(through - sign[1]) > max(1.0, 0.05 * sign[1]):
            return
        limit = min(through, sign[1])
        self._learned, self._learned_at, self.last_learned = limit, now, limit
        self._most_through = limit
        self.budget = float(limit) if self.ceiling is None else min(self.ceiling, limit)
        self._sign = None

    def dump(self) -> dict[str, Any]:
        """What it knows, as JSON values (a shared budget keeps it in the store)."""
        return {
            "ceiling": self.ceiling,
            "budget": self.budget,
            "min_rate": self._min_rate,
            "probe_seconds": self._probe_seconds,
            "seconds": {str(s): [r.successes, r.limited] for s, r in self._seconds.items()},
            "most_through": self._most_through,
            "sign": self._sign,
            "learned": [self._learned, self._learned_at, self.last_learned],
            "slow_start": self.slow_start,
            "succeeded_since_pause": self._succeeded_since_pause,
            "paused_second": self._paused_second,
            "grown": self._grown,
        }

    @classmethod
    def load(cls, state: dict[str, Any]) -> PacingPolicy:
        """The policy :meth:`dump` gave ``state`` of."""
        policy = cls(
            state["ceiling"], min_rate=state["min_rate"], probe_seconds=state["probe_seconds"]
        )
        policy.budget = state["budget"]
        policy._seconds = {int(s): _Second(*lists) for s, lists in state["seconds"].items()}
        policy._most_through = state["most_through"]
        policy._sign = None if state["sign"] is None else (state["sign"][0], state["sign"][1])
        policy._learned, policy._learned_at, policy.last_learned = state["learned"]
        policy.slow_start = state["slow_start"]
        policy._succeeded_since_pause = state["succeeded_since_pause"]
        policy._paused_second = state["paused_second"]
        policy._grown = state["grown"]
        return policy


def checked_rate(rate: float) -> float:
    """A rate the user gave (calls a second): positive and finite, else a ValueError (no
    limit at all is ``None``, not infinity)."""
    if not (math.isfinite(rate) and rate > 0):
        raise ValueError(f"a rate is a positive number of calls a second; got {rate!r}")
    return float(rate)
