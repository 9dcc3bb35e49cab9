"""A described API's adapter alone (aioresponses): the request one batch of lookups becomes,
and its answer read back into one result a lookup, as the description says."""

from __future__ import annotations

import json
import re
import time
import tomllib
from pathlib import Path
from typing import Any

import pytest
from aioresponses import aioresponses
from yarl import URL

from bulkfetch.adapter import Reply, ResultKind
from bulkfetch.describe import DescribedApi, load_api, trusting
from bulkfetch.describe.schema import parse
from bulkfetch.errors import (
    ApiError,
    AuthenticationError,
    BadResponseError,
    InvalidInputError,
    NotFoundError,
    QuotaExhaustedError,
    RateLimitedError,
    RejectedError,
    ServerError,
    UsageError,
)
from tests.unit.mock_http import MockedResponse

KEY = "sk-test-described-0123456789"
ENV = {"DEMO_KEY": KEY}
ANY = re.compile(r"^https://api\.test/.*$")
HEAD = 'name = "demo"\nbase_url = "https://api.test"\n'
AUTH = '[[auth]]\nin = "{where}"\nname = "{name}"\nenv = "DEMO_KEY"\n'
BULK = AUTH.format(where="header", name="X-Api-Key") + (
    '[request]\nmethod = "POST"\npath = "/postcodes"\nbody = { postcodes = "{values}" }\n'
    '[batch]\nsize = 3\nitems = "result"\nkey = "query"\n[answer]\ndata = "result"\n'
    '[value]\nname = "postcode"\ncase = "upper"\nspaces = "remove"\n'
    "format = '\\1 \\2'\npattern = '^([A-Z]{1,2}[0-9][A-Z0-9]?)([0-9][A-Z]{2})$'\n"
    '[statuses]\n403 = "quota"\n'
)
LIST = AUTH.format(where="query", name="api_key") + (
    '[request]\npath = "/v1/lookup"\nquery = { ids = "{values}" }\n'
    '[batch]\nsize = 3\njoin = "|"\nby = "position"\n'
)
ONE = '[request]\npath = "/v1/{value}"\n[value]\nspaces = "keep"\n'
PLACES = ["W6 0WW", "SW1A 1AA", "EC1A 1BB"]
Sent = tuple[str, URL, dict[str, Any]]


def client(text: str, environ: dict[str, str] | None = None) -> DescribedApi:
    """A client of the description HEAD + ``text``, single calls tried once."""
    described = parse(tomllib.loads(HEAD + text), file="demo.toml")
    return DescribedApi(described, environ=ENV if environ is None else environ, max_attempts=1)


def sent(mocked: aioresponses) -> list[Sent]:
    """Every request made: its method, URL and aiohttp arguments."""
    return [(m, url, call.kwargs) for (m, url), calls in mocked.requests.items() for call in calls]


def answer(mocked: aioresponses, payload: Any = None, *, status: int = 200, **options: Any) -> None:
    """The next answer to a GET or a POST: ``payload`` as JSON, with ``status``."""
    for method in ("GET", "POST"):
        mocked.add(ANY, method, status, payload=payload, response_class=MockedResponse, **options)


async def exchange(
    text: str, values: list[str], payload: Any = None, *, env: Any = None, **options: Any
) -> tuple[Reply, list[Sent]]:
    """One fetch of ``values`` by the client of ``text`` (keys from ``env``), answered with
    ``payload`` (and ``status``, ``headers``, ``body``): the reply, and the requests made."""
    async with client(text, env) as api:
        with aioresponses() as mocked:
            answer(mocked, payload, **options)
            reply = await api.fetch([api.lookup(value) for value in values])
            return reply, sent(mocked)


# -- batches ------------------------------------------------------------------------------


async def test_a_batch_of_three_is_tied_back_by_key() -> None:
    """By key, in any order, spelt as the API likes; null: no answer; absent: unmentioned."""
    items = [
        {"query": "ec1a1bb", "result": {"country": "England"}},  # normalised as values are
        {"query": "W6 0WW", "result": None},
    ]
    reply, _ = await exchange(BULK, PLACES, {"status": 200, "result": items})
    w6, sw1a, ec1a = reply.results
    assert (w6.kind, w6.error) == (ResultKind.NOT_FOUND, "the API has no answer for this postcode")
    assert sw1a.kind is ResultKind.NOT_FOUND
    assert sw1a.error == "the answer does not mention this postcode"
    assert ec1a.kind is ResultKind.OK
    assert json.loads(ec1a.body or "") == {"country": "England"}
    assert ec1a.columns == ("country",)
    assert [result.status for result in reply.results] == [200, 200, 200]


