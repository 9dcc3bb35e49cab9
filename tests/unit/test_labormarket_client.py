"""The Labor Market adapter alone: requests it builds, answers it reads (aioresponses)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aioresponses import aioresponses

from bulkfetch.adapter import ResultKind
from bulkfetch.apis.labormarket import LaborMarket, WireNames, answers, normalise_cip, normalise_soc
from bulkfetch.errors import (
    AuthenticationError,
    InvalidInputError,
    QuotaExhaustedError,
    RejectedError,
)
from tests.unit.mock_http import MockedResponse

BASE = "https://lmi.test"
PLATFORM = "pk_live_secret_platform"
CUSTOMER = "ck_secret_customer"
SOC_URL = f"{BASE}/v1/labor-market-intelligence/by-soc"
CIP_URL = f"{BASE}/v1/labor-market-intelligence/by-cip"


def occupation(soc: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": f"Occupation {soc}",
        "socCode": soc,
        "laborMarketData": {"medianAnnualSalary": 1.0},
        **extra,
    }


def answer(
    *occupations: dict[str, Any], warnings: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    return {
        "data": {
            "regionType": "national",
            "region": None,
            "matchedOccupations": list(occupations),
            "warnings": warnings or [],
        }
    }


def error(code: str) -> dict[str, Any]:
    return {
        "object": "error",
        "error": {"code": code, "message": f"{code} happened", "details": {}},
    }


@pytest.fixture
async def api() -> AsyncIterator[LaborMarket]:
    async with LaborMarket(
        PLATFORM, customer_key=CUSTOMER, environment="production", base_url=BASE
    ) as client:
        yield client


async def test_request_carries_bearer_customer_key_and_options(api: LaborMarket) -> None:
    """Headers and body as the API reference names them; the unconfirmed names from WireNames."""
    with aioresponses() as mocked:
        mocked.post(SOC_URL, payload=answer(occupation("15-1252")), response_class=MockedResponse)
        await api.by_soc(
            ["151252"],
            region_type="msa",
            region="41860",
            fields=["name"],
            include_skills=True,
            msa_fallback=True,
        )
        ((_, _url), (call,)) = next(iter(mocked.requests.items()))
    assert call.kwargs["headers"]["Authorization"] == f"Bearer {PLATFORM}"
    assert call.kwargs["headers"]["X-Customer-Key"] == CUSTOMER
    assert call.kwargs["json"] == {
        "socCodes": ["15-1252"],
        "regionType": "msa",
        "region": "41860",
        "fields": ["name"],
        "includeSkills": True,
        "msaFallback": True,
    }


async def test_wire_names_can_be_overridden() -> None:
    """A guide that names things differently is one setting away."""
    wire = WireNames(region_field="regionCode", customer_key_header="X-End-Customer-API-Key")
    async with LaborMarket(PLATFORM, customer_key=CUSTOMER, base_url=BASE, wire=wire) as api:
        with aioresponses() as mocked:
            mocked.post(SOC_URL, payload=answer(), response_class=MockedResponse)
            await api.by_soc(["15-1252"], region_type="state", region="6")
            ((_, _url), (call,)) = next(iter(mocked.requests.items()))
    assert call.kwargs["json"]["regionCode"] == "6"
    assert call.kwargs["headers"]["X-End-Customer-API-Key"] == CUSTOMER


def test_codes_are_checked_and_normalised() -> None:
    """SOC and CIP formats, with the forms spreadsheets produce."""
    assert normalise_soc(" 151252 ") == "15-1252"
    assert normalise_soc("15-1252") == "15-1252"
    assert normalise_cip("110701") == "11.0701"
    assert normalise_cip("1.0101") == "01.0101"
    for bad in ("15-125", "1512523", "abc"):
        with pytest.raises(InvalidInputError):
            normalise_soc(bad)
    for bad in ("11.07", "111.0701", "x"):
        with pytest.raises(InvalidInputError):
            normalise_cip(bad)


async def test_bad_calls_are_refused_before_any_request(api: LaborMarket) -> None:
    """More than 25 codes, malformed codes, a region type without a region: no request."""
    with aioresponses() as mocked:
        with pytest.raises(InvalidInputError, match="at most 25"):
            await api.by_soc([f"15-{1000 + i}" for i in range(26)])
        with pytest.raises(InvalidInputError):
            await api.by_cip(["11.07"])
        with pytest.raises(InvalidInputError, match="needs a region"):
            await api.by_soc(["15-1252"], region_type="state")
        assert not mocked.requests


def test_production_without_a_customer_key_is_refused_at_once() -> None:
    """No end-customer key in production: an error before any call can be made."""
    with pytest.raises(InvalidInputError, match="end-customer key"):
        LaborMarket(PLATFORM, environment="production")


@pytest.mark.parametrize(
    ("status", "code", "raised"),
    [
        (403, "QUOTA_EXCEEDED", QuotaExhaustedError),
        (403, "INSUFFICIENT_PERMISSIONS", AuthenticationError),
        (401, "UNAUTHORIZED", AuthenticationError),
        (400, "INVALID_INPUT", RejectedError),
    ],
)
async def test_errors_are_read_by_their_code(
    api: LaborMarket, status: int, code: str, raised: type[Exception]
) -> None:
    """403 means quota or access by its code; the keys never appear in the message."""
    with aioresponses() as mocked:
        mocked.post(SOC_URL, status=status, payload=error(code), response_class=MockedResponse)
        with pytest.raises(raised) as caught:
            await api.by_soc(["15-1252"])
    assert code in str(caught.value)
    assert PLATFORM not in str(caught.value)
    assert CUSTOMER not in str(caught.value)
    assert PLATFORM not in repr(api)


async def test_a_soc_batch_splits_back_per_code(api: LaborMarket) -> None:
    """Each code gets its own occupation; a code the answer leaves out is not_found."""
    lookups = [api.lookup(code) for code in ("15-1252", "29-1141", "11-1021")]
    warning = {"code": "MSA_TO_STATE_PROJECTION_FALLBACK", "message": "m", "socCode": "29-1141"}
    with aioresponses() as mocked:
        mocked.post(
            SOC_URL,
            payload=answer(occupation("29-1141"), occupation("15-1252"), warnings=[warning]),
            headers={"X-RateLimit-Remaining": "7", "X-RateLimit-Reset": "9999999999"},
            response_class=MockedResponse,
        )
        reply = await api.fetch(lookups)
    kinds = [r.kind for r in reply.results]
    assert kinds == [ResultKind.OK, ResultKind.OK, ResultKind.NOT_FOUND]
    assert reply.results[2].error == "no data for this code in the US (national)"
    first, second = (result.body or "" for result in reply.results[:2])
    assert '"15-1252"' in first
    assert "MSA_TO_STATE" in second
    assert "MSA_TO_STATE" not in first
    assert reply.remaining == 7


async def test_cip_goes_one_code_a_request_until_answers_name_their_codes(api: LaborMarket) -> None:
    """Attribution unknown: batch of one. Seen: 25. Missing: one, with a notice said once."""
    codes = api.operation("by_cip", {}).client
    assert codes.batch_size == 1
    with aioresponses() as mocked:
        mocked.post(
            CIP_URL,
            payload=answer(occupation("15-1252", matchedCipCodes=["11.0701"])),
            response_class=MockedResponse,
        )
        await codes.fetch([api.lookup("11.0701", by="cip")])
    assert codes.batch_size == 25

    async with LaborMarket(PLATFORM, base_url=BASE) as plain:
        plain_codes = plain.operation("by_cip", {}).client
        with aioresponses() as mocked:
            for _ in range(2):
                mocked.post(
                    CIP_URL, payload=answer(occupation("15-1252")), response_class=MockedResponse
                )
            await plain.fetch([plain.lookup("11.0701", by="cip")])
            await plain.fetch([plain.lookup("11.0702", by="cip")])
        assert plain_codes.batch_size == 1
        assert len(plain.notices) == 1


def test_a_code_with_no_data_says_for_which_region(api: LaborMarket) -> None:
    """A state written as people write it is its FIPS code; the miss names the state."""
    lookup = api.lookup("15-1252", region="CA")
    assert lookup.param("region") == "6"
    data = {"regionType": "state", "region": "6", "matchedOccupations": []}
    result = answers.code_result(200, lookup, None, data)
    assert result.kind is ResultKind.NOT_FOUND
    assert result.error == "no data for this code in California (state 6)"
