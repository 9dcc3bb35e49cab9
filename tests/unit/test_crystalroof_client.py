"""The CrystalRoof adapter alone: requests it builds, answers it reads (aioresponses)."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aioresponses import aioresponses

from bulkfetch.adapter import ResultKind
from bulkfetch.apis.crystalroof import CrystalRoof
from bulkfetch.errors import (
    AuthenticationError,
    BadResponseError,
    InvalidInputError,
    NotFoundError,
    QuotaExhaustedError,
    RateLimitedError,
    ServerError,
    TransportError,
    UsageError,
)
from tests.unit.mock_http import MockedResponse

BASE = "https://api.test"
SECRET = "sk-live-do-not-leak-42"
URL = re.compile(r"^https://api\.test/customer-api/.*$")
BODY = {
    "data": {
        "residents": {"Total": 98, "1. Managers, directors and senior officials": 9},
        "rank": {"1. Managers, directors and senior officials": 3},
    },
    "dataDate": "2021-03-21",
    "refreshedDate": "2021-03-21",
}


@pytest.fixture
async def api() -> AsyncIterator[CrystalRoof]:
    """A client whose single calls are not retried: each answer's error is seen as it is."""
    async with CrystalRoof(SECRET, base_url=BASE, max_attempts=1) as client:
        yield client


async def test_occupation_builds_the_documented_request(api: CrystalRoof) -> None:
    """Path, postcode without its space, area_type and the key in the query."""
    with aioresponses() as mocked:
        mocked.get(URL, response_class=MockedResponse, payload=BODY)
        result = await api.occupation("w6 0ww", area_type="lsoa")
        ((method, url), _calls) = next(iter(mocked.requests.items()))
    assert method == "GET"
    assert url.path == "/customer-api/work-and-travel/occupation/postcode/v1/W60WW"
    assert url.query["area_type"] == "lsoa"
    assert url.query["api_key"] == SECRET
    assert result.residents["Total"] == 98
    assert result.rank["1. Managers, directors and senior officials"] == 3
    assert result.data_date == "2021-03-21"
    assert result.location == "W6 0WW"


async def test_datasets_without_postcode_segment_and_without_area_type(api: CrystalRoof) -> None:
    """Other datasets are data, not code: their path and parameters follow the docs."""
    with aioresponses() as mocked:
        mocked.get(
            URL, response_class=MockedResponse, payload={"data": {"totalMeanAnnualIncome": 64200}}
        )
        result = await api.dataset("geography/postcode-details", "W6 0WW", area_type=None)
        ((_, url), _calls) = next(iter(mocked.requests.items()))
    assert url.path == "/customer-api/geography/postcode-details/v1/W60WW"
    assert "area_type" not in url.query
    assert result.data == {"totalMeanAnnualIncome": 64200}


@pytest.mark.parametrize(
    ("dataset", "options", "path", "query"),
    [
        ("income", {}, "income/mean-household-income/postcode", {}),
        ("flood-risk", {}, "environment/flood-risk", {}),
        ("crime", {"month": "2024-05"}, "crime/monthly-crimes/postcode", {"month": "2024-05"}),
        ("sex", {}, "demographics-and-migration/sex/postcode", {"area_type": "oa"}),
        ("a-b/c-d", {"postcode_segment": "no", "area_type": "none"}, "a-b/c-d", {}),
        ("a-b/c-d", {"area_type": "msoa"}, "a-b/c-d/postcode", {"area_type": "msoa"}),
    ],
)
async def test_each_dataset_is_sent_what_it_takes(
    api: CrystalRoof, dataset: str, options: dict[str, str], path: str, query: dict[str, str]
) -> None:
    """A catalogue dataset gets its own path and only the options it takes; one outside
    the catalogue its path and the options given."""
    with aioresponses() as mocked:
        mocked.get(URL, response_class=MockedResponse, payload={"data": {}})
        await api.dataset(dataset, "W6 0WW", **options)
        ((_, url), _calls) = next(iter(mocked.requests.items()))
    assert url.path == f"/customer-api/{path}/v1/W60WW"
    assert {k: v for k, v in url.query.items() if k != "api_key"} == query


@pytest.mark.parametrize(
    ("status", "message", "error"),
    [
        (401, "No such API key or it is not valid anymore.", AuthenticationError),
        (
            402,
            "You have exhausted the available calls provided by your package.",
            QuotaExhaustedError,
        ),
        (403, "API key is invalid for the given action.", AuthenticationError),
        (404, "Can't find such location.", NotFoundError),
        (500, "We have already started working on a resolution!", ServerError),
    ],
)
async def test_each_documented_status_is_a_typed_error(
    api: CrystalRoof, status: int, message: str, error: type[Exception]
) -> None:
    """Every documented error maps to its class, with the API's words and no key."""
    with aioresponses() as mocked:
        mocked.get(URL, response_class=MockedResponse, status=status, payload={"error": message})
        with pytest.raises(error) as raised:
            await api.occupation("W6 0WW")
    assert message in str(raised.value)
    assert f"HTTP {status}" in str(raised.value)
    assert SECRET not in str(raised.value)
    assert SECRET not in repr(raised.value)