async def test_a_batch_is_posted_as_a_json_list_with_the_key_in_a_header() -> None:
    """POST /postcodes, {"postcodes": [the normal values]}, X-Api-Key: the key."""
    _, ((method, url, kwargs),) = await exchange(BULK, ["w60ww", "sw1a 1aa"], {"result": []})
    assert (method, url.path, url.query_string) == ("POST", "/postcodes", "")
    assert kwargs["json"] == {"postcodes": ["W6 0WW", "SW1A 1AA"]}
    assert kwargs["headers"]["X-Api-Key"] == KEY


async def test_a_batch_by_position_is_read_in_order() -> None:
    """by = "position": the nth item is the nth value's; null is no answer."""
    reply, _ = await exchange(LIST, ["a", "b", "c"], [{"id": "a"}, None, {"id": "c"}])
    assert [result.kind.value for result in reply.results] == ["ok", "not_found", "ok"]
    assert [json.loads(r.body) for r in reply.results if r.body] == [{"id": "a"}, {"id": "c"}]


async def test_a_query_value_is_joined_by_the_batch_s_join_with_the_key_in_the_query() -> None:
    """GET /v1/lookup?ids=a|b c|d and api_key=KEY."""
    _, ((method, url, _),) = await exchange(LIST, ["a", "b c", "d"], [1, 2, 3])
    assert (method, url.path) == ("GET", "/v1/lookup")
    assert url.query["ids"] == "a|b c|d"
    assert url.query["api_key"] == KEY


@pytest.mark.parametrize(
    ("text", "payload", "said"),
    [(LIST, [1, 2], "2 items for 3 values"), (BULK, {"result": {}}, "no list of items at result")],
    ids=["two items for three", "no list"],
)
async def test_a_batch_answer_that_cannot_be_tied_back_is_a_bad_response(
    text: str, payload: Any, said: str
) -> None:
    """Two items for three values by position, or no list at batch.items: BadResponseError."""
    with pytest.raises(BadResponseError, match=said):
        await exchange(text, PLACES, payload)


@pytest.mark.parametrize(
    ("billed", "expected"), [("request", [True, False, False]), ("item", [None] * 3)]
)
async def test_billed_request_bills_one_result_of_the_batch(
    billed: str, expected: list[bool | None]
) -> None:
    """billed = "request": one result says billed, the others not; "item": as their kind says."""
    reply, _ = await exchange(f'billed = "{billed}"\n{LIST}', ["a", "b", "c"], [1, None, 3])
    assert [result.billed for result in reply.results] == expected


# -- one value a request --------------------------------------------------------------------


async def test_a_path_value_is_percent_encoded_with_a_bearer_token() -> None:
    """/v1/{value}: space, slash, ? # and % encoded, never a new path segment or query."""
    text = AUTH.format(where="bearer", name="Authorization") + ONE
    _, ((_, url, kwargs),) = await exchange(text, ["a b/c?d#e%"], {"ok": 1})
    assert url.raw_path == "/v1/a%20b%2Fc%3Fd%23e%25"
    assert url.query_string == ""
    assert kwargs["headers"]["Authorization"] == f"Bearer {KEY}"


async def test_a_single_answer_is_kept_whole_and_get_returns_its_json() -> None:
    """No batch, no answer.data: the body as the API sent it; get() gives its JSON."""
    async with client(ONE) as api:
        with aioresponses() as mocked:
            answer(mocked, {"a": {"b": 1}})
            answer(mocked, {"a": {"b": 1}})
            reply = await api.fetch([api.lookup("x")])
            got = await api.get("x")
    (result,) = reply.results
    assert json.loads(result.body or "") == {"a": {"b": 1}}
    assert result.columns == ("a.b",)
    assert got == {"a": {"b": 1}}


async def test_an_empty_list_at_answer_data_is_not_found() -> None:
    """answer.data = "results" and no candidates: NOT_FOUND, at a 200."""
    reply, _ = await exchange(ONE + '[answer]\ndata = "results"\n', ["nowhere"], {"results": []})
    assert reply.results[0].kind is ResultKind.NOT_FOUND


