"""What the pacing believes of the provider's window, from its answers: fixed seconds at a
phase of ours, or any one-second span; and the margins the answers' jitter calls for.

Providers count a key's calls in windows of their own: seconds of their clock (off ours by
NTP's error and the one-way latency, which varies call to call), a sliding second, a token
bucket. A call is counted when it arrives, so what matters is when it arrives, which is
known only to within the spread of the latencies. The fit starts from the wall clock's
seconds (a provider on NTP counting per second, the commonest kind) with margins from
that spread, measured in the answers' latencies, and reads the 429s the policy calls the
limit's:

- **Refusals in a short arc of our seconds, away from where our calls end**: the
  provider's seconds start just after them (a window fills, refuses the calls up to its
  end, and the next takes calls again). The fit moves its seconds there: its *phase*.
  Each refusal is placed where it arrived, as near as the answers tell: its send time
  plus half its latency over the least.
- **Refusals at the end of our calls in each second, or all over the second, or a phase
  that moved twice**: no fixed seconds fit (a sliding window, a bucket refilling as it
  goes). The fit is *spaced*: calls evenly spaced, ``limit`` of them spanning ``1 +
  margin`` seconds, so that no one-second span holds more than the limit however it is
  placed. The margin starts at half the latencies' spread (a bucket's burst takes the
  rest), grows with each 429 and shrinks while none comes (not under one a 429 came at,
  for a while), never beyond the latencies' reach. Once a model of the answers says the
  window slides, the margin never goes under three deviations of a second's count (see
  :attr:`WindowFit.floor`): probing under it bought a 429 every few seconds, for a gain
  of a few calls in a thousand.
"""

from __future__ import annotations

import bisect
import itertools
import math
from typing import Any

__all__ = ["WindowFit"]


