"""Every error bulkfetch raises, rooted at :class:`BulkfetchError`.

::

    BulkfetchError
    ├── UsageError                 bad options or input file (exit 2)
    │   └── MissingColumnError     the column is not in the header
    ├── StoreError                 the job store cannot be opened or written
    │   └── StoreBusyError         another process is working on this store
    ├── InvalidInputError          a lookup that cannot be valid; raised before any call
    ├── CapReachedError            a run spent the billable units its cap allows
    └── ApiError                   an answer from an API, or the failure to get one
        ├── RetryableError         try again later, with backoff
        │   ├── RateLimitedError   429
        │   ├── ServerError        5xx
        │   ├── TransportError     no whole answer: a timeout, a dropped connection
        │   │   └── ConnectError   the connection never opened (refused, unknown host, TLS)
        │   └── BadResponseError   a body that cannot be read
        ├── NotFoundError          404: a final, valid outcome for the lookup
        ├── RejectedError          400: the API refused the lookup as invalid
        └── StopRunError           nothing more may be sent with this key
            ├── QuotaExhaustedError    402, or 403 meaning quota exceeded
            ├── AuthenticationError    401, or 403 for any other reason
            ├── RedirectError          sent elsewhere: another origin, or round in circles
            ├── UnreachableError       no connection opened for longer than the retries last
            └── WindowSpentError       a window's allowance (2500/day) spent, at_limit="stop"

Each error says what it means for the job and the run through :attr:`disposition`, and
carries its context (status, endpoint, lookup). No message ever holds an API key: endpoints
are paths without their query string, and a server's text reaches a message with the
client's secrets taken out (:mod:`bulkfetch.untrusted`); an :class:`ApiError`'s message is
one line, its control characters escaped, whatever the server sent.
"""

from __future__ import annotations

import enum

from bulkfetch.untrusted import message as one_line

__all__ = [
    "ApiError",
    "AuthenticationError",
    "BadResponseError",
    "BulkfetchError",
    "CapReachedError",
    "ConnectError",
    "Disposition",
    "InvalidInputError",
    "MissingColumnError",
    "NotFoundError",
    "QuotaExhaustedError",
    "RateLimitedError",
    "RedirectError",
    "RejectedError",
    "RetryableError",
    "ServerError",
    "StopRunError",
    "StoreBusyError",
    "StoreError",
    "TransportError",
    "UnreachableError",
    "UsageError",
    "WindowSpentError",
]


class Disposition(enum.Enum):
    """What an error means for the job that met it and for the run."""

    RETRY = "retry"  # the job may succeed later
    PERMANENT = "permanent"  # the job has a final outcome; retrying would change nothing
    STOP = "stop"  # the run must stop sending
    USAGE = "usage"  # the user must change something before running again


class BulkfetchError(Exception):
    """The root of every error bulkfetch raises."""

    disposition = Disposition.USAGE


class UsageError(BulkfetchError):
    """An option, argument or input file that cannot be used as given."""


class MissingColumnError(UsageError):
    """The input has no column of the requested name."""

    def __init__(self, column: str, available: list[str]) -> None:
        self.column = column
        self.available = available
        listed = ", ".join(repr(name) for name in available) or "(none: the file has no header)"
        close = [name for name in available if _loose(name) == _loose(column)]
        hint = f" (did you mean {close[0]!r}?)" if len(close) == 1 else ""
        super().__init__(f"no column {column!r} in the input{hint}; its columns are: {listed}")


def _loose(name: str) -> str:
    """A column name as a person may mistype it: case, spaces, dashes and underscores aside."""
    return "".join(c for c in name.casefold() if c.isalnum())


class StoreError(BulkfetchError):
    """The job store could not be opened, read or written."""


class StoreBusyError(StoreError):
    """Another live process holds the store."""


class InvalidInputError(BulkfetchError):
    """A lookup that cannot be valid (a malformed postcode, say); no call is made for it."""

    disposition = Disposition.PERMANENT

    def __init__(self, message: str, *, value: str | None = None) -> None:
        self.value = value
        super().__init__(message)


