"""The window fit on its own (refusals and latencies given, times chosen), and the emulator's
windows it is measured against, each on times the test chooses."""

from __future__ import annotations

import pytest

from bulkfetch.emulator.windows import FixedWindow, SlidingWindow, TokenBucket, window_of
from bulkfetch.pacing.fit import WindowFit
from bulkfetch.pacing.schedule import Schedule


def answered(fit: WindowFit, latencies: list[float]) -> WindowFit:
    for latency in latencies:
        fit.answered(latency)
    return fit


def test_the_spread_is_of_the_latencies_between_their_tails() -> None:
    """20 ms answers with 0-100 ms on the way in: a spread near 100 ms; none before 20."""
    fit = answered(WindowFit(), [0.02] * 19)
    assert fit.spread == 0.0
    answered(fit, [0.02 + i / 1000 for i in range(101)])
    assert 0.085 <= fit.spread <= 0.1
    assert fit.edge == pytest.approx(WindowFit.EDGE + fit.spread)


def test_the_spread_is_of_the_last_samples_only() -> None:
    """Slow answers, then as many fast ones as are kept: the slow ones no longer count, and
    a fit loaded from its text has the same spread."""
    fit = answered(WindowFit(), [0.02 + i / 1000 for i in range(200)])
    assert fit.spread > 0.15
    answered(fit, [0.05 + (i % 10) / 1000 for i in range(WindowFit.SAMPLES)])
    assert fit.spread == pytest.approx(0.009)
    assert WindowFit.load(fit.dump()).spread == fit.spread


def test_refusals_in_a_short_arc_of_two_seconds_move_the_seconds_there() -> None:
    """Refused at x.40 and y.45: the provider's seconds start just after, at x.475."""
    fit = WindowFit()
    fit.refused(1000.40, 1000.42)
    assert fit.phase == 0.0  # one second's refusals are one event
    fit.refused(1001.45, 1001.47)
    assert fit.phase == pytest.approx(0.45 + WindowFit.EDGE / 2)
    assert not fit.spaced


def test_a_refusal_is_placed_where_it_arrived_by_half_its_latency_over_the_least() -> None:
    """Refused at x.30 and y.35, each answered 100 ms slower than the fastest: they fell at
    x.35 and y.40 (half of the 100 ms on the way in), so the seconds start after y.40."""
    fit = answered(WindowFit(), [0.02] * 30)
    fit.refused(1000.30, 1000.42, latency=0.12)
    fit.refused(1001.35, 1001.47, latency=0.12)
    assert fit.phase == pytest.approx(0.40 + WindowFit.EDGE / 2)


def test_fixed_slots_keep_the_spread_off_the_end_of_the_second_only() -> None:
    """Calls arrive after they are sent, never before: a second's slots start the skew
    after its start and end the skew and the latencies' spread before its end."""
    schedule = Schedule(10.0)
    answered(schedule.fit, [0.02 + i / 1000 for i in range(101)])
    slots = [schedule.slot(1000.0) for _ in range(10)]
    assert slots[0] == pytest.approx(1000.0 + WindowFit.EDGE)
    spacing = (1.0 - 2 * WindowFit.EDGE - schedule.fit.spread) / 10
    assert slots[9] == pytest.approx(1000.0 + WindowFit.EDGE + 9 * spacing)
    assert schedule.slot(1000.0) == pytest.approx(1001.0 + WindowFit.EDGE)


def test_refusals_all_over_the_second_space_the_calls() -> None:
    """Refused at x.1 and y.7: no fixed seconds end there; calls are spaced, with a margin
    of half the latencies' spread."""
    fit = answered(WindowFit(), [0.02 + i / 2000 for i in range(101)])
    fit.refused(1000.1, 1000.12)
    fit.refused(1001.7, 1001.72)
    assert fit.spaced
    assert fit.margin == pytest.approx(fit.spread / 2 + WindowFit.LEAST)


def test_a_refusal_in_the_middle_of_seconds_moved_already_spaces_the_calls() -> None:
    """Moved to where refusals ended, then refused mid-second: the pattern moved with ours
    (a bucket), so no fixed seconds fit."""
    fit = WindowFit()
    fit.refused(1000.50, 1000.52)
    fit.refused(1001.52, 1001.54)
    phase = fit.phase
    assert phase > 0.5
    assert not fit.spaced
    fit.refused(1003.0 + phase + 0.5, 1003.6 + phase)
    assert fit.spaced