class WindowFit:
    """The provider's window as the answers show it (times: one clock's seconds)."""

    SAMPLES = 200  # latencies kept
    MOST_SPREAD = 0.25  # seconds: the most of a latency spread the margins take
    MEMORY = 20.0  # seconds a refusal is remembered for
    ARC = 0.35  # refusals within this share of a second: fixed seconds end there
    EDGE = 0.05  # seconds: the margin at each edge of a fixed second, over the spread
    PHASES = 3  # fixed phases tried (the first, and corrections) before it is spaced
    SHRINK_AFTER = 1.0  # seconds with no 429 before the spaced margin shrinks
    SHRINK = 0.5  # by this much
    FORGET_AFTER = 30.0  # seconds with no 429 before a margin one came at may be tried
    LEAST = 0.003  # the spaced margin's floor (seconds beyond 1 that ``limit`` calls span)
    SPREAD_CALLS = 3.0  # a sliding second's margin: this many of its count's deviations

    def __init__(self) -> None:
        self.phase = 0.0  # fixed seconds start at this fraction of ours
        self.spaced = False
        self.margin = 0.0  # spaced: the share of a second beyond 1 that ``limit`` calls span
        self.sliding = 0  # a model says the window slides, at this limit: see :meth:`slides`
        self._latencies: list[float] = []  # in the order they came
        self._ordered: list[float] = []  # the same, sorted: the spread is read every slot
        self._refused: list[float] = []  # send times of the limit's 429s, recent
        self._phases = 0  # phases moved to
        self._calm_since = 0.0  # spaced: the last 429 or shrink
        self._failed = 0.0  # spaced: the widest margin a 429 came at lately
        self._failed_at = 0.0

    @property
    def spread(self) -> float:
        """The spread of the answers' latencies (seconds): between their 5th and 95th
        percentiles, once there are 20; 0 before; at most ``MOST_SPREAD`` (more is of
        answers slow for their own reasons, not of the way in)."""
        return self._between_tails(20)

    @property
    def reach(self) -> float:
        """The whole spread of the answers' latencies, but the slowest and fastest of each
        hundred (at most ``MOST_SPREAD``): how far apart two calls' ways in may be."""
        return self._between_tails(100)

    def _between_tails(self, each: int) -> float:
        """The latencies' spread without the fastest and slowest of ``each`` (one in that
        many at each end), once there are 20; 0 before; at most ``MOST_SPREAD``."""
        ordered = self._ordered
        if len(ordered) < 20:
            return 0.0
        low, high = ordered[len(ordered) // each], ordered[-1 - len(ordered) // each]
        return min(self.MOST_SPREAD, high - low)

    @property
    def edge(self) -> float:
        """How far from a fixed second's edges (seconds) a refusal may fall and still be of
        that second's end: the skew and the latencies' spread."""
        return self.EDGE + self.spread

    def answered(self, latency: float) -> None:
        """A call's answer took ``latency`` seconds from its send."""
        if math.isfinite(latency) and latency >= 0:
            self._latencies.append(latency)
            bisect.insort(self._ordered, latency)
            if len(self._latencies) > self.SAMPLES:
                oldest = self._latencies.pop(0)
                del self._ordered[bisect.bisect_left(self._ordered, oldest)]

    def calm(self, now: float) -> None:
        """Spaced, no 429 for a while: the margin shrinks."""
        if self.spaced and now - self._calm_since >= self.SHRINK_AFTER:
            # Not again under one a 429 came at, for a while: then that is forgotten too.
            if now - self._failed_at >= self.FORGET_AFTER:
                self._failed, self._failed_at = self._failed * self.SHRINK, now
            self.margin = max(self.floor, self._failed * 1.1, self.margin * self.SHRINK)
            self._calm_since = now

    def refused(self, sent_at: float, now: float, latency: float | None = None) -> None:
        """A 429 the policy reads as the limit's, for a call sent at ``sent_at`` and answered
        ``latency`` seconds after: where the refusal fell is taken as its send time plus
        half its latency over the least (the way in's share of the jitter, both ways
        alike)."""
        if latency is not None and self._ordered:
            sent_at += max(0.0, latency - self._ordered[0]) / 2
        if self.spaced:
            if now - self._calm_since >= 1.0:
                cap = max(0.02, self.reach + 3 * self.LEAST)
                self._failed, self._failed_at = max(self._failed, self.margin), now
                self.margin = max(self.floor, min(cap, self.margin * 1.5 + self.LEAST))
            self._calm_since = now
            return
        self._refused = [at for at in self._refused if at > now - self.MEMORY] + [sent_at]
        places = sorted((at - self.phase) % 1.0 for at in self._refused)
        if self._phases:
            # Moved already: a fixed window refuses only where our seconds end (its seconds
            # a little off ours); a refusal in the middle of ours is of no fixed seconds.
            place = (sent_at - self.phase) % 1.0
            if self.edge + 0.1 < place < 1.0 - self.edge - 0.1:
                self.space(now)
                return
        if len({math.floor(at - self.phase) for at in self._refused}) < 2:
            return  # one second's refusals are one event: where they fall is seen twice
        gaps = [(b - a, a) for a, b in itertools.pairwise(places)]
        gaps.append((places[0] + 1.0 - places[-1], places[-1]))
        widest, ends = max(gaps)
        # In a short arc: the provider's seconds end there. Spread wide: no fixed seconds.
        if 1.0 - widest <= self.ARC and self._phases < self.PHASES:
            self.phase = (self.phase + ends + self.EDGE / 2) % 1.0
            self._phases += 1
            self._refused = []
            return
        self.space(now)

    @property
    def floor(self) -> float:
        """The least spaced margin. A sliding second counts the calls that arrived in the
        last second: evenly spaced, those of its edges may arrive in it or not, as their
        ways in differ, so that its count varies by about ``sqrt(limit * reach / 3)``
        calls; the margin keeps three of that under the limit (at most the reach, beyond
        which no count can vary). A bucket's burst takes up the reach."""
        if not self.sliding:
            return self.LEAST
        reach = self.reach
        return min(reach, self.SPREAD_CALLS * math.sqrt(reach / (3 * self.sliding))) + self.LEAST

    def space(self, now: float) -> None:
        """No fixed seconds fit: calls evenly spaced from now."""
        self.spaced, self.margin, self._calm_since = True, self.spread / 2 + self.LEAST, now
        self.margin = max(self.margin, self.floor)

    def slides(self, limit: int | None) -> None:
        """A model of the answers says the window slides at ``limit`` (or, None, that it
        does not): spaced, the margin keeps to the floor that calls for."""
        self.sliding = limit or 0
        if self.spaced:
            self.margin = max(self.margin, self.floor)

    def place(self, phase: float) -> None:
        """The provider's seconds start at ``phase`` of ours (a model of its answers says
        so): moved there once, so a refusal in their middle is of no fixed seconds."""
        self.phase, self.spaced, self.margin, self.sliding = phase % 1.0, False, 0.0, 0
        self._phases, self._refused = max(1, self._phases), []

    def dump(self) -> dict[str, Any]:
        """What it knows, as JSON values."""
        return {
            "phase": self.phase,
            "spaced": self.spaced,
            "margin": self.margin,
            "sliding": self.sliding,
            "latencies": self._latencies,
            "refused": self._refused,
            "phases": self._phases,
            "calm_since": self._calm_since,
            "failed": [self._failed, self._failed_at],
        }

    @classmethod
    def load(cls, state: dict[str, Any]) -> WindowFit:
        """The fit :meth:`dump` gave ``state`` of."""
        fit = cls()
        fit.phase, fit.spaced, fit.margin = state["phase"], state["spaced"], state["margin"]
        fit.sliding = state.get("sliding", 0)
        fit._latencies, fit._refused = state["latencies"], state["refused"]
        fit._ordered = sorted(fit._latencies)
        fit._phases, fit._calm_since = state["phases"], state["calm_since"]
        fit._failed, fit._failed_at = state["failed"]
        return fit
