"""When the next call may go for one API key: the policy's rate, the window's slots and the
pause a limit calls for, together, on one clock. The in-process limiter keeps one in memory;
a shared budget keeps one in the store, and every worker's answers teach it."""

from __future__ import annotations

import json

from bulkfetch.pacing.policy import PacingPolicy
from bulkfetch.pacing.window import WINDOW_SKEW, WindowSlots, window_pause

__all__ = ["Schedule"]


class Schedule:
    """Send slots at the rate :class:`PacingPolicy` says, inside the provider's seconds, and
    the pauses its 429s, Retry-Afters and headers call for. Times are one clock's seconds
    since the epoch (the wall clock's, or the database's for a shared budget)."""

    def __init__(
        self, ceiling: float | None, *, min_rate: float = 0.5, probe_seconds: float = 10.0
    ) -> None:
        self.policy = PacingPolicy(ceiling, min_rate=min_rate, probe_seconds=probe_seconds)
        self.slots = WindowSlots()
        self.resume_at = 0.0  # sending may resume at this time
        self.epoch = 0  # bumped by each pause: a slot handed out before one is not used

    def slot(self, now: float) -> float:
        """The next free slot: no sooner than ``now`` nor than the end of a pause."""
        # No limit met yet: the whole second is free to use (a burst at an edge finds a
        # limit as well as any); once one is, slots keep off the seconds' edges.
        margin = 0.0 if self.policy.slow_start else WINDOW_SKEW
        return self.slots.take(max(now, self.resume_at), self.policy.budget, margin)

    def success(self, sent_at: float, now: float) -> None:
        """A call sent at ``sent_at`` went through."""
        self.policy.success(sent_at, now)

    def rate_limited(self, sent_at: float, now: float, retry_after: float | None) -> None:
        """A 429 for a call sent at ``sent_at``: the policy reads it; a pause it calls for
        lasts to the provider's next second (or the Retry-After it gave)."""
        pause = self.policy.rate_limited(sent_at, now)
        if retry_after is not None:
            self.pause_until(now + retry_after)
        elif pause:
            self.pause_until(now + window_pause(now))

    def headers(self, remaining: int | None, reset_in: float | None, now: float) -> None:
        """The provider said how many calls are left in its window and when it resets."""
        if remaining is not None and remaining <= 0 and reset_in is not None and reset_in > 0:
            self.pause_until(now + reset_in)

    def pause_until(self, resume_at: float) -> None:
        if resume_at > self.resume_at:
            self.resume_at = resume_at
            self.epoch += 1
            self.slots.reset()

    def dumps(self) -> str:
        """As JSON text."""
        state = {
            "policy": self.policy.dump(),
            "slots": self.slots.dump(),
            "resume_at": self.resume_at,
            "epoch": self.epoch,
        }
        return json.dumps(state, separators=(",", ":"))

    @classmethod
    def loads(cls, text: str) -> Schedule:
        """The schedule :meth:`dumps` gave ``text`` of."""
        state = json.loads(text)
        schedule = cls(None)
        schedule.policy = PacingPolicy.load(state["policy"])
        schedule.slots = WindowSlots.load(state["slots"])
        schedule.resume_at, schedule.epoch = state["resume_at"], state["epoch"]
        return schedule