class ApiError(BulkfetchError):
    """An answer from an API that is not a success, or the failure to get any answer."""

    disposition = Disposition.RETRY

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        endpoint: str | None = None,
        lookup: str | None = None,
    ) -> None:
        message = one_line(message)
        self.message = message
        self.status = status
        self.endpoint = endpoint
        self.lookup = lookup
        super().__init__(message)

    @property
    def billed(self) -> bool:
        """Whether the provider billed the request though its answer cannot be used (a
        success whose body cannot be read)."""
        return False

    @property
    def maybe_billed(self) -> bool:
        """Whether the provider may have billed the request though no answer came back (it
        was sent, and its answer lost)."""
        return False

    def __str__(self) -> str:
        context = [f"HTTP {self.status}" if self.status is not None else None, self.endpoint]
        where = " ".join(part for part in context if part)
        return f"{self.message} ({where})" if where else self.message


class RetryableError(ApiError):
    """A failure that may pass: the job is tried again after a backoff."""

    def __init__(
        self, message: str, *, retry_after: float | None = None, **context: object
    ) -> None:
        super().__init__(message, **context)  # type: ignore[arg-type]
        self.retry_after = retry_after


class RateLimitedError(RetryableError):
    """429: too many calls in the provider's window."""


class ServerError(RetryableError):
    """5xx from the provider."""


class TransportError(RetryableError):
    """No whole answer: a timeout, a dropped connection, a body cut off. The request was
    sent, so the provider may have billed it."""

    @property
    def maybe_billed(self) -> bool:
        return True


class ConnectError(TransportError):
    """The connection never opened: refused, an unknown host, a TLS failure, a connect
    timeout. Nothing reached the provider, so nothing was billed; ``host`` names where it
    tried (``host:port``, never a URL: a URL may carry a key)."""

    def __init__(self, message: str, *, host: str, **context: object) -> None:
        super().__init__(message, **context)  # type: ignore[arg-type]
        self.host = host

    @property
    def maybe_billed(self) -> bool:
        return False


class BadResponseError(RetryableError):
    """An answer whose body cannot be read (not JSON, nested too deep, the wrong shape, too
    large, or an adapter that failed to read it). A success that cannot be read was paid
    for: it counts as billed, and its retry may bill it again."""

    @property
    def billed(self) -> bool:
        return self.status is None or 200 <= self.status < 300  # a success, unreadable


class NotFoundError(ApiError):
    """404: the API knows no such lookup. A final outcome, not a failure."""

    disposition = Disposition.PERMANENT


class RejectedError(ApiError):
    """400: the API refused the lookup's input as invalid."""

    disposition = Disposition.PERMANENT


class StopRunError(ApiError):
    """Nothing more may be sent with this key until the user acts."""

    disposition = Disposition.STOP


class QuotaExhaustedError(StopRunError):
    """402 (or 403 quota exceeded): the package of calls is used up."""


class AuthenticationError(StopRunError):
    """401, or 403 for a reason other than quota: the key is not accepted."""


class CapReachedError(BulkfetchError):
    """The run has spent the billable units its cap allows (``max_calls``): it stops before
    the call that would pass it. A higher cap carries on."""


class RedirectError(StopRunError):
    """The API answered with a redirect bulkfetch does not follow: to another origin (the
    key would go with it, and the other host's answers are not the API's), or round in
    circles. The message names where it pointed (scheme, host, port), never the URL."""


class UnreachableError(StopRunError):
    """The API could not be reached for longer than the retries last: the run stops with
    every lookup still to do, at no cost. Raised by a bulk run, not by one call (which
    raises :class:`ConnectError`)."""


class WindowSpentError(StopRunError):
    """The key's allowance over a window longer than a second (``2500/day``) is spent, and
    the run was told to stop rather than wait (``at_limit="stop"``): nothing more is sent
    until the next window opens, at ``opens_at`` (seconds since the epoch), which the
    message gives as a UTC time. Running again then carries on."""

    def __init__(self, message: str, *, opens_at: float | None = None) -> None:
        super().__init__(message)
        self.opens_at = opens_at