def test_a_spaced_margin_grows_with_429s_and_shrinks_while_none_come() -> None:
    """Each 429 (once a second) widens it, never beyond the latencies' reach; calm seconds
    narrow it, not under one a 429 came at until that is forgotten."""
    fit = answered(WindowFit(), [0.02 + i / 2000 for i in range(101)])
    fit.space(1000.0)
    start = fit.margin
    fit.refused(1001.5, 1001.5)
    wider = fit.margin
    assert start < wider <= max(0.02, fit.reach + 3 * WindowFit.LEAST)
    fit.calm(1001.5 + WindowFit.SHRINK_AFTER)
    assert fit.margin == pytest.approx(max(start * 1.1, wider * WindowFit.SHRINK))
    for second in range(2, 400):  # a 429 more than 30 s ago is forgotten, bit by bit
        fit.calm(1001.5 + second * WindowFit.SHRINK_AFTER)
    assert fit.margin == WindowFit.LEAST


def test_a_sliding_window_s_margin_keeps_its_count_s_deviations_under_the_limit() -> None:
    """Told the window slides: the margin is three deviations of a second's count at once
    (at most the latencies' reach), and calm seconds never narrow it under that; told it
    does not, they narrow it to the least again."""
    fit = answered(WindowFit(), [0.02 + i / 1000 for i in range(101)])
    assert fit.spread < fit.reach <= 0.1
    fit.space(1000.0)
    fit.slides(20)
    assert fit.margin == pytest.approx(fit.reach + WindowFit.LEAST)  # 3 x 0.07 > the reach
    fit.slides(100)
    at_100 = 3 * (fit.reach / 300) ** 0.5 + WindowFit.LEAST
    assert fit.floor == pytest.approx(at_100)
    for second in range(1, 100):
        fit.calm(1000.0 + second * WindowFit.SHRINK_AFTER)
    assert fit.margin == pytest.approx(at_100)
    assert WindowFit.load(fit.dump()).floor == fit.floor
    fit.slides(None)
    for second in range(100, 200):
        fit.calm(1000.0 + second * WindowFit.SHRINK_AFTER)
    assert fit.margin == WindowFit.LEAST


def test_a_schedule_keeps_its_fit_through_text() -> None:
    """A shared budget keeps the schedule as text: the fit's phase, kind and margin too."""
    schedule = Schedule(20.0)
    answered(schedule.fit, [0.02] * 30)
    schedule.fit.refused(1000.40, 1000.42)
    schedule.fit.refused(1001.45, 1001.47)
    again = Schedule.loads(schedule.dumps())
    assert again.fit.dump() == schedule.fit.dump()
    assert again.slot(1002.0) == schedule.slot(1002.0)


def test_spaced_slots_are_evenly_apart_and_a_late_one_may_not_go() -> None:
    """Spaced, ``limit`` slots span 1 + margin seconds, and a call may go only a little
    after its slot (a quarter of the spacing, or half the margin): later, it would crowd
    the next."""
    schedule = Schedule(20.0)
    schedule.fit.space(1000.0)
    slots = [schedule.slot(1000.0) for _ in range(21)]
    assert slots[20] - slots[0] == pytest.approx(1.0 + schedule.fit.margin)
    assert schedule.deadline(slots[1]) == pytest.approx(slots[1] + 0.25 / 20)


# -- the emulator's windows --------------------------------------------------------------


def test_a_fixed_window_at_an_offset_counts_from_it() -> None:
    """Two a second from x.5: two at 0.6 and 0.9, a third refused until 1.5."""
    window = FixedWindow(2, offset=0.5)
    assert window.admit(0.6) is None
    assert window.admit(0.9) is None
    assert window.admit(1.2) == pytest.approx(0.3)
    assert window.admit(1.5) is None
    assert window.used(1.6) == 1


def test_a_sliding_window_holds_the_limit_in_any_second() -> None:
    """Two in any second: the third waits for the first to leave it."""
    window = SlidingWindow(2)
    assert window.admit(0.0) is None
    assert window.admit(0.6) is None
    assert window.admit(0.9) == pytest.approx(0.1)
    assert window.admit(1.0) is None  # 0.0 has left it; a refusal was never in it
    assert window.admit(1.2) == pytest.approx(0.4)
    assert window.admit(1.61) is None


def test_a_token_bucket_lets_a_burst_through_then_the_rate() -> None:
    """Ten a second with a burst of three: three at once, then one every 0.1 s."""
    bucket = TokenBucket(10, burst=3)
    assert [bucket.admit(5.0) for _ in range(3)] == [None, None, None]
    assert bucket.admit(5.0) == pytest.approx(0.1)
    assert bucket.admit(5.1) is None
    assert bucket.admit(5.15) == pytest.approx(0.05)


def test_a_minute_window_holds_sixty_times_the_limit() -> None:
    """At 2 a second, a minute's window holds 120, and says when it opens again."""
    window = window_of("minute", 2)
    assert all(window.admit(60.0 + i / 10) is None for i in range(120))
    assert window.admit(75.0) == pytest.approx(45.0)
    with pytest.raises(ValueError, match="one of"):
        window_of("weekly", 2)