async def test_an_invalid_value_is_refused_before_any_call() -> None:
    """A value its pattern refuses: InvalidInputError from lookup and get, nothing sent."""
    async with client(BULK) as api:
        with aioresponses() as mocked:
            with pytest.raises(InvalidInputError, match="not a valid postcode: 'nowhere'"):
                api.lookup("nowhere")
            with pytest.raises(InvalidInputError):
                await api.get("nowhere")
            assert not mocked.requests


# -- statuses -------------------------------------------------------------------------------


MESSAGE = ONE + '[answer]\nerror = "status.message"\n'
CODES = ONE + '[answer]\ncode = "error.code"\n[statuses]\nquota_codes = ["QUOTA_EXCEEDED"]\n'
NO = {"error": "no"}
RAISED = {
    "403 quota": (BULK, 403, NO, QuotaExhaustedError, "no"),  # its [statuses]: 403 = "quota"
    "403": (ONE, 403, NO, AuthenticationError, "no"),  # the policy's 403
    "401": (ONE, 401, NO, AuthenticationError, "no"),
    "402": (ONE, 402, NO, QuotaExhaustedError, "no"),
    "429": (ONE, 429, NO, RateLimitedError, "no"),
    "500": (ONE, 500, NO, ServerError, "no"),
    "409": (ONE, 409, NO, ServerError, "no"),
    "404 auth": (ONE + '[statuses]\n404 = "auth"\n', 404, NO, AuthenticationError, "no"),
    "503 quota": (ONE + '[statuses]\n503 = "quota"\n', 503, NO, QuotaExhaustedError, "no"),
    "answer.error": (MESSAGE, 402, {"status": {"message": "spent"}}, QuotaExhaustedError, "spent"),
    "no message": (MESSAGE, 402, NO, QuotaExhaustedError, "unexpected answer"),
    "quota code": (CODES, 403, {"error": {"code": "QUOTA_EXCEEDED"}}, QuotaExhaustedError, None),
    "other code": (CODES, 403, {"error": {"code": "BAD_KEY"}}, AuthenticationError, None),
}


@pytest.mark.parametrize(
    ("text", "status", "payload", "error", "message"), RAISED.values(), ids=RAISED
)
async def test_a_status_about_the_request_is_raised_as_the_policy_says(
    text: str, status: int, payload: Any, error: type[ApiError], message: str | None
) -> None:
    """Stop, wait or retry, as the policy, [statuses] and quota_codes say; answer.error told."""
    with pytest.raises(error) as caught:
        await exchange(text, ["W6 0WW"], payload, status=status)
    assert (type(caught.value), caught.value.status) == (error, status)
    if message is not None:
        assert caught.value.message == message


FINAL = {
    "404": (ONE, 404, ResultKind.NOT_FOUND),
    "410": (ONE, 410, ResultKind.NOT_FOUND),
    "400": (ONE, 400, ResultKind.INVALID),
    "422": (ONE, 422, ResultKind.INVALID),
    "409 invalid": (ONE + '[statuses]\n409 = "invalid"\n', 409, ResultKind.INVALID),
    "403 not_found": (ONE + '[statuses]\n403 = "not_found"\n', 403, ResultKind.NOT_FOUND),
}


@pytest.mark.parametrize(("text", "status", "kind"), FINAL.values(), ids=FINAL)
async def test_a_status_about_the_value_is_its_result(
    text: str, status: int, kind: ResultKind
) -> None:
    """None such, or refused: the lookup's final result, with the API's message."""
    reply, _ = await exchange(
        text, ["W6 0WW"], {"error": "Can't find such location."}, status=status
    )
    (result,) = reply.results
    assert (result.kind, result.status) == (kind, status)
    assert result.error == "Can't find such location."


@pytest.mark.parametrize(("status", "error"), [(404, NotFoundError), (400, RejectedError)])
async def test_get_raises_for_a_value_the_api_does_not_answer(
    status: int, error: type[ApiError]
) -> None:
    """get('W6 0WW') and a 404: NotFoundError; a 400: RejectedError; the API's message."""
    async with client(ONE) as api:
        with aioresponses() as mocked:
            answer(mocked, {"error": "Can't find such location."}, status=status)
            with pytest.raises(error, match="Can't find such location") as caught:
                await api.get("W6 0WW")
    assert caught.value.status == status


