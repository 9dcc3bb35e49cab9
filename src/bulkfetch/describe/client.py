"""A described API's client: ``await api.get(value)`` for your code, and what a bulk run
needs of it (a batch of lookups into one request, the answer back into one result a
lookup, a kept answer into output columns), all from its :class:`Description`."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
import yarl

from bulkfetch import speedups
from bulkfetch.adapter import LookupResult, Reply, ResultKind
from bulkfetch.describe.schema import Description, parse
from bulkfetch.describe.text import toml_of
from bulkfetch.describe.values import MISSING, as_text, at
from bulkfetch.describe.wire import endpoint_of, request_for, secrets_of
from bulkfetch.describe.writer import Writer
from bulkfetch.errors import (
    ApiError,
    BadResponseError,
    InvalidInputError,
    NotFoundError,
    RejectedError,
)
from bulkfetch.headers import rate_headers
from bulkfetch.http import MAX_ANSWER_BYTES, Answer, HttpClient, key_fingerprint
from bulkfetch.jobs import Lookup
from bulkfetch.pacing.limits import Limit, pace

__all__ = ["DescribedApi", "DescribedOperation"]

MADE_UP: Any = object()  # the emulator's answer: made up from the description


class DescribedApi(HttpClient):
    """An API a description says, with its secrets from ``environ`` (the environment by
    default; ``None``: a client that only writes kept answers out and makes no call).

    ``async with load_api("postcodes-io.toml") as api: answer = await api.get("W6 0WW")``

    A Python plugin subclasses it (see :mod:`bulkfetch.plugin`): its description in
    ``toml``, and what the description cannot say in the hooks it overrides:
    :meth:`normalise` a value, :meth:`read` an answer, :meth:`result` a typed result, and
    :meth:`emulate` the emulator's answers.
    """

    notices: tuple[str, ...] = ()
    toml: str = ""  # a subclass's own description, as TOML text
    plugin_name = "described"  # the plugin that rebuilds its runs' clients (describe.NAME)

    def __init__(
        self,
        description: Description | None = None,
        *,
        environ: Mapping[str, str] | None = os.environ,
        base_url: str | None = None,
        session: aiohttp.ClientSession | None = None,
        timeout: float = 30.0,
        rate: float | None = None,
        max_attempts: int = 5,
        max_answer_bytes: int = MAX_ANSWER_BYTES,
        need_keys: bool = True,
    ) -> None:
        if description is None:
            description = type(self).described()
        self.description = description
        self._keys = secrets_of(description, environ, need_keys=need_keys)
        super().__init__(
            base_url or description.base_url,
            session=session,
            timeout=timeout,
            rate=pace(rate, description.limits),
            max_attempts=max_attempts,
            secrets=self._keys.values(),
            max_answer_bytes=max_answer_bytes,
        )
        self.endpoint = endpoint_of(description)
        self.writer = Writer(description.output)

    @classmethod
    def described(cls) -> Description:
        """A subclass's description, from its ``toml`` (its mistakes told by its class)."""
        name = f"{cls.__qualname__}.toml"
        data, places = toml_of(cls.toml, name)
        return parse(data, file=name, places=places)

    # -- the hooks a Python plugin may override ---------------------------------------

    def normalise(self, value: str) -> str:
        """The value a lookup sends, from an input value; :class:`InvalidInputError` if it
        cannot be one (no call is made for it). By default as ``[value]`` says."""
        return self.description.value(value)

    def read(self, answer: Any, values: Sequence[str]) -> Sequence[Any]:
        """Each value's part of a successful answer's JSON, in the order of ``values``:
        None (or an empty list or object) where the API has none. By default as
        ``[answer]`` and ``[batch]`` say."""
        described = self.description
        if described.batch is None:
            return [at(answer, described.data)]
        return self._items(answer, list(values))

    def result(self, data: Any) -> Any:
        """A value's kept answer as :meth:`get` and ``fetch_many`` give it: as it is, by
        default; a plugin's own type if it says."""
        return data

    @classmethod
    def emulate(cls, value: str) -> Any:
        """The emulator's answer for a value (None: it has none), of the shape :meth:`read`
        reads; by default, made up from the description."""
        return MADE_UP

    def __repr__(self) -> str:
        return f"DescribedApi({self.description.name!r}, base_url={self.origin!r}, keys=<hidden>)"

    @property
    def name(self) -> str:
        return self.description.name

    @property
    def batch_size(self) -> int:
        return self.description.batch_size

    @property
    def bills_requests(self) -> bool:
        """Whether the API bills a request, however many values it carries."""
        return self.description.billed == "request"

    @property
    def limits(self) -> tuple[Limit, ...]:
        return self.description.limits

    @property
    def rate_key(self) -> str:
        return key_fingerprint(self.origin, *self._keys.values())

    @property
    def fixed_columns(self) -> tuple[str, ...]:
        return self.writer.fixed_columns

    @property
    def expands_rows(self) -> bool:
        return self.writer.expands_rows

    def spec(self) -> dict[str, Any]:
        return {
            "api": self.name,
            "plugin": self.plugin_name,
            # As written, but for a user and password in its base URL: never stored.
            "description": {
                **self.description.source,
                "base_url": _no_userinfo(self.description.base_url),
            },
            "file": self.description.file,
            "base_url": self.origin,
            "timeout": self.timeout,
            "max_answer_bytes": self.max_answer_bytes,
        }

    @staticmethod
    def options_of(spec: Mapping[str, Any]) -> dict[str, Any]:
        """The client's options a run's :meth:`spec` keeps, as its constructor takes them:
        what a worker or an export rebuilds it with."""
        return {
            "base_url": spec["base_url"],
            "timeout": float(spec.get("timeout") or 30),
            "max_answer_bytes": int(spec.get("max_answer_bytes") or MAX_ANSWER_BYTES),
        }

    # -- for people -------------------------------------------------------------------

    def lookup(self, value: str) -> Lookup:
        """The normalised lookup for a value; :class:`InvalidInputError` if it cannot be."""
        if not isinstance(value, str):
            raise InvalidInputError(f"not text: {value!r}")
        return Lookup.of(self.name, self.origin, self.endpoint, {"value": self.normalise(value)})

    async def get(self, value: str) -> Any:
        """The API's answer for one value (see :meth:`result`); :class:`NotFoundError` when
        it has none."""
        lookup = self.lookup(value)
        body = await self._caller.call(lookup.fingerprint, lambda: self._one(lookup))
        return self.result(speedups.loads(body))

    def operation(self, method: str, query: Mapping[str, Any]) -> DescribedOperation:
        """The bulk form of :meth:`get`, or of a plugin's method that calls it
        (``fetch_many(api.get, values)``)."""
        if query:
            raise TypeError(f"{self.name}.{method} takes no options in bulk: {sorted(query)}")
        return DescribedOperation(self)

    async def _one(self, lookup: Lookup) -> str:
        reply = await self.fetch([lookup])
        (result,) = reply.results
        value = lookup.param("value")
        if result.kind is ResultKind.NOT_FOUND:
            raise NotFoundError(result.error or "not found", status=result.status, lookup=value)
        if result.kind is ResultKind.INVALID:
            raise RejectedError(result.error or "refused", status=result.status, lookup=value)
        return result.body or "null"

    # -- the adapter ------------------------------------------------------------------

    async def fetch(self, lookups: Sequence[Lookup]) -> Reply:
        described = self.description
        values = [lookup.param("value") for lookup in lookups]
        answer = await self._send(values)
        remaining, reset_in = self.rate_news(answer)
        if not described.policy.succeeded(answer):
            error = self._error(answer, values)
            kind = _FINAL.get(type(error))
            if kind is ResultKind.NOT_FOUND and len(values) > 1:
                # No such thing as a whole batch: the request is wrong, not its values.
                raise BadResponseError(
                    f"the API knows no such request ({error.message}): check the"
                    " description's request.path",
                    status=answer.status,
                    endpoint=answer.endpoint,
                )
            if kind is None or len(values) > 1:
                # A batch refused as a whole: the engine halves it to find the bad values.
                raise error
            # The API's word on one value (none such; refused): its answer.
            final = LookupResult(kind, answer.status, error=error.message)
            return Reply([final], remaining=remaining, reset_in=reset_in)
        try:
            body = speedups.loads(answer.text)
        except ValueError:
            raise BadResponseError(
                "the answer is not JSON", status=answer.status, endpoint=answer.endpoint
            ) from None
        found = self.read(body, values)
        if len(found) != len(values):
            raise BadResponseError(
                f"the answer has {len(found)} parts for {len(values)} values",
                status=answer.status,
                endpoint=answer.endpoint,
            )
        # One value's whole answer is kept as it came (no second encoding of it).
        whole = answer.text if found[0] is body else None
        results = [self._result(answer.status, data, whole) for data in found]
        if described.billed == "request":
            billed = next(
                (i for i, r in enumerate(results) if r.kind is not ResultKind.INVALID), None
            )
            results = [_billed(r, i == billed) for i, r in enumerate(results)]
        return Reply(results, remaining=remaining, reset_in=reset_in)

    async def _send(self, values: list[str]) -> Answer:
        sent = request_for(self.description, values, self._keys)
        return await self.send(
            sent.method, sent.path, params=sent.params, headers=sent.headers, json=sent.body
        )

    def _items(self, body: Any, values: list[str]) -> list[Any]:
        """Each value's part of a batch's answer, in the order of ``values``."""
        batch = self.description.batch
        assert batch is not None
        items = at(body, batch.items)
        if not isinstance(items, list):
            where = ".".join(map(str, batch.items)) or "the top"
            raise BadResponseError(f"the answer has no list of items at {where}", status=200)
        if batch.key is None:
            if len(items) != len(values):
                raise BadResponseError(
                    f"the answer has {len(items)} items for {len(values)} values", status=200
                )
            return [at(item, self.description.data) for item in items]
        by_value: dict[str, Any] = {}
        for item in items:
            said = at(item, batch.key)
            if said is MISSING or said is None:
                continue
            text = as_text(said)
            by_value.setdefault(text, item)
            with contextlib.suppress(InvalidInputError):  # as the API spelt it
                by_value.setdefault(self.normalise(text), item)
        return [
            at(by_value[v], self.description.data) if v in by_value else _UNMENTIONED
            for v in values
        ]

    def _result(self, status: int, data: Any, text: str | None = None) -> LookupResult:
        what = self.description.value.name
        if data is _UNMENTIONED:
            return LookupResult(
                ResultKind.NOT_FOUND, status, error=f"the answer does not mention this {what}"
            )
        if data is MISSING or data is None or (isinstance(data, list | dict) and not data):
            return LookupResult(
                ResultKind.NOT_FOUND, status, error=f"the API has no answer for this {what}"
            )
        kept = (
            text
            if text is not None
            else json.dumps(data, ensure_ascii=False, separators=(",", ":"))
        )
        return LookupResult(ResultKind.OK, status, body=kept, columns=self.writer.names(data))

    def _error(self, answer: Answer, values: list[str]) -> ApiError:
        described = self.description
        try:
            said = speedups.loads(answer.text)
        except ValueError:
            said = None
        message = at(said, described.error)
        code = at(said, described.code) if described.code is not None else MISSING
        text = message if isinstance(message, str) else "unexpected answer"
        return described.policy.error(
            answer,
            text,
            code=as_text(code) if code is not MISSING and code is not None else "",
            lookup=values[0] if len(values) == 1 else None,
            wait=self._wait(answer),
        )

    def _wait(self, answer: Answer) -> float | None:
        """A 429's wait when it gives no Retry-After: the description's reset."""
        return self.rate_news(answer)[1]

    def rate_news(self, answer: Answer) -> tuple[int | None, float | None]:
        names = self.description.rate_headers
        return rate_headers(
            answer.headers,
            remaining=names.remaining,
            reset=names.reset,
            epoch=names.reset_is == "epoch",
        )

    # -- the writer ---------------------------------------------------------------------

    def output_rows(self, body: str) -> list[dict[str, Any]]:
        return self.writer.output_rows(body)

    def output_document(self, body: str) -> dict[str, Any]:
        return self.writer.output_document(body)


@dataclass(frozen=True, slots=True)
class DescribedOperation:
    """A described API's lookups in bulk: what ``fetch_many(api.get, ...)`` and ``bulkfetch
    fetch`` run; each kept answer read back as its JSON."""

    client: DescribedApi

    @property
    def template(self) -> Mapping[str, str]:
        return {"endpoint": self.client.endpoint, "origin": self.client.origin}

    def lookup(self, value: str) -> Lookup:
        return self.client.lookup(value)

    def result(self, body: str, lookup: Lookup) -> Any:
        return self.client.result(speedups.loads(body))


_FINAL = {NotFoundError: ResultKind.NOT_FOUND, RejectedError: ResultKind.INVALID}


class _Unmentioned:
    pass


_UNMENTIONED: Any = _Unmentioned()


def _no_userinfo(url: str) -> str:
    return str(yarl.URL(url).with_user(None))


def _billed(result: LookupResult, billed: bool) -> LookupResult:
    return LookupResult(
        result.kind, result.status, result.body, result.columns, result.error, billed=billed
    )
