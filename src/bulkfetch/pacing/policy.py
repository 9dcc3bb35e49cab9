"""What the provider's answers teach about its limit: one policy, as pure functions of the
answers and the times they were sent, with no waiting in it.

A provider lets ``L`` calls through in a window of a second (its own seconds, at some phase
of ours, or any second: a sliding window, a bucket) and answers 429 to the rest. So the
calls are counted here by when they were *sent* (the provider counts arrivals), and a 429
is read against two counts: the successes of its own second (ours, shifted to the phase
the :class:`~bulkfetch.pacing.fit.WindowFit` found) and of the second before it (the span
any window of a second holds, at any phase):

- **Whether it stands alone.** A limit refuses every call after it in its window: 429s in
  a row (no success sent between them) are the limit's, and pause sending to the next
  second; two in a row where about as many got through as ever did in a second (``t``
  near the most), three anywhere (a limit that fell). One alone is most likely a 429 at
  random (a provider under load): it is retried and costs nothing more, so 5% of calls
  refused at random keep the rate near the limit. 429s in a row with nothing through
  before them (the second spent already, or an outage refusing everyone) pause too, and
  teach nothing. Calls spaced evenly (no fixed seconds fit), a 429 alone near the most is
  a sign too: such windows refuse one call at a time.
- **Whether it comes back.** A limit shows the same ``t`` in the next seconds; a 429 at
  random, or a burst of them, lands at another count. Two seconds within ``CONFIRM_SECONDS``
  whose signs agree teach the limit: the later one's own second's count if those agree (it
  follows a pause, so no call of the second before took its room), else the spans'
  (the fewer: a window at another phase than ours). Told a limit, a lower one is
  learned only from a count under what is sent (429s near it are of the window's shape);
  from 429s alone, only well under it (``WELL_UNDER``: 429s at random land near it),
  unless 15% of the calls of the last seconds met one (``PERSISTENT``: not at random).
- **Whether the window refills as it goes.** Fewer through after each pause than a second
  held before (a bucket: a pause refills only its burst): the most is allowed, the calls
  are spaced, and the limit is learned from the spans above it.

A limit a model of the window gave (:meth:`adopt`) holds for ``HOLD_SECONDS``, then is
probed above (a limit may rise); one learned from counts alone holds ``UNSURE_SECONDS`` at
first, twice as long each time it is learned again. A budget halved
under it (an outage's pauses) climbs back. Without a configured rate the budget starts
small and grows fourfold each half second that uses it all with no 429 (slow start): the
first seconds of a run meet a 429 or two, not the burst of every call in flight.
"""

from __future__ import annotations

import bisect
import math
from typing import Any

__all__ = ["PacingPolicy", "checked_rate"]