async def test_a_success_that_is_not_json_is_a_billed_bad_response() -> None:
    """A 200 whose body is HTML: BadResponseError, billed (the call was paid for)."""
    with pytest.raises(BadResponseError, match="not JSON") as caught:
        await exchange(ONE, ["x"], body="<html>busy</html>")
    assert caught.value.billed


# -- rate headers ---------------------------------------------------------------------------


async def test_rate_headers_as_epoch_are_read_into_the_reply() -> None:
    """X-RateLimit-Remaining and an epoch X-RateLimit-Reset: calls left, seconds to reset."""
    reset = time.time() + 3600
    headers = {"X-RateLimit-Remaining": "42", "X-RateLimit-Reset": f"{reset:.0f}"}
    reply, _ = await exchange(ONE, ["x"], {"a": 1}, headers=headers)
    assert reply.remaining == 42
    assert reply.reset_in is not None
    assert 3500 < reply.reset_in <= 3601


OWN = ONE + '[rate_headers]\nremaining = "RL-Left"\nreset = "RL-Reset"\nreset_is = "seconds"\n'
RATES = {
    "own, seconds": (OWN, {"RL-Left": "0", "RL-Reset": "30", "X-RateLimit-Remaining": "9"}, 0, 30),
    "none": (ONE, {}, None, None),
    "unreadable": (ONE, {"X-RateLimit-Remaining": "many", "X-RateLimit-Reset": "soon"}, None, None),
    "past": (ONE, {"X-RateLimit-Remaining": "5", "X-RateLimit-Reset": "1000"}, 5, 0),
}


@pytest.mark.parametrize(("text", "headers", "remaining", "reset_in"), RATES.values(), ids=RATES)
async def test_rate_headers_of_other_names_absent_unreadable_or_past(
    text: str, headers: dict[str, str], remaining: int | None, reset_in: float | None
) -> None:
    """[rate_headers]'s names in seconds; none or unreadable: None; a reset past: 0."""
    reply, _ = await exchange(text, ["x"], {"a": 1}, headers=headers)
    assert (reply.remaining, reply.reset_in) == (remaining, reset_in)


@pytest.mark.parametrize(
    ("rate_headers", "headers"),
    [
        ('reset_is = "seconds"', {"X-RateLimit-Reset": "30"}),
        ('reset = "RL-Reset"\nreset_is = "seconds"', {"RL-Reset": "30"}),
    ],
    ids=["seconds", "own name"],
)
async def test_a_429_waits_as_the_description_s_rate_headers_say(
    rate_headers: str, headers: dict[str, str]
) -> None:
    """A 429 with a reset in 30 seconds, as the description reads it: retry after ~30."""
    text = f"{ONE}[rate_headers]\n{rate_headers}\n"
    with pytest.raises(RateLimitedError) as caught:
        await exchange(text, ["x"], NO, status=429, headers=headers)
    assert caught.value.retry_after is not None
    assert 29 <= caught.value.retry_after <= 30


# -- keys -----------------------------------------------------------------------------------


@pytest.mark.parametrize("environ", [{}, {"DEMO_KEY": ""}], ids=["unset", "empty"])
def test_a_required_key_missing_from_environ_is_a_usage_error(environ: dict[str, str]) -> None:
    """No key: a UsageError naming the variable to set, before any call."""
    with pytest.raises(UsageError, match="set DEMO_KEY"):
        client(BULK, environ)


async def test_an_optional_key_not_set_is_not_sent() -> None:
    """auth.optional = true and no variable: the request goes without the parameter."""
    text = AUTH.format(where="query", name="api_key") + "optional = true\n" + ONE
    _, ((_, url, _),) = await exchange(text, ["x"], {"a": 1}, env={})
    assert "api_key" not in url.query


async def test_the_key_is_never_shown() -> None:
    """repr, spec and an error that echoes the key: the key is in none of them."""
    echo = {"error": f"bad key {KEY} in GET /v1/lookup?api_key={KEY}"}
    with pytest.raises(AuthenticationError) as caught:
        await exchange(LIST, ["a"], echo, status=401)
    async with client(LIST) as api:
        assert KEY not in repr(api)
        assert "keys=<hidden>" in repr(api)
        assert KEY not in json.dumps(api.spec())
        assert KEY not in api.rate_key
    assert KEY not in str(caught.value)
    assert "[redacted]" in str(caught.value)