async def test_a_429_is_the_adapters_error_with_its_retry_after(api: CrystalRoof) -> None:
    """To the engine a 429 is a RateLimitedError with the API's words and Retry-After."""
    message = "Too many requests have been sent in one second."
    with aioresponses() as mocked:
        mocked.get(
            URL,
            response_class=MockedResponse,
            status=429,
            payload={"error": message},
            headers={"Retry-After": "3"},
        )
        with pytest.raises(RateLimitedError) as raised:
            await api.fetch([api.lookup("W6 0WW")])
    assert message in str(raised.value)
    assert raised.value.retry_after == pytest.approx(3)
    assert SECRET not in str(raised.value)


async def test_a_single_call_waits_out_a_429(api: CrystalRoof) -> None:
    """A 429 teaches the client's pacing and is tried again at no attempt's cost."""
    with aioresponses() as mocked:
        mocked.get(
            URL,
            response_class=MockedResponse,
            status=429,
            payload={"error": "x"},
            headers={"Retry-After": "0.05"},
        )
        mocked.get(URL, response_class=MockedResponse, payload=BODY)
        result = await api.occupation("W6 0WW")
    assert result.residents["Total"] == 98
    assert api.pacer.rate_limited == 1


async def test_unreadable_and_cut_answers_are_retryable(api: CrystalRoof) -> None:
    """A body that is not JSON, or a broken connection, never escapes as aiohttp's error,
    and is tried again: with three attempts, two such answers, then the body."""
    with aioresponses() as mocked:
        mocked.get(URL, response_class=MockedResponse, status=200, body="<html>oops")
        with pytest.raises(BadResponseError):
            await api.occupation("W6 0WW")
        mocked.get(URL, exception=aiohttp.ServerDisconnectedError())
        with pytest.raises(TransportError) as raised:
            await api.occupation("W6 0WW")
    assert SECRET not in str(raised.value)
    async with CrystalRoof(SECRET, base_url=BASE, max_attempts=3) as patient:
        with aioresponses() as mocked:
            mocked.get(URL, response_class=MockedResponse, status=200, body="<html>oops")
            mocked.get(URL, exception=aiohttp.ServerDisconnectedError())
            mocked.get(URL, response_class=MockedResponse, payload=BODY)
            result = await patient.occupation("W6 0WW")
            assert sum(len(calls) for calls in mocked.requests.values()) == 3
    assert result.residents["Total"] == 98


async def test_bulk_fetch_turns_404_into_a_not_found_result(api: CrystalRoof) -> None:
    """In bulk, 404 is an outcome of the lookup, not an error."""
    lookup = api.lookup("W6 0WW")
    with aioresponses() as mocked:
        mocked.get(
            URL,
            response_class=MockedResponse,
            status=404,
            payload={"error": "Can't find such location."},
        )
        reply = await api.fetch([lookup])
    assert reply.results[0].kind is ResultKind.NOT_FOUND


async def test_bad_input_raises_before_any_call(api: CrystalRoof) -> None:
    """Malformed locations, unknown area types and datasets, an area type a dataset does not
    take and an option it needs left out are refused locally."""
    with aioresponses() as mocked:
        for call in (
            api.occupation("not a postcode"),
            api.occupation("W6 0WW", area_type="street"),
            api.dataset("not a dataset", "W6 0WW"),
            api.dataset("income", "W6 0WW", area_type="lsoa"),
            api.dataset("crime/monthly-crimes", "W6 0WW"),
            api.dataset("crime", "W6 0WW", month="May"),
        ):
            with pytest.raises((InvalidInputError, UsageError)):
                await call
        assert not mocked.requests


def test_repr_hides_the_key() -> None:
    """The client can be printed or logged safely."""
    assert SECRET not in repr(CrystalRoof(SECRET))


async def test_a_single_call_told_no_calls_are_left_holds_the_next(api: CrystalRoof) -> None:
    """X-RateLimit-Remaining: 0 on a single call's answer pauses its pacer until the reset."""
    reset = time.time() + 30
    headers = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": f"{reset:.0f}"}
    with aioresponses() as mocked:
        mocked.get(URL, response_class=MockedResponse, payload=BODY, headers=headers)
        assert api.pacer.paused_until is None
        await api.occupation("W6 0WW")
    paused = api.pacer.paused_until
    assert paused is not None
    assert abs(paused - reset) < 2
