"""The bound question 15's sliding cells are read against: the emulator's sliding second,
calls sent exactly on time, each with a way in of its own."""

from benchmarks.sliding_bound import best, refused


def test_spaced_at_half_the_limit_nothing_is_refused() -> None:
    """Calls twice as far apart as the limit asks arrive a second apart whatever their ways in."""
    assert refused(20, 0.5, 1) == 0.0


def test_spaced_at_the_limit_the_ways_in_bring_refusals() -> None:
    """At the limit, a call with a shorter way in than the one a limit before it is refused."""
    assert refused(20, 1.0, 1) > 0.05


def test_groups_of_the_limit_keep_nearer_it_than_spaced_calls() -> None:
    """Sent in groups of the limit, the calls a limit apart vary less: nearer the limit at 0.5%."""
    spaced, grouped = best(20, 1, 0.005), best(20, 20, 0.005)
    assert 0.9 < spaced < 0.95 < grouped
