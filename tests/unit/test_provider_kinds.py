"""The rate limiter against each kind of provider window, simulated on a clock the test
drives (no real time passes): fixed seconds (the wall clock's, and half a second off
them), a sliding second, a token bucket, a minute; with calls reaching the count after a
one-way latency of their own, or at once. Over the whole run, from its first second."""

from __future__ import annotations

import random
from typing import Any

import pytest

from tests.unit.simulated import Outcome, Provider, simulate

KINDS: dict[str, dict[str, Any]] = {
    "wall": {"kind": "fixed"},
    "offset": {"kind": "fixed", "offset": 0.5},
    "sliding": {"kind": "sliding"},
    "bucket": {"kind": "bucket"},
}


async def run(limit: int, told: bool, jitter: float = 0.0, **provider: Any) -> tuple[float, float]:
    """Of the limit, and the share of calls answered 429, over 45 s at 20/s, 30 s above."""
    outcome = await simulate(
        float(limit) if told else None,
        Provider(limit, jitter=jitter, **provider),
        seconds=45.0 if limit <= 20 else 30.0,
        after=0.0,
    )
    return outcome.per_second / limit, outcome.rate_limited_share


@pytest.mark.parametrize("limit", [20, 100])
@pytest.mark.parametrize("kind", list(KINDS))
async def test_told_the_limit_every_kind_is_kept_whole(kind: str, limit: int) -> None:
    """Told the true limit, calls reaching the count at once: at least 0.99 of it, under
    0.5% of calls answered 429."""
    share, limited = await run(limit, True, **KINDS[kind])
    assert share >= 0.99
    assert limited < 0.005


@pytest.mark.parametrize("limit", [20, 100])
@pytest.mark.parametrize("kind", ["wall", "offset", "bucket"])
async def test_told_the_limit_a_jittered_way_in_is_kept_to(kind: str, limit: int) -> None:
    """Told the true limit, each call's way in 0-100 ms: fixed seconds (theirs found from
    where 429s fall, margins from the latencies' spread) and a bucket (calls spaced) keep
    at least 0.97 of it and under 0.5% of 429s."""
    share, limited = await run(limit, True, jitter=0.1, **KINDS[kind])
    assert share >= 0.97
    assert limited < 0.005


@pytest.mark.parametrize("limit", [20, 100])
async def test_a_sliding_second_with_a_jittered_way_in_costs_the_jitter(limit: int) -> None:
    """A sliding second, each call's way in 0-100 ms: evenly spaced, a second's count varies
    as the calls at its edges arrive in it or not; spaced three of that variation under
    the limit once a model says it slides (at 20/s nearly the 100 ms: 1/1.1 of it), at
    least 0.89 of it and under 1.2% of 429s."""
    share, limited = await run(limit, True, jitter=0.1, kind="sliding")
    assert share >= 0.89
    assert limited < 0.012


@pytest.mark.parametrize("limit", [20, 100])
@pytest.mark.parametrize("kind", list(KINDS))
async def test_told_nothing_the_limit_is_learned(kind: str, limit: int) -> None:
    """Told nothing, calls reaching the count at once: slow start, then a model of the
    window fitted to the answers at its pauses and paced by: at least 0.95 of the limit
    and under 1% of calls answered 429, every kind."""
    share, limited = await run(limit, False, **KINDS[kind])
    assert share >= 0.95
    assert limited < 0.01


async def test_a_minute_told_nothing_waits_for_its_retry_after() -> None:
    """A minute of 60 x 20 calls, told nothing: its 429s say when it opens (Retry-After),
    and calls wait for it: over three minutes, under 2% of calls answered 429."""
    outcome = await simulate(
        None, Provider(20, kind="minute"), seconds=180.0, after=0.0, start=1020.0
    )
    assert outcome.per_second >= 0.95 * 20
    assert outcome.rate_limited_share < 0.02


RUNS: dict[tuple[bool, int, str], list[Outcome]] = {}  # six runs of each: the same every time


async def six_runs(limit: int, kind: str, *, told: bool = False) -> list[Outcome]:
    """Six runs told the limit or nothing, each call's way in 0-100 ms (each run its own
    latencies and start within the second); simulated once a test session, as seeded."""
    if (told, limit, kind) in RUNS:
        return RUNS[told, limit, kind]
    outcomes = RUNS[told, limit, kind] = []
    for seed in range(6):
        provider = Provider(limit, jitter=0.1, rng=random.Random(seed + 1), **KINDS[kind])
        outcomes.append(
            await simulate(
                float(limit) if told else None, provider,
                seconds=45.0 if limit <= 20 else 30.0, after=0.0, start=1000.37 + seed * 0.29,
            )
        )  # fmt: skip
    return outcomes