class PacingPolicy:
    """The calls a second to send at (the budget), from what answers teach."""

    HOLD_SECONDS = 60.0  # a learned limit holds this long before probing above it
    UNSURE_SECONDS = 5.0  # or, learned from counts with no model sure of it, at first
    CONFIRM_SECONDS = 3  # two signs of a limit at most this many seconds apart teach it
    START = 16.0  # without a configured rate: the first second's budget (slow start)
    STEP = 0.5  # seconds: slow start grows the budget a step at a time
    GROWTH = 4.0  # fourfold each step that used it all with no 429, until the first 429
    USED = 0.75  # a second that sent this share of its budget was full (we may be slower)
    KEEP = 6  # seconds of answers kept
    NEAR_MOST = 0.9  # of the most that got through in a second: where a limit would refuse
    WELL_UNDER = 0.8  # of the rate sent: a limit learned from 429s near it is the window's
    PERSISTENT = 0.15  # of the calls of the last ``LATELY`` seconds: 429s not at random
    LATELY = 4.0  # seconds (of send times, within the ``KEEP`` kept)
    BUSY = 0.75  # of the known limit: a second that held this much was at it
    SPACED_NEAR = 0.8  # and where a window with no fixed seconds would, calls spaced
    LATE = 0.25  # seconds: a call sent this long before its second ends may arrive after it

    def __init__(
        self, ceiling: float | None, *, min_rate: float = 0.5, probe_seconds: float = 10.0
    ) -> None:
        self.ceiling = None if ceiling is None else checked_rate(ceiling)
        self.budget: float = self.ceiling if self.ceiling is not None else self.START
        self._min_rate = min_rate
        self._probe_seconds = probe_seconds
        self._through: list[float] = []  # send times of the calls that went through, sorted
        self._refused: list[float] = []  # and of those that met a 429
        self._most_through = 0  # the most successes any one-second span held
        # (second, successes in it, in the second before): a limit's sign awaiting another
        self._sign: tuple[int, int, int] | None = None
        self._prior: tuple[int, int, int] | None = None  # the sign of a second before
        self._learned: int | None = None
        self._learned_at = 0.0
        self.last_learned: int | None = None
        self.slow_start = ceiling is None
        self.shaped = False  # fewer got through after pauses than before: no fixed seconds
        self.run = 0  # the 429s in a row the last one ended
        self._succeeded_since_pause = True
        self._paused_second = -1  # the second (ours, at the fit's phase) last paused in
        self._grown = -1  # the last step slow start grew the budget in
        self.modelled = False  # the limit learned is a model's of the answers: as if told
        self._unsure = self.UNSURE_SECONDS  # a limit learned from counts holds so long

    def configure(self, rate: float) -> None:
        """The user's rate (calls a second) is the ceiling from now on."""
        self.ceiling = rate = checked_rate(rate)
        self.slow_start = False
        self.budget = min(self.budget, rate) if self._learned is not None else rate

    def _between(self, times: list[float], start: float, end: float) -> int:
        """How many of ``times`` fall in (``start``, ``end``]."""
        return bisect.bisect_right(times, end) - bisect.bisect_right(times, start)

    def _keep(self, times: list[float], at: float) -> None:
        bisect.insort(times, at)
        if times[0] < times[-1] - self.KEEP:
            del times[: bisect.bisect_left(times, times[-1] - self.KEEP)]

    def through(self, now: float) -> int:
        """Successes of the last whole second or this one so far."""
        second = math.floor(now)
        return max(
            self._between(self._through, second - 1e-9, now),
            self._between(self._through, second - 1 - 1e-9, second - 1e-9),
        )

    def success(self, sent_at: float, now: float) -> None:
        """A call sent at ``sent_at`` went through (``now``: the wall clock)."""
        self._keep(self._through, sent_at)
        # The most a window held: no more than a second of ours nor the second before held.
        own = self._between(self._through, math.floor(sent_at) - 1e-9, sent_at)
        span = self._between(self._through, sent_at - 1.0, sent_at)
        self._most_through = max(self._most_through, min(own, span))
        self._succeeded_since_pause = True
        # A limit no model is sure of is probed soon: its pauses give the model answers
        # to fit; each time it is learned again, it holds twice as long.
        hold = self.HOLD_SECONDS if self.modelled else self._unsure
        if self._learned is not None and now - self._learned_at >= hold:
            self._learned = None  # probe above it: the provider may allow more by now
        if self._learned is not None:
            # Halved under it (an outage's pauses): back to it, half a call a second a call.
            most = min(self._learned, self.ceiling or math.inf)
            self.budget = min(float(most), self.budget + 0.5)
            return
        if self.slow_start:
            # The step before used most of its budget with no 429: grow, from this one.
            step = math.floor(sent_at / self.STEP)
            start, end = (step - 1) * self.STEP - 1e-9, step * self.STEP - 1e-9
            used = self._between(self._through, start, end) >= self.USED * self.budget * self.STEP
            if used and not self._between(self._refused, start, end) and self._grown < step:
                self.budget *= self.GROWTH
                self._grown = step
            return
        goal = self.ceiling if self.ceiling is not None else 2.0 * self.budget
        if self.budget < goal:
            rise = goal / (2.0 * self._probe_seconds * max(self.budget, 1.0))
            self.budget = min(goal, self.budget + rise)

    def busy(self, sent_at: float, phase: float = 0.0) -> bool:
        """Whether a 429 for a call sent at ``sent_at`` tells of the window: sent after the
        second of the last pause (and its learning), at or under the known limit, after a
        success in its own second (ours shifted by ``phase``: an outage refuses from a
        second's start), and the second before it held most of the limit (not a limit well
        under it)."""
        limit = self.limit
        if limit is None or self.budget > limit:
            return False  # above it (probing): the 429s are the probe's
        if math.floor(sent_at - phase) <= self._paused_second:
            return False  # of the second a pause was called in: that event's
        own = math.floor(sent_at - phase) + phase
        if not self._between(self._through, own - 1e-9, sent_at):
            return False
        return self._between(self._through, sent_at - 1.0, sent_at) >= self.BUSY * limit

    def at_ceiling(self, sent_at: float) -> bool:
        """Whether the second before ``sent_at`` held about the limit told (or modelled),
        and the 429 for it came alone or second in a row (three in a row: the window is
        spent)."""
        through = self._between(self._through, sent_at - 1.0, sent_at)
        told = self.ceiling if self.ceiling is not None else self._modelled()
        return told is not None and through >= self.NEAR_MOST * told - 1 and self.run < 3

    def _modelled(self) -> float | None:
        return float(self._learned) if self.modelled and self._learned is not None else None

    def adopt(self, limit: int, now: float, *, fixed: bool, phase: float = 0.0) -> None:
        """A model of the answers found the limit (calls a second): it is learned, and
        paced by as if told, until it is probed above; ``fixed``: in fixed seconds starting
        at ``phase`` of ours (else the window refills as it goes, and calls are spaced).
        The 429s of calls sent before now are of the pacing before it."""
        self._paused_second = max(self._paused_second, math.floor(now - phase))
        self._learn(max(1, limit), now)
        self.modelled, self.shaped = True, not fixed
        self.slow_start, self._prior, self._sign = False, None, None

    def _learn(self, limit: int, now: float) -> None:
        """``limit`` is learned now: the most a second holds, and the budget (under the
        ceiling told, if any)."""
        self._learned, self._learned_at, self.last_learned = limit, now, limit
        self._most_through = limit
        self.budget = float(limit) if self.ceiling is None else min(self.ceiling, limit)

    def forget_sign(self) -> None:
        """The 429s read so far were of a window misplaced, not of a limit."""
        self._sign = self._prior = None

    @property
    def limit(self) -> float | None:
        """The limit known now: learned and holding, else the ceiling told, if any."""
        return float(self._learned) if self._learned is not None else self.ceiling

    def span_start(self, sent_at: float) -> float:
        """The send time of the first success of the second before ``sent_at`` (itself if
        there is none)."""
        found = bisect.bisect_right(self._through, sent_at - 1.0)
        return self._through[found] if found < len(self._through) else sent_at

    def rate_limited(
        self,
        sent_at: float,
        now: float,
        phase: float = 0.0,
        *,
        sending: float | None = None,
        spaced: bool = False,
    ) -> bool:
        """A call sent at ``sent_at`` met a 429: whether to pause to the provider's next
        second. It is read against the successes of the second before it (the span any
        window of a second holds, whatever its phase), and of its own second (ours shifted
        by ``phase``). Sent ``spaced`` (no fixed seconds fit), a 429 alone where the second
        held about the most is a sign too. ``sending``: the calls a second sent at now (the
        budget if not given). Told a limit, a lower one is learned only well under what is
        sent, and so is one from 429s alone: 429s near it are the window's shape (seconds
        misplaced, a bucket's jitter, 429s at random), not a limit's."""
        through = self._between(self._through, sent_at - 1.0, sent_at)
        own = math.floor(sent_at - phase) + phase
        # Its own second's successes: sent before it, or after it but answered already (a
        # shorter way in took them in first), early enough to be counted in that second.
        in_second = self._between(self._through, own - 1e-9, max(sent_at, own + 1.0 - self.LATE))
        # The 429s in a row this one ends: sent one after another, no success between.
        place = bisect.bisect_right(self._through, sent_at)
        last = self._through[place - 1] if place else -math.inf
        run = 1 + bisect.bisect_right(self._refused, sent_at)
        run -= bisect.bisect_left(self._refused, last)
        self.run = run
        first = not self._between(self._refused, sent_at - 1.0, sent_at)
        self._keep(self._refused, sent_at)
        if math.floor(sent_at - phase) <= self._paused_second:
            return False  # sent before the pause for its second began: the same event
        # Near the most that ever got through in a second: where a limit would refuse.
        high = through >= self.NEAR_MOST * self._most_through
        limit_like = through > 0 and ((run >= 2 and high) or run >= 3)
        # Spaced, a second may hold a bucket's burst besides its rate: a little under the
        # most is near it.
        near = spaced and through >= self.SPACED_NEAR * self._most_through > 0
        alone = (first and through >= self._most_through > 0) or near
        # Told the limit and at it, a 429 or two are of calls misplaced (the fit moves
        # them) or at random, not of the limit spent: no pause for them, and they teach
        # only as 429s alone do.
        spent = limit_like and not self.at_ceiling(sent_at)
        if limit_like or alone:
            # A second's own count is a sign only with 429s in a row of calls placed in
            # seconds (it is a limit's only in the provider's seconds; spaced, no seconds
            # fit): the span's holds whatever their phase.
            own = in_second if spent and not spaced else -1
            paced = self.ceiling is not None or self._modelled() is not None
            under = self.budget if paced else math.inf
            if not spent:
                # Near what is sent, 429s are of the window's shape or at random; not when
                # 15% of the calls lately met one (a bucket told a rate above its own).
                sent = self.budget if sending is None else sending
                lately = self._share(sent_at - self.LATELY, sent_at) > self.PERSISTENT
                under = sent - 0.5 if lately else self.WELL_UNDER * sent
            self._sign_of_limit(math.floor(sent_at - phase), own, through, now, under)
        pause = spent or (through == 0 and run >= 2)
        if pause:
            self.slow_start = False  # a limit met (or an outage): from here, by the policy
            self._paused_second = math.floor(sent_at - phase)
            # Nothing at all went through since the last pause: slow down besides (spaced,
            # a pause lasts to the room a sliding window makes: another may come soon).
            if not self._succeeded_since_pause and not spaced:
                self.budget = max(self._min_rate, self.budget / 2)
            self._succeeded_since_pause = False
        return pause

    def _share(self, start: float, end: float) -> float:
        """The share of the calls sent in (``start``, ``end``] that met a 429."""
        refused = self._between(self._refused, start, end)
        return refused / max(1, refused + self._between(self._through, start, end))

    def _sign_of_limit(
        self, second: int, in_second: int, through: int, now: float, under: float
    ) -> None:
        """A sign of a limit in ``second``: the successes before it in that second and in the
        second before it. Two seconds whose signs agree teach the limit: the later second's
        own count if they agree (it follows a pause: no call sent late in the second
        before took its room), else the spans' (the fewer: any window, at any phase, holds
        that many)."""
        prior, sign = self._prior, self._sign
        if sign is not None and sign[0] == second:  # the same second: the least span
            sign = (second, max(sign[1], in_second), min(sign[2], through))
        else:
            prior, sign = sign, (second, in_second, through)
        self._prior, self._sign = prior, sign
        if prior is None or second - prior[0] > self.CONFIRM_SECONDS:
            return
        for own, before, this in ((True, prior[1], sign[1]), (False, prior[2], sign[2])):
            limit = this if own else min(this, before)
            if 0 < limit < under and abs(this - before) <= max(1.0, 0.05 * before):
                self._prior = self._sign = None
                if (
                    self.ceiling is None
                    and not self.modelled
                    and not self.shaped
                    and limit < self.NEAR_MOST * (self._most_through)
                ):
                    # Fewer than a second held before, each time after a pause: a window
                    # that refills as it goes (a bucket), not fixed seconds. The most is
                    # allowed; the spaced calls probe above it.
                    self.shaped, self.budget = True, float(self._most_through)
                    return
                if self.last_learned is not None:
                    # A limit falls, it does not vanish: at most to half of the last, a
                    # time (counts of a window misread cannot take the rate to nothing).
                    limit = max(limit, self.last_learned // 2)
                if limit == self.last_learned:
                    self._unsure = min(self.HOLD_SECONDS, 2 * self._unsure)
                self._learn(limit, now)
                return

    def dump(self) -> dict[str, Any]:
        """What it knows, as JSON values (a shared budget keeps it in the store)."""
        return {
            "ceiling": self.ceiling,
            "budget": self.budget,
            "min_rate": self._min_rate,
            "probe_seconds": self._probe_seconds,
            "through": self._through,
            "refused": self._refused,
            "most_through": self._most_through,
            "sign": [self._prior, self._sign],
            "learned": [self._learned, self._learned_at, self.last_learned],
            "slow_start": self.slow_start,
            "shaped": self.shaped,
            "succeeded_since_pause": self._succeeded_since_pause,
            "paused_second": self._paused_second,
            "grown": self._grown,
            "modelled": [self.modelled, self._unsure],
        }

    @classmethod
    def load(cls, state: dict[str, Any]) -> PacingPolicy:
        """The policy :meth:`dump` gave ``state`` of."""
        policy = cls(
            state["ceiling"], min_rate=state["min_rate"], probe_seconds=state["probe_seconds"]
        )
        policy.budget = state["budget"]
        policy._through, policy._refused = state["through"], state["refused"]
        policy._most_through = state["most_through"]
        policy._prior, policy._sign = (None if x is None else tuple(x) for x in state["sign"])
        policy._learned, policy._learned_at, policy.last_learned = state["learned"]
        policy.slow_start, policy.shaped = state["slow_start"], state["shaped"]
        policy._succeeded_since_pause = state["succeeded_since_pause"]
        policy._paused_second = state["paused_second"]
        policy._grown = state["grown"]
        policy.modelled, policy._unsure = state.get("modelled", [False, cls.UNSURE_SECONDS])
        return policy


def checked_rate(rate: float) -> float:
    """A rate the user gave (calls a second): positive and finite, else a ValueError (no
    limit at all is ``None``, not infinity)."""
    if not (math.isfinite(rate) and rate > 0):
        raise ValueError(f"a rate is a positive number of calls a second; got {rate!r}")
    return float(rate)
