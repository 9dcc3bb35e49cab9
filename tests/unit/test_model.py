"""The model of a provider's window fitted to its answers: the emulator's windows replayed
over calls with a jittered way in (or both ways), the fit's kind, limit and phase, and a
schedule told nothing that paces by it."""

from __future__ import annotations

import random

import pytest

from bulkfetch.emulator.windows import Window, window_of
from bulkfetch.pacing.model import Answer, WindowModel, fit_window
from bulkfetch.pacing.schedule import Schedule
from bulkfetch.pacing.window import WINDOW_SKEW


def replay(
    window: Window | None,
    rate: float,
    seconds: float,
    *,
    way_in: float = 0.1,
    way_back: float = 0.0,
    at_random: float = 0.0,
    seed: int = 1,
) -> list[Answer]:
    """Calls sent evenly at ``rate`` for ``seconds`` from 1000.0, each arriving after a way
    in of 0-``way_in`` seconds and answered 20 ms later plus 0-``way_back``; admitted in
    the order they arrive (``at_random``: this share refused anyway)."""
    rng = random.Random(seed)
    calls = [(1000.0 + i / rate, rng.uniform(0, way_in)) for i in range(int(rate * seconds))]
    answers = []
    for sent, way in sorted(calls, key=lambda call: call[0] + call[1]):
        admitted = window is None or window.admit(sent + way) is None
        admitted = admitted and rng.random() >= at_random
        answers.append((sent, way + 0.02 + rng.uniform(0, way_back), admitted))
    return sorted(answers)


KINDS = [("fixed", 0.0), ("fixed", 0.3), ("fixed", 0.5), ("sliding", 0.0), ("bucket", 0.0)]


@pytest.mark.parametrize("limit", [20, 100])
@pytest.mark.parametrize(("kind", "offset"), KINDS)
def test_each_kind_is_told_with_its_limit_and_phase(kind: str, offset: float, limit: int) -> None:
    """Sent a fifth over the limit for 5 s, a 0-100 ms way in: the fit names the window's
    kind, its limit to the call, fixed seconds' phase to within 50 ms, and is sure."""
    answers = replay(window_of(kind, limit, offset=offset), 1.2 * limit, 5.0)
    model = fit_window(answers)
    assert model is not None
    assert (model.kind, model.limit) == (kind, limit)
    assert model.sure
    if kind == "fixed":
        apart = abs(model.phase - offset) % 1.0
        assert min(apart, 1.0 - apart) <= 0.05
    if kind == "bucket":
        assert model.burst == limit // 5


@pytest.mark.parametrize(("kind", "offset"), KINDS)
def test_jitter_on_both_ways_is_fitted_too(kind: str, offset: float) -> None:
    """The jitter split between the way in and the way back (0-50 ms each): the arrivals
    taken half-way through the jitter still tell the kind and the limit within a call."""
    window = window_of(kind, 50, offset=offset)
    model = fit_window(replay(window, 60.0, 5.0, way_in=0.05, way_back=0.05))
    assert model is not None
    assert model.kind == kind
    assert abs(model.limit - 50) <= 1


def test_a_single_second_s_refusals_tell_nothing_yet() -> None:
    """Refusals in one second alone: no fit (a phase is not seen twice)."""
    answers = replay(window_of("fixed", 20), 30.0, 1.0)
    assert sum(not admitted for _, _, admitted in answers) >= 4
    assert fit_window(answers) is None


def test_429s_at_random_fit_no_window() -> None:
    """A provider with no limit refusing a tenth of calls at random: no window explains it."""
    model = fit_window(replay(None, 40.0, 5.0, at_random=0.1))
    assert model is None or not model.sure


def test_under_the_limit_there_is_nothing_to_fit() -> None:
    """Calls under the limit meet no refusal: no fit."""
    assert fit_window(replay(window_of("sliding", 20), 15.0, 5.0)) is None


def feed(schedule: Schedule, answers: list[Answer]) -> None:
    """Each answer reaches the schedule when it comes (its send time plus its latency)."""
    for sent, latency, admitted in sorted(answers, key=lambda answer: answer[0] + answer[1]):
        if admitted:
            schedule.success(sent, sent + latency, latency)
        else:
            schedule.rate_limited(sent, sent + latency, None, latency)


def test_told_nothing_a_schedule_takes_up_the_model_at_a_pause() -> None:
    """Told nothing, seconds half a second off ours at 20/s: the schedule paces by the
    model its answers fit: the limit learned, the fixed seconds at their phase."""
    schedule = Schedule(None)
    feed(schedule, replay(window_of("fixed", 20, offset=0.5), 30.0, 4.0))
    assert schedule.model is not None
    kind, limit, phase = schedule.model
    assert (kind, limit) == ("fixed", 20)
    assert schedule.policy.limit == 20
    assert not schedule.fit.spaced
    assert abs(schedule.fit.phase - 0.5) <= 0.05
    assert abs(phase - 0.5) <= 0.05


def test_told_the_limit_a_schedule_places_its_calls_by_the_model() -> None:
    """Told the limit, seconds half a second off ours: the told rate paces, and the model
    its answers fit is taken up to place the calls (fixed seconds at their phase)."""
    schedule = Schedule(20.0)
    feed(schedule, replay(window_of("fixed", 20, offset=0.5), 30.0, 4.0))
    assert schedule.model is not None
    kind, limit, phase = schedule.model
    assert (kind, limit, schedule.policy.budget) == ("fixed", 20, 20.0)
    assert abs(phase - 0.5) <= 0.05


def test_seconds_a_model_moves_a_little_are_moved_to_with_no_pause() -> None:
    """Told the limit, slots in seconds at 0.48: a model at 0.5 moves them with no pause
    and keeps the slots handed out; one at 0.0 pauses to its next second, slots anew."""
    schedule = Schedule(20.0)
    schedule.fit.place(0.48)
    schedule.slot(1000.6)
    epoch = schedule.epoch
    schedule._place(WindowModel("fixed", 20, 0, 10, phase=0.5), 1000.7)
    assert (schedule.fit.phase, schedule.resume_at, schedule.epoch) == (0.5, 0.0, epoch)
    schedule._place(WindowModel("fixed", 20, 0, 10, phase=0.0), 1000.8)
    assert schedule.epoch > epoch
    assert schedule.resume_at == pytest.approx(1001.0 + WINDOW_SKEW)


def test_the_model_and_its_answers_go_through_the_shared_budget_s_text() -> None:
    """A schedule's model and the answers it keeps survive its JSON (a shared budget's)."""
    schedule = Schedule(None)
    feed(schedule, replay(window_of("bucket", 20), 30.0, 4.0))
    again = Schedule.loads(schedule.dumps())
    assert again.model == schedule.model
    assert again.model is not None
    assert again.model[0] == "bucket"
    assert again.answers == schedule.answers
    assert again.policy.modelled
    assert again.fit.spaced


def test_the_answers_kept_are_bounded_and_dropped_when_no_429_comes() -> None:
    """At most about ``MOST`` answers are kept, however fast the calls; none once ``QUIET``
    seconds pass with no 429; and a 429 starts keeping them again."""
    schedule = Schedule(None)
    feed(schedule, replay(window_of("fixed", 500), 600.0, 3.0))
    assert schedule.answers is not None
    assert len(schedule.answers) <= schedule.MOST + 64
    calm = Schedule(None)
    feed(calm, replay(None, 50.0, calm.QUIET + 2.0))
    assert calm.answers is None
    calm.rate_limited(1012.5, 1012.6, None)
    assert calm.answers == [(1012.5, pytest.approx(0.1), False)]
