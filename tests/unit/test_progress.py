"""Progress lines of a pass: each run named, its own calls a second, never more than went
out in a second."""

from __future__ import annotations

import io

from rich.console import Console

from bulkfetch.adapter import LookupResult, Reply, ResultKind
from bulkfetch.cli.progress import ProgressBar
from bulkfetch.engine.classify import answered
from bulkfetch.jobs import Job, Lookup, Outcome
from tests.unit.clock import FakeClock


def _answers(count: int) -> list[Outcome]:
    """``count`` answered calls, one lookup each."""
    outcomes: list[Outcome] = []
    for i in range(count):
        job = Job(i, Lookup.of("api", "http://x", "e", {"code": str(i)}), attempts=0)
        outcomes += answered([job], Reply([LookupResult(ResultKind.OK, 200, body="{}")]))
    return outcomes


def test_each_run_of_a_pass_is_named_and_paced_on_its_own() -> None:
    """16 answers 0.1 s in: 16 calls/s, not 160; the second run starts from nothing."""
    clock = FakeClock()
    bar = ProgressBar(Console(file=io.StringIO()), clock=clock)
    bar.start(100, 0, "occupation")
    clock.now += 0.1
    bar.advance(16, _answers(16))
    assert "progress occupation: 16 of 100 rows (16%); 16.0 calls/s; 16 billed" in bar.line()
    clock.now += 9.9
    bar.advance(84, _answers(84))
    assert "10.0 calls/s; 100 billed" in bar.line()

    bar.start(100, 0, "income")
    clock.now += 2.0
    bar.advance(10, _answers(10))
    assert "progress income: 10 of 100 rows (10%); 5.0 calls/s; 10 billed" in bar.line()


def test_a_run_worked_again_starts_its_count_again() -> None:
    """A worker back on a run: its rows of the run's total, not added to the last time's."""
    clock = FakeClock()
    bar = ProgressBar(Console(file=io.StringIO()), clock=clock)
    bar.start(2000, 0, "run 1")
    bar.advance(1990, _answers(3))
    bar.start(2000, 0, "run 1")
    bar.advance(2000, ())  # the run's rows settled, as the store counts them
    assert "progress run 1: 2000 of 2000 rows (100%)" in bar.line()
