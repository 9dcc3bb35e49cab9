"""Properties that must hold for every input, not just the ones we thought of (hypothesis)."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bulkfetch.adapter import LookupResult, Reply, ResultKind
from bulkfetch.apis.crystalroof import AREA_TYPES, CrystalRoof
from bulkfetch.apis.crystalroof.locations import parse_location
from bulkfetch.engine import EngineSettings, run_jobs
from bulkfetch.errors import RejectedError
from bulkfetch.jobs import JobState, Lookup
from bulkfetch.pacing.limiter import RateLimiter
from bulkfetch.store import RowEntry, RunSpec, Store
from tests.unit.clock import AutojumpClock

pytestmark = pytest.mark.reliability

LETTERS = "ABCDEFGHJKLMNOPRSTUWYZ"
UNIT = "ABDEFGHJLNPQRSTUWXYZ"


@st.composite
def postcodes(draw: st.DrawFn) -> str:
    """Canonical UK postcodes of every outward shape: A9, A99, AA9, AA99, A9A, AA9A."""
    area = draw(st.text(LETTERS, min_size=1, max_size=2))
    district = str(draw(st.integers(0, 99 if draw(st.booleans()) else 9)))
    if len(district) == 1 and draw(st.booleans()):
        district += draw(st.sampled_from("ABCDEFGHJKPSTUW"))
    inward = f"{draw(st.integers(0, 9))}{draw(st.text(UNIT, min_size=2, max_size=2))}"
    return f"{area}{district} {inward}"


@st.composite
def spellings(draw: st.DrawFn, canonical: str) -> str:
    """The same postcode as a person might type it: any case, any spacing."""
    squashed = canonical.replace(" ", "")
    cut = len(squashed) - 3
    middle = draw(st.sampled_from(["", " ", "  ", "\t"]))
    text = squashed[:cut] + middle + squashed[cut:]
    text = "".join(c.lower() if draw(st.booleans()) else c for c in text)
    return draw(st.sampled_from(["", " ", "  "])) + text + draw(st.sampled_from(["", " ", "\t"]))


@given(st.data(), postcodes())
def test_normalisation_is_idempotent_and_ignores_case_and_spacing(
    data: st.DataObject, canonical: str
) -> None:
    """Every spelling normalises to the canonical form, and normalising that changes nothing."""
    spelt = data.draw(spellings(canonical))
    location = parse_location(spelt)
    assert location.value == canonical
    assert parse_location(location.value) == location
    assert parse_location(location.path_segment) == location


@given(
    key=st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=8, max_size=40),
    data=st.data(),
    first=postcodes(),
    second=postcodes(),
)
def test_fingerprints_hold_no_key_and_match_exactly_equal_lookups(
    key: str, data: st.DataObject, first: str, second: str
) -> None:
    """A fingerprint never contains the key, and two are equal exactly when the lookups are."""
    api = CrystalRoof(key, base_url="http://emulator")
    area_a, area_b = (data.draw(st.sampled_from(AREA_TYPES)) for _ in range(2))
    a = api.lookup(data.draw(spellings(first)), area_type=area_a)
    b = api.lookup(data.draw(spellings(second)), area_type=area_b)
    for lookup in (a, b):
        for text in (lookup.fingerprint, lookup.params_json(), repr(lookup)):
            assert key not in text
    assert (a.fingerprint == b.fingerprint) == ((first, area_a) == (second, area_b))
    other = CrystalRoof(key, base_url="http://elsewhere").lookup(first, area_type=area_a)
    assert other.fingerprint != api.lookup(first, area_type=area_a).fingerprint


class BatchAdapter:
    """An API that takes 25 codes a request and refuses a whole batch holding a bad one."""

    name = "fake"
    batch_size = 25
    fixed_columns: tuple[str, ...] = ()
    expands_rows = False
    notices: tuple[str, ...] = ()
    rate_key = "fake-key"

    def __init__(self, bad: set[str]) -> None:
        self.bad = bad
        self.requests = 0

    async def fetch(self, lookups: Sequence[Lookup]) -> Reply:
        self.requests += 1
        codes = [lookup.param("code") for lookup in lookups]
        if self.bad & set(codes):
            raise RejectedError("INVALID_INPUT: a bad code", status=400)
        return Reply([LookupResult(ResultKind.OK, 200, body="{}") for _ in codes])

    def output_rows(self, body: str) -> list[dict[str, str]]:
        return [{}]

    def output_document(self, body: str) -> dict[str, str]:
        return {}

    def spec(self) -> dict[str, str]:
        return {"api": self.name}

    async def close(self) -> None:
        pass


async def _bisect(codes: list[str], bad: set[str]) -> tuple[dict[str, JobState], int]:
    with tempfile.TemporaryDirectory() as workdir:
        async with await Store.open(Path(workdir) / "s.db") as store:
            run = await store.runs.begin(RunSpec("k", "fake", "e", "d"), now=1.0)
            lookups = [Lookup.of("fake", "o", "e", {"code": code}) for code in codes]
            await store.queue.enqueue(
                run.id, [RowEntry(i, lk) for i, lk in enumerate(lookups)], now=1.0
            )
            adapter = BatchAdapter(bad)
            clock = AutojumpClock()  # the pacing's seconds pass at once, in order
            await clock.driving(
                run_jobs(
                    store,
                    run.id,
                    adapter,
                    RateLimiter(None, clock=clock),
                    settings=EngineSettings(concurrency=3),
                    clock=clock,
                )
            )
            states = {
                lookups[row.row_no].param("code"): row.state
                async for row in store.results.rows(run.id)
                if row.state is not None
            }
    return states, adapter.requests


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    codes=st.lists(
        st.integers(1000, 9999).map(lambda n: f"15-{n}"), min_size=1, max_size=80, unique=True
    ),
    data=st.data(),
)
def test_bisection_isolates_any_set_of_bad_codes(codes: list[str], data: st.DataObject) -> None:
    """Whichever codes are bad, in whichever batches: exactly they end invalid, the rest
    done, and each bad code costs at most 2 requests per halving of its batch."""
    bad = set(data.draw(st.lists(st.sampled_from(codes), max_size=min(6, len(codes)), unique=True)))
    states, requests = anyio.run(_bisect, codes, bad)
    assert {code for code, state in states.items() if state is JobState.INVALID} == bad
    assert all(state is JobState.DONE for code, state in states.items() if code not in bad)
    batches = -(-len(codes) // 25)
    assert requests <= batches + len(bad) * 2 * 5
