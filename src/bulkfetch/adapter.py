"""The seam between the engine and an API: what an API package implements, and no more.

An **adapter** sends one request for a batch of lookups and reads the answer back into one
:class:`LookupResult` a lookup: the API answered it (``OK``, with the body to keep), knows no
such thing (``NOT_FOUND``), or refused it as invalid (``INVALID``). That is all an adapter
says about a lookup. A failure of the whole request is raised as an
:class:`~bulkfetch.errors.ApiError` subclass (``RateLimitedError`` for a 429,
``QuotaExhaustedError`` for a spent package, ``ConnectError`` when no connection opened...);
what it means (retry, wait, stop, release the lookups) is the engine's to decide. The engine
never sees a URL, a key or a body's shape.

The same object also says how a kept body becomes output (:class:`Answers`), and which kinds
of lookup it makes in bulk (:class:`Operation`, one for each of its bulk-capable methods).
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from bulkfetch.jobs import Lookup

__all__ = [
    "Adapter",
    "Answers",
    "Client",
    "Lookup",
    "LookupResult",
    "Observed",
    "Operation",
    "Reply",
    "ResultKind",
    "operation_of",
]

R_co = TypeVar("R_co", covariant=True)


class ResultKind(enum.Enum):
    """What an answer says about one lookup."""

    OK = "ok"  # answered: the body is kept
    NOT_FOUND = "not_found"  # the API knows no such thing: a final answer (a body if any)
    INVALID = "invalid"  # the API refused the lookup's input (a 400 about this lookup)


@dataclass(frozen=True, slots=True)
class LookupResult:
    """One lookup's part of an answer."""

    kind: ResultKind
    status: int
    body: str | None = None  # JSON text to keep: for OK, and for NOT_FOUND when it says more
    columns: tuple[str, ...] = ()  # the output columns this body fills
    error: str | None = None  # why, when not OK
    # Whether it spends a billed unit; None: as its kind says (answered, so billed, unless
    # INVALID). An API that bills a request, not an item, bills one result of a batch.
    billed: bool | None = None


@dataclass(frozen=True, slots=True)
class Reply:
    """A whole answer: results aligned with the lookups sent, and the provider's rate news."""

    results: Sequence[LookupResult]
    remaining: int | None = None  # calls left in the provider's window, if it says
    reset_in: float | None = None  # seconds until that window resets


class Adapter(Protocol):
    """What the engine needs from an API.

    An adapter may also have a ``probing`` property (optional: the engine reads it with a
    default of False): True while it does not yet know its batch size and learns it from
    answers. The engine then sends one request at a time, and claims the next batch only
    once the last answer was read, at the ``batch_size`` the adapter says then.
    """

    @property
    def name(self) -> str:
        """A short name, stored with every run (``crystalroof``): the plugin's name."""
        ...

    @property
    def batch_size(self) -> int:
        """How many lookups one request may carry (it may change as answers teach more)."""
        ...

    @property
    def rate_key(self) -> str:
        """Names the key's rate budget, shared by every worker that calls with the key: a
        fingerprint, never the key."""
        ...

    @property
    def notices(self) -> Sequence[str]:
        """Things the user should hear once, learnt while fetching."""
        ...

    async def fetch(self, lookups: Sequence[Lookup]) -> Reply:
        """Send one request for these lookups: at most ``batch_size`` of them, all alike but
        for the one value a batch varies; raise an ``ApiError`` if it fails as a whole."""
        ...

    def spec(self) -> dict[str, Any]:
        """How a worker rebuilds this adapter with its own keys (JSON; never a key)."""
        ...

    async def close(self) -> None: ...


class Answers(Protocol):
    """How the kept bodies of an adapter's answers are written out.

    A writer may also have, to be found by ``getattr``: ``output_column(path)``, the column
    a body's value at a path is (see :mod:`bulkfetch.io.shapes`); ``part_names(templates)``,
    the names runs' columns carry, one a run's template (alone or side by side: one rule
    for both; none: unprefixed alone, the endpoints' names side by side); and
    ``known_columns(template)``, the value columns a run's answers fill, known before any
    answer (none: those its answers showed)."""

    @property
    def fixed_columns(self) -> tuple[str, ...]:
        """Output columns every row has after the value columns (``data_date``)."""
        ...

    @property
    def expands_rows(self) -> bool:
        """Whether one answer may fill several CSV lines (they then get a ``row`` column)."""
        ...

    def output_rows(self, body: str) -> Sequence[Mapping[str, Any]]:
        """A kept body as flat CSV lines (value and fixed columns); usually one."""
        ...

    def output_document(self, body: str) -> Mapping[str, Any]:
        """A kept body as the nested object written to JSON Lines."""
        ...


class Client(Adapter, Answers, Protocol):
    """An API client as bulkfetch runs it: it makes the calls and writes their answers."""


class Operation(Protocol[R_co]):
    """One kind of lookup an API client makes in bulk: what ``fetch_many(api.occupation,
    ...)`` and a CLI command run. Built by the client from a method and its options."""

    @property
    def client(self) -> Client: ...

    @property
    def template(self) -> Mapping[str, str]:
        """What its lookups share (endpoint, options, origin): with the input it names a run."""
        ...

    def lookup(self, value: str) -> Lookup:
        """The normalised lookup for one input value; ``InvalidInputError`` if none can be."""
        ...

    def result(self, body: str, lookup: Lookup) -> R_co:
        """A kept body (of ``lookup``) as the method's own result type."""
        ...


class Observed:
    """An adapter whose fetches go through ``fetch(adapter, lookups)`` (to be counted or
    timed, say); everything else is the adapter's own."""

    def __init__(
        self, adapter: Adapter, fetch: Callable[[Adapter, Sequence[Lookup]], Awaitable[Reply]]
    ) -> None:
        self._adapter = adapter
        self._fetch = fetch

    async def fetch(self, lookups: Sequence[Lookup]) -> Reply:
        return await self._fetch(self._adapter, lookups)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._adapter, name)


def operation_of(call: Callable[..., Awaitable[Any]], query: dict[str, Any]) -> Operation[Any]:
    """The bulk form of a client's bound method (``api.occupation``) with its other
    arguments: what the client's ``operation(name, query)`` makes of them."""
    client = getattr(call, "__self__", None)
    make = getattr(client, "operation", None)
    if make is None:
        raise TypeError(
            f"give a client's method, such as api.occupation or api.by_soc; got {call!r}"
        )
    operation: Operation[Any] = make(call.__name__, query)
    return operation