async def test_a_password_in_base_url_is_not_in_the_spec() -> None:
    """base_url = "https://user:PASSWORD@host": the password is no part of spec()."""
    text = HEAD.replace("https://", "https://u:hunter2-password@") + ONE
    async with DescribedApi(parse(tomllib.loads(text), file="demo.toml"), environ={}) as api:
        assert "hunter2-password" not in json.dumps(api.spec())


async def test_load_api_reads_keys_from_environ_and_takes_another_base_url() -> None:
    """load_api(FILE, environ=..., base_url=...): the example's client, pointed elsewhere."""
    example = Path(__file__).parents[2] / "examples" / "apis" / "geocoder.toml"
    elsewhere = "http://127.0.0.1:9"
    async with load_api(example, environ={"GEOCODER_KEY": KEY}, base_url=elsewhere) as api:
        assert (api.name, api.origin, api.batch_size) == ("geocoder", elsewhere, 1)
        assert [str(limit) for limit in api.limits] == ["10/second", "2500/day"]
    with pytest.raises(UsageError, match="set GEOCODER_KEY"):
        load_api(example, environ={})


@pytest.mark.parametrize(
    ("status", "error"), [(404, BadResponseError), (400, RejectedError)], ids=["404", "400"]
)
async def test_a_batch_refused_as_a_whole_is_the_engines_to_decide(
    status: int, error: type[ApiError]
) -> None:
    """A 400 to a batch of three raises for the engine to halve it; a 404 says the request
    is wrong (tried again, then failed, billed nothing), not that no value exists."""
    with pytest.raises(error) as caught:
        await exchange(LIST, ["a", "b", "c"], NO, status=status)
    assert not caught.value.billed


@pytest.mark.parametrize(
    "headers",
    [
        {"X-RateLimit-Remaining": "nan", "X-RateLimit-Reset": "inf"},
        {"X-RateLimit-Remaining": "inf", "X-RateLimit-Reset": "-inf"},
    ],
    ids=["nan", "inf"],
)
async def test_rate_headers_that_are_no_numbers_are_not_read(headers: dict[str, str]) -> None:
    """nan and inf in the rate headers: no news, and the answer is read as ever."""
    reply, _ = await exchange(ONE, ["x"], {"a": 1}, headers=headers)
    assert (reply.remaining, reply.reset_in) == (None, None)
    assert reply.results[0].kind is ResultKind.OK


async def test_a_reset_years_away_is_waited_for_a_month_at_most() -> None:
    """A provider's reset in 1e12 seconds is read as a month, the longest window."""
    headers = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "1e12"}
    reply, _ = await exchange(
        ONE + '[rate_headers]\nreset_is = "seconds"\n', ["x"], {"a": 1}, headers=headers
    )
    assert reply.reset_in == 31 * 86400


async def test_a_500_with_the_days_reset_is_no_day_long_backoff() -> None:
    """A 500 with X-RateLimit-Reset at midnight: retried after the engine's backoff, not
    the reset's (Retry-After alone sets a 500's wait)."""
    headers = {"X-RateLimit-Remaining": "10", "X-RateLimit-Reset": "36000"}
    text = ONE + '[rate_headers]\nreset_is = "seconds"\n'
    with pytest.raises(ServerError) as caught:
        await exchange(text, ["x"], NO, status=500, headers=headers)
    assert caught.value.retry_after is None


async def test_single_calls_keep_to_the_descriptions_pace() -> None:
    """A description's 10/second is its client's pace, single calls' too."""
    example = Path(__file__).parents[2] / "examples" / "apis" / "geocoder.toml"
    async with load_api(example, environ={"GEOCODER_KEY": KEY}) as api:
        assert api.pacer.rate == 10


def test_a_worker_rebuilds_only_the_descriptions_it_was_given() -> None:
    """A run's description a worker was not given is refused before any key is read; one
    it was given (at another base URL) is rebuilt; an export (no keys) needs none."""
    given = parse(tomllib.loads(HEAD + ONE), file="given.toml")
    spec = DescribedApi(given, environ={}, base_url="http://127.0.0.1:9").spec()
    rebuild = trusting([given])
    assert isinstance(rebuild("demo", spec, {}), DescribedApi)
    other = {**spec, "description": {**spec["description"], "name": "other"}}
    with pytest.raises(UsageError, match="start it with --api FILE"):
        trusting([])("demo", spec, {"DEMO_KEY": KEY})
    with pytest.raises(UsageError, match="not given"):
        rebuild("other", other, {})
    assert isinstance(trusting([])("demo", spec, None), DescribedApi)
