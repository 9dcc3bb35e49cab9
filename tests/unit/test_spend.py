"""What an outcome spends, the plan's words, and durations: pure parts, fast."""

from __future__ import annotations

import argparse
import random

import pytest

from bulkfetch.adapter import LookupResult, Reply, ResultKind
from bulkfetch.cli.options import duration
from bulkfetch.engine.classify import answered, failed, released
from bulkfetch.engine.settings import EngineSettings
from bulkfetch.errors import (
    BadResponseError,
    ConnectError,
    NotFoundError,
    QuotaExhaustedError,
    RateLimitedError,
    RejectedError,
    ServerError,
    TransportError,
)
from bulkfetch.jobs import Job, Lookup, Outcome
from bulkfetch.run.plan import Plan
from bulkfetch.spend import Spend

JOBS = [Job(i, Lookup.of("api", "http://x", "e", {"code": str(i)}), attempts=0) for i in range(3)]


def spend_of(outcomes: list[Outcome]) -> Spend:
    spend = Spend()
    spend.add(outcomes)
    return spend


def test_an_answered_batch_bills_each_lookup_but_the_refused() -> None:
    """One request of three: ok and not found are billed, an invalid one is not."""
    reply = Reply(
        [
            LookupResult(ResultKind.OK, 200, body="{}"),
            LookupResult(ResultKind.NOT_FOUND, 200),
            LookupResult(ResultKind.INVALID, 200, error="bad"),
        ]
    )
    spend = spend_of(answered(JOBS, reply))
    assert (spend.units, spend.requests, spend.maybe_billed_twice) == (2, 1, 0)


@pytest.mark.parametrize(
    ("error", "units", "maybe", "limited"),
    [
        (NotFoundError("gone", status=404), 3, 0, 0),
        (RejectedError("bad", status=400), 0, 0, 0),
        (RateLimitedError("slow down", status=429), 0, 0, 1),
        (ServerError("oops", status=500), 0, 0, 0),
        (TransportError("timed out"), 0, 3, 0),
        (BadResponseError("not JSON", status=200), 3, 0, 0),
        (BadResponseError("html", status=502), 0, 0, 0),
    ],
)
def test_a_failed_request_bills_what_the_provider_would(
    error: Exception, units: int, maybe: int, limited: int
) -> None:
    """404 and an unreadable success billed; refusals not; an answer lost, maybe."""
    assert isinstance(error, Exception)
    outcomes = failed(JOBS, error, now=0.0, settings=EngineSettings(), rng=random.Random(1))  # type: ignore[arg-type]
    spend = spend_of(outcomes)
    assert (spend.units, spend.maybe_billed_twice, spend.rate_limited) == (units, maybe, limited)
    assert spend.requests == 1


def test_unsent_and_unconnected_requests_cost_nothing() -> None:
    """A stop's answer, a connection that never opened, a call never sent: no unit."""
    assert not ConnectError("refused", host="x:1").maybe_billed
    stopped = failed(
        JOBS, QuotaExhaustedError("spent", status=402), now=0.0, settings=EngineSettings(),
        rng=random.Random(1),
    )  # fmt: skip
    unconnected = released(JOBS, called=False, unconnected=True)
    spend = spend_of([*stopped, *unconnected, *released(JOBS, called=False)])
    assert (spend.units, spend.requests, spend.connect_failures) == (0, 1, 1)


def test_spends_add_up() -> None:
    """An invocation's spend adds into a worker's, field by field."""
    total = Spend(units=1, requests=2)
    total.add_spend(Spend(units=3, requests=4, maybe_billed_twice=5))
    assert total == Spend(units=4, requests=6, maybe_billed_twice=5)
    assert "4 billed lookups in 6 requests" in total.describe()


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("45s", 45), ("90m", 5400), ("12h", 43200), ("30d", 2592000), ("2w", 1209600), ("7", 7)],
)
def test_durations(text: str, seconds: float) -> None:
    """--max-age takes a number and a unit."""
    assert duration(text) == seconds


def test_a_duration_without_a_number_is_refused() -> None:
    """A word is not a duration: refused, with examples."""
    with pytest.raises(argparse.ArgumentTypeError, match="30d"):
        duration("a month")


def test_the_plan_in_words() -> None:
    """How long the requests take at the rate; without one, how to know."""
    plan = Plan(rows=10, invalid=1, lookups=8, answered=3, units=5, requests=1, rate=None)
    assert "give --rate" in plan.describe()[-1]
    timed = Plan(rows=10, invalid=1, lookups=8, answered=3, units=5000, requests=200, rate=0.5)
    assert timed.describe()[-1] == "at 0.5 calls a second: about 6m 40s"
    assert timed.as_json()["seconds"] == 400
