"""The status policy: what each status means by default, and an API's differences."""

from __future__ import annotations

import pytest

from bulkfetch.errors import (
    ApiError,
    AuthenticationError,
    NotFoundError,
    QuotaExhaustedError,
    RateLimitedError,
    RejectedError,
    ServerError,
)
from bulkfetch.http import Answer
from bulkfetch.policy import Meaning, StatusPolicy


def answer(status: int, **headers: str) -> Answer:
    return Answer("/v1/x", status, headers, "")


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, RejectedError),
        (401, AuthenticationError),
        (402, QuotaExhaustedError),
        (403, AuthenticationError),
        (404, NotFoundError),
        (409, ServerError),
        (410, NotFoundError),
        (418, ServerError),
        (422, RejectedError),
        (429, RateLimitedError),
        (500, ServerError),
        (503, ServerError),
    ],
)
def test_each_status_is_the_error_the_table_says(status: int, kind: type[ApiError]) -> None:
    """The defaults, for an API that declares no difference."""
    error = StatusPolicy().error(answer(status), "said", lookup="W6 0WW")
    assert type(error) is kind
    assert (error.status, error.endpoint, error.lookup, error.message) == (
        status,
        "/v1/x",
        "W6 0WW",
        "said",
    )


def test_successes_are_every_2xx() -> None:
    """200, 201, 204: successes; 199 and 300 are not."""
    policy = StatusPolicy()
    assert [policy.succeeded(answer(s)) for s in (200, 201, 204, 199, 300)] == [
        True,
        True,
        True,
        False,
        False,
    ]


def test_a_retried_answer_keeps_the_providers_wait() -> None:
    """Retry-After on a 429 and on a 503 goes with the error."""
    for status in (429, 503):
        error = StatusPolicy().error(answer(status, **{"Retry-After": "7"}), "wait")
        assert getattr(error, "retry_after", None) == 7.0


def test_an_api_declares_only_where_it_differs() -> None:
    """A 409 that means not found for one API; a 403 whose code or words say quota."""
    policy = StatusPolicy(
        statuses={409: Meaning.NOT_FOUND}, quota_codes=frozenset({"QUOTA"}), quota_words=("quota",)
    )
    assert isinstance(policy.error(answer(409), "gone"), NotFoundError)
    assert isinstance(policy.error(answer(403), "no", code="QUOTA"), QuotaExhaustedError)
    assert isinstance(policy.error(answer(403), "Monthly Quota exceeded"), QuotaExhaustedError)
    assert isinstance(policy.error(answer(403), "forbidden"), AuthenticationError)
    assert isinstance(StatusPolicy().error(answer(403), "quota"), AuthenticationError)