@pytest.mark.slow  # six runs a case: the full tier
@pytest.mark.parametrize("limit", [20, 100])
@pytest.mark.parametrize("kind", list(KINDS))
async def test_told_the_limit_every_run_of_six_keeps_to_it(kind: str, limit: int) -> None:
    """Told the limit, a jittered way in: every run of six at least 0.97 of it and under
    0.5% of 429s (the issue's target); a sliding second at least 0.89 (0.92 at 100/s) and
    under 1%."""
    sliding = {20: 0.89, 100: 0.92}[limit] if kind == "sliding" else None
    outcomes = await six_runs(limit, kind, told=True)
    assert min(outcome.per_second for outcome in outcomes) >= limit * (sliding or 0.97)
    assert max(outcome.rate_limited_share for outcome in outcomes) < (0.01 if sliding else 0.005)


@pytest.mark.slow  # six runs a case: the full tier
@pytest.mark.parametrize("limit", [20, 100])
async def test_told_nothing_the_wall_clock_s_limit_is_learned_exactly(limit: int) -> None:
    """Told nothing, a jittered way in: each of six runs learns the wall clock's limit to
    the call (a 429's second counts the calls sent after it that arrived before it)."""
    assert [outcome.learned for outcome in await six_runs(limit, "wall")] == [limit] * 6


@pytest.mark.slow  # six runs a case: the full tier
@pytest.mark.parametrize("limit", [20, 100])
@pytest.mark.parametrize("kind", list(KINDS))
async def test_told_nothing_no_run_learns_a_fraction_of_the_limit(kind: str, limit: int) -> None:
    """Told nothing, a jittered way in: no run of six under 0.9 of the limit nor over 3.5%
    of 429s (a sliding second: 0.85 and 5%, what spacing for the jitter leaves); a bucket
    at 100/s was once learned at half, seconds half a second off at 147 of 100."""
    sliding = kind == "sliding"
    outcomes = await six_runs(limit, kind)
    assert min(outcome.per_second for outcome in outcomes) >= limit * (0.85 if sliding else 0.9)
    assert max(outcome.rate_limited_share for outcome in outcomes) < (0.05 if sliding else 0.035)


@pytest.mark.slow  # six runs a case: the full tier
@pytest.mark.xfail(strict=True, reason="known: learning a jittered window costs 1-4% of 429s")
@pytest.mark.parametrize("limit", [20, 100])
@pytest.mark.parametrize("kind", ["wall", "offset", "bucket"])
async def test_told_nothing_a_jittered_window_is_learned_with_few_429s(
    kind: str, limit: int
) -> None:
    """Told nothing, a jittered way in: under 1% of 429s in every run of six (the issue's
    target; the learning seconds' 429s come between admitted calls, and pause late)."""
    outcomes = await six_runs(limit, kind)
    assert max(outcome.rate_limited_share for outcome in outcomes) < 0.01


async def told(rate: float, limit: int, kind: str) -> tuple[float, float]:
    """Told ``rate`` against a provider of ``limit`` of ``kind``, calls arriving at once:
    of the limit, and the share of calls answered 429, over 45 s."""
    outcome = await simulate(rate, Provider(limit, **KINDS[kind]), seconds=45.0, after=0.0)
    return outcome.per_second / limit, outcome.rate_limited_share


async def test_told_a_rate_above_a_bucket_s_its_429s_teach_it() -> None:
    """Told 25 against a bucket of 20: a fifth of the calls meeting 429s is no chance, and
    they teach its limit (they were 20% of all calls, for good)."""
    share, limited = await told(25.0, 20, "bucket")
    assert share >= 0.95
    assert limited < 0.025


@pytest.mark.parametrize(
    ("rate", "kind"), [(22.0, "wall"), (22.0, "offset"), (22.0, "bucket"), (30.0, "bucket")]
)
async def test_told_a_rate_a_little_above_the_limit_it_is_learned(rate: float, kind: str) -> None:
    """Told 22 against 20 (a tenth over: 429s that look like misplaced calls' at the limit)
    or 30 against a bucket of 20 (429s alone): a model of the window fitted to the answers
    learns the limit, under 2% of 429s (they were 8% and a third, for good)."""
    share, limited = await told(rate, 20, kind)
    assert share >= 0.95
    assert limited < 0.02


@pytest.mark.parametrize("factor", [1.1, 1.5, 2.0])
@pytest.mark.parametrize("kind", list(KINDS))
async def test_told_too_much_every_kind_is_learned(kind: str, factor: float) -> None:
    """Told a tenth, a half or twice over a limit of 20, calls reaching the count at once:
    at least 0.95 of the limit and under 2% of 429s, every kind (told twice a bucket's
    rate, its burst and a part once taught 8 of 20)."""
    share, limited = await told(factor * 20, 20, kind)
    assert share >= 0.95
    assert limited < 0.02
