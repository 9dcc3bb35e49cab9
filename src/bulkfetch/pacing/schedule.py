"""When the next call may go for one API key: the policy's rate, the window the answers
fit, its slots and the pause a limit calls for, together, on one clock. The in-process
limiter keeps one in memory; a shared budget keeps one in the store, and every worker's
answers teach it.

The answers of the last seconds are kept, and at each pause a limit calls for (and, told
a rate or paced by a model, at a 429 once a second: 429s at the rate do not pause), a
model of the window is fitted to them (:func:`~bulkfetch.pacing.model.fit_window`). Told
no rate, one that explains them is paced by as if told, its kind and phase placing the
calls; told a rate, one whose limit is under it is (told 22 against a limit of 20, one
call in eleven met a 429 for the whole run). Once no 429 has come for a while (from the
start, or since the last), the answers are no longer kept, until one comes again; and
never more than a bounded number of them (a shared budget keeps them in its row)."""

from __future__ import annotations

import json
import math

from bulkfetch.pacing.fit import WindowFit
from bulkfetch.pacing.model import Answer, WindowModel, fit_window
from bulkfetch.pacing.policy import PacingPolicy
from bulkfetch.pacing.window import WINDOW_SKEW, WindowSlots

__all__ = ["Schedule"]


class Schedule:
    """Send slots at the rate :class:`PacingPolicy` says, inside the provider's seconds as
    :class:`~bulkfetch.pacing.fit.WindowFit` places them (or evenly spaced), and the pauses
    its 429s, Retry-Afters and headers call for. Times are one clock's seconds since the
    epoch (the wall clock's, or the database's for a shared budget)."""

    KEEP = 6.0  # seconds of answers a model is fitted to
    QUIET = 10.0  # seconds with no 429 after which answers are no longer kept
    REFIT = 1.0  # seconds: told a rate or paced by a model, a 429 is fitted at most this often
    MOST = 600  # answers a model is fitted to at most (the latest): a fit's time is bounded

    def __init__(
        self, ceiling: float | None, *, min_rate: float = 0.5, probe_seconds: float = 10.0
    ) -> None:
        self.policy = PacingPolicy(ceiling, min_rate=min_rate, probe_seconds=probe_seconds)
        self.fit = WindowFit()
        self.slots = WindowSlots()
        self.resume_at = 0.0  # sending may resume at this time
        self.epoch = 0  # bumped by each pause: a slot handed out before one is not used
        self.answers: list[Answer] | None = []  # kept for a model (None while none are)
        self.model: tuple[str, int, float] | None = None  # the one taken up: kind, limit, phase
        self.refused_at: float | None = None  # the last 429 (or the first answer)
        self.partial = False  # answers were dropped: the first kept is not the first sent
        self.fitted_at = -math.inf  # the last fit

    def slot(self, now: float) -> float:
        """The next free slot: no sooner than ``now`` nor than the end of a pause."""
        at, budget, fit = max(now, self.resume_at), self.policy.budget, self.fit
        # No limit met yet: the whole second is free to use (a burst at an edge finds a
        # limit as well as any); once one is, slots keep off the seconds' edges.
        if self.policy.slow_start:
            return self.slots.take(at, budget, 0.0)
        if fit.spaced:
            return self.slots.space(at, (1.0 + fit.margin) / budget)
        return self.slots.take(at, budget, fit.EDGE, fit.phase, fit.spread)

    def deadline(self, slot: float) -> float:
        """The latest a call of ``slot`` may go: later, it could arrive in a second whose
        slots are all handed out (or too close to the next call for a sliding window)."""
        fit = self.fit
        if fit.spaced and not self.policy.slow_start:
            # A quarter of the spacing (a shared budget's slot comes a request late), or
            # half the margin: a call that late still leaves ``limit`` calls a second apart.
            return slot + max(0.25 / self.policy.budget, fit.margin / 2)
        late = WINDOW_SKEW / 2 + fit.spread
        return fit.phase + math.floor(slot - fit.phase) + 1.0 - late

    def success(self, sent_at: float, now: float, latency: float | None = None) -> None:
        """A call sent at ``sent_at`` went through, answered ``latency`` seconds after it
        was sent (``now - sent_at`` if not given)."""
        latency = now - sent_at if latency is None else latency
        self.policy.success(sent_at, now)
        self.fit.answered(latency)
        self.fit.calm(now)
        self._keep((sent_at, latency, True), now)

    def _keep(self, answer: Answer, now: float) -> None:
        """Keep an answer for a model, but not once ``QUIET`` seconds have passed with no
        429 (from the first answer, or since the last 429)."""
        answers = self.answers
        if answers is None:
            return
        if self.refused_at is None:
            self.refused_at = now
        if now - self.refused_at > self.QUIET:
            self.answers = None
            return
        answers.append(answer)
        if len(answers) % 64 == 0:
            kept = [kept for kept in answers[-self.MOST :] if kept[0] >= now - self.KEEP]
            self.partial = self.partial or len(kept) < len(answers)
            answers[:] = kept

    def rate_limited(
        self,
        sent_at: float,
        now: float,
        retry_after: float | None,
        latency: float | None = None,
    ) -> None:
        """A 429 for a call sent at ``sent_at`` and answered ``latency`` seconds after (``now
        - sent_at`` if not given): the policy reads it, and the fit a 429 of a full second,
        once a limit is known; a pause it calls for lasts to the provider's next second (or
        the Retry-After it gave), after a model of the answers is fitted."""
        if self.answers is None:
            self.answers, self.partial = [], True  # 429s again: keep answers again
        self.refused_at = now
        latency = now - sent_at if latency is None else latency
        self._keep((sent_at, latency, False), now)
        if self.policy.busy(sent_at, self.fit.phase):
            fitted = self.fit.phase, self.fit.spaced
            self.fit.refused(sent_at, now, latency)
            if (self.fit.phase, self.fit.spaced) != fitted:
                self._new_slots()
                self.policy.forget_sign()
        spaced = self.fit.spaced
        sending = self.policy.budget / (1.0 + self.fit.margin) if spaced else None
        pause = self.policy.rate_limited(
            sent_at, now, self.fit.phase, sending=sending, spaced=spaced
        )
        if self.policy.shaped and not self.fit.spaced:
            self.fit.space(now)
            self._new_slots()
        # Told a rate or paced by a model, 429s at it do not pause: fit at them, once a second.
        paced = self.model is not None or self.policy.ceiling is not None
        refit = pause or (paced and now - self.fitted_at >= self.REFIT)
        if refit and retry_after is None and self.answers is not None:
            self._model(now)
        if retry_after is not None:
            self.pause_until(now + retry_after)
        elif pause:
            self.pause_until(self._room(sent_at, now))

    def _model(self, now: float) -> None:
        """Fit a model to the answers kept; one that explains them is taken up."""
        assert self.answers is not None
        self.fitted_at = now
        kept = sorted(self.answers)
        recent = [answer for answer in kept if answer[0] >= now - self.KEEP][-self.MOST :]
        model = fit_window(recent, partial=self.partial or len(recent) < len(kept))
        if model is None or not model.sure:
            return
        self.fit.slides(model.limit if model.kind == "sliding" else None)
        ceiling = self.policy.ceiling
        if self._taken(model):
            return
        if ceiling is not None and model.limit >= 0.98 * ceiling:
            # Told about this limit: the told rate paces, the model's kind places the calls.
            self._place(model, now)
            return
        self.policy.adopt(model.limit, now, fixed=model.kind == "fixed", phase=model.phase)
        self._place(model, now)

    def _place(self, model: WindowModel, now: float) -> None:
        """Calls placed as ``model`` has the window: in its seconds, or spaced. Seconds
        about where the slots are already (within the skew) are moved to with no pause:
        the slots handed out in this one keep to it within the edges' margin."""
        self.model = model.kind, model.limit, model.phase
        fit = self.fit
        if model.kind == "fixed":
            apart = abs(model.phase - fit.phase) % 1.0
            near = not fit.spaced and min(apart, 1.0 - apart) <= WINDOW_SKEW
            fit.place(model.phase)
            if near:
                return
        else:
            fit.space(now)
        self._new_slots()
        self.pause_until(self._room(now, now))  # the window may be spent: its next one

    def _taken(self, model: WindowModel) -> bool:
        """Whether ``model`` is about the one taken up already: of its kind, its limit within
        2% and its phase within a twentieth of a second (answers a jittered way in leave
        that much open)."""
        if self.model is None or self.model[0] != model.kind:
            return False
        _, limit, phase = self.model
        apart = abs(model.phase - phase) % 1.0
        return abs(model.limit - limit) <= 0.02 * limit and min(apart, 1.0 - apart) <= 0.05

    def _room(self, sent_at: float, now: float) -> float:
        """When the provider has room again after a 429 for a call sent at ``sent_at``, as
        the fit has it: its next second, with a little more for the two clocks' skew;
        spaced, a second (and the margin) after the first success of the second before."""
        fit = self.fit
        if fit.spaced and not self.policy.slow_start:
            return self.policy.span_start(sent_at) + 1.0 + fit.margin + fit.spread
        return fit.phase + math.floor(now - fit.phase) + 1.0 + WINDOW_SKEW

    def headers(self, remaining: int | None, reset_in: float | None, now: float) -> None:
        """The provider said how many calls are left in its window and when it resets."""
        if remaining is not None and remaining <= 0 and reset_in is not None and reset_in > 0:
            self.pause_until(now + reset_in)

    def pause_until(self, resume_at: float) -> None:
        if resume_at > self.resume_at:
            self.resume_at = resume_at
            self._new_slots()

    def _new_slots(self) -> None:
        """Slots handed out before now are not used (a pause, or the fit changed)."""
        self.epoch += 1
        self.slots.reset()

    def dumps(self) -> str:
        """As JSON text."""
        state = {
            "policy": self.policy.dump(),
            "fit": self.fit.dump(),
            "slots": self.slots.dump(),
            "resume_at": self.resume_at,
            "epoch": self.epoch,
            "answers": self.answers,
            "model": [self.model, self.refused_at, self.fitted_at, self.partial],
        }
        return json.dumps(state, separators=(",", ":"))

    @classmethod
    def loads(cls, text: str) -> Schedule:
        """The schedule :meth:`dumps` gave ``text`` of."""
        state = json.loads(text)
        schedule = cls(None)
        schedule.policy = PacingPolicy.load(state["policy"])
        schedule.fit = WindowFit.load(state["fit"])
        schedule.slots = WindowSlots.load(state["slots"])
        schedule.resume_at, schedule.epoch = state["resume_at"], state["epoch"]
        answers = state.get("answers")
        schedule.answers = None if answers is None else [tuple(kept) for kept in answers]
        model, schedule.refused_at, fitted, schedule.partial = state.get(
            "model", [None, None, None, False]
        )
        schedule.model = None if model is None else (model[0], model[1], model[2])
        schedule.fitted_at = -math.inf if fitted is None else fitted
        return schedule
