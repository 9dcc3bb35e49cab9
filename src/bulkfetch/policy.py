"""What an answer's HTTP status means, written once, as data: the policy every API reads its
answers with, each declaring only where it differs from the defaults.

=========  ===================================================================
status     meaning (the error an answer with it becomes)
=========  ===================================================================
2xx        a success: the adapter reads the body
400, 422   the lookup's input is refused as invalid (:class:`RejectedError`)
401, 403   the key is refused: the run stops (:class:`AuthenticationError`), unless
           the answer's code or message says the package is spent
402        the package of calls is spent: the run stops (:class:`QuotaExhaustedError`)
404, 410   the API knows no such thing: a final answer (:class:`NotFoundError`)
429        too many calls in the provider's window (:class:`RateLimitedError`)
other      may pass: tried again after a backoff (:class:`ServerError`); 409 and 5xx
=========  ===================================================================

A 429's and a retried answer's ``Retry-After`` (or ``X-RateLimit-Reset``) is kept with
its error, for the pacing and the backoff.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from bulkfetch.errors import (
    ApiError,
    AuthenticationError,
    NotFoundError,
    QuotaExhaustedError,
    RateLimitedError,
    RejectedError,
    ServerError,
)
from bulkfetch.headers import retry_after
from bulkfetch.http import Answer

__all__ = ["DEFAULTS", "Meaning", "StatusPolicy"]


class Meaning(enum.Enum):
    """What a status says about a request."""

    SUCCESS = "success"
    INVALID = "invalid"
    AUTH = "auth"
    QUOTA = "quota"
    NOT_FOUND = "not_found"
    RATE_LIMITED = "rate_limited"
    RETRY = "retry"


DEFAULTS: Mapping[int, Meaning] = MappingProxyType(
    {
        400: Meaning.INVALID,
        401: Meaning.AUTH,
        402: Meaning.QUOTA,
        403: Meaning.AUTH,
        404: Meaning.NOT_FOUND,
        410: Meaning.NOT_FOUND,
        422: Meaning.INVALID,
        429: Meaning.RATE_LIMITED,
    }
)

_ERRORS: Mapping[Meaning, type[ApiError]] = MappingProxyType(
    {
        Meaning.INVALID: RejectedError,
        Meaning.AUTH: AuthenticationError,
        Meaning.QUOTA: QuotaExhaustedError,
        Meaning.NOT_FOUND: NotFoundError,
    }
)


@dataclass(frozen=True, slots=True)
class StatusPolicy:
    """The defaults, with an API's differences: ``statuses`` (a status that means another
    thing for it), and the error codes (``quota_codes``) or words in the message
    (``quota_words``) with which a refused key really says the package is spent."""

    statuses: Mapping[int, Meaning] = field(default_factory=dict)
    quota_codes: frozenset[str] = frozenset()
    quota_words: tuple[str, ...] = ()

    def meaning(self, status: int, *, code: str = "", message: str = "") -> Meaning:
        """What ``status`` means, with the answer's error ``code`` and ``message``."""
        found = self.statuses.get(status) or DEFAULTS.get(status)
        if found is None:
            found = Meaning.SUCCESS if 200 <= status < 300 else Meaning.RETRY
        if found is Meaning.AUTH and self._says_quota(code, message):
            return Meaning.QUOTA
        return found

    def succeeded(self, answer: Answer) -> bool:
        return self.meaning(answer.status) is Meaning.SUCCESS

    def error(
        self,
        answer: Answer,
        message: str,
        *,
        code: str = "",
        lookup: str | None = None,
        wait: float | None = None,
    ) -> ApiError:
        """The error an answer that is not a success is, its ``message`` said with it;
        ``wait``: the seconds to wait before another call, where the API's own headers say
        (else ``Retry-After`` or ``X-RateLimit-Reset``)."""
        meaning = self.meaning(answer.status, code=code, message=message)
        status, endpoint = answer.status, answer.endpoint
        kind = _ERRORS.get(meaning)
        if kind is not None:
            return kind(message, status=status, endpoint=endpoint, lookup=lookup)
        limited = meaning is Meaning.RATE_LIMITED
        # A 429 waits for the window it filled (Retry-After, else its reset); another
        # failure only as long as Retry-After says: a day's reset is no backoff for a 500.
        waited = retry_after(answer.headers, reset=limited and wait is None)
        if limited and waited is None:
            waited = wait  # the API's own reset header, as its client read it
        retried = RateLimitedError if limited else ServerError
        return retried(message, retry_after=waited, status=status, endpoint=endpoint, lookup=lookup)

    def _says_quota(self, code: str, message: str) -> bool:
        lowered = message.lower()
        return code in self.quota_codes or any(word in lowered for word in self.quota_words)
