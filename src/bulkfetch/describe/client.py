"""A described API's client: ``await api.get(value)`` for your code, and what a bulk run
needs of it (a batch of lookups into one request, the answer back into one result a
lookup, a kept answer into output columns), all from its :class:`Description`."""

from __future__ import annotations

import contextlib
import json
import time
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp

from bulkfetch import speedups
from bulkfetch.adapter import LookupResult, Reply, ResultKind
from bulkfetch.describe.schema import Description
from bulkfetch.describe.values import MISSING, as_text, at, fill, fill_json
from bulkfetch.describe.writer import Writer
from bulkfetch.errors import (
    BadResponseError,
    InvalidInputError,
    NotFoundError,
    RejectedError,
    UsageError,
)
from bulkfetch.http import MAX_ANSWER_BYTES, Answer, HttpClient, key_fingerprint
from bulkfetch.jobs import Lookup
from bulkfetch.pacing.limits import Limit

__all__ = ["DescribedApi", "DescribedOperation"]

EXPORT_ONLY = "(export only: no calls are made)"


class DescribedApi(HttpClient):
    """An API a description says, with its secrets from ``environ`` (the environment by
    default; ``None``: a client that only writes kept answers out and makes no call).

    ``async with load_api("postcodes-io.toml") as api: answer = await api.get("W6 0WW")``
    """

    notices: tuple[str, ...] = ()

    def __init__(
        self,
        description: Description,
        *,
        environ: Mapping[str, str] | None,
        base_url: str | None = None,
        session: aiohttp.ClientSession | None = None,
        timeout: float = 30.0,
        rate: float | None = None,
        max_attempts: int = 5,
        max_answer_bytes: int = MAX_ANSWER_BYTES,
        need_keys: bool = True,
    ) -> None:
        self.description = description
        self._keys = _secrets(description, environ, need_keys=need_keys)
        super().__init__(
            base_url or description.base_url,
            session=session,
            timeout=timeout,
            rate=rate,
            max_attempts=max_attempts,
            secrets=self._keys.values(),
            max_answer_bytes=max_answer_bytes,
        )
        self.endpoint = _endpoint(description)
        self.writer = Writer(description.output)

    def __repr__(self) -> str:
        return f"DescribedApi({self.description.name!r}, base_url={self.origin!r}, keys=<hidden>)"

    @property
    def name(self) -> str:
        return self.description.name

    @property
    def batch_size(self) -> int:
        return self.description.batch_size

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
            "plugin": "described",
            "description": dict(self.description.source),
            "file": self.description.file,
            "base_url": self.origin,
            "timeout": self.timeout,
            "max_answer_bytes": self.max_answer_bytes,
        }

    # -- for people -------------------------------------------------------------------

    def lookup(self, value: str) -> Lookup:
        """The normalised lookup for a value; :class:`InvalidInputError` if it cannot be."""
        if not isinstance(value, str):
            raise InvalidInputError(f"not text: {value!r}")
        normal = self.description.value(value)
        return Lookup.of(self.name, self.origin, self.endpoint, {"value": normal})

    async def get(self, value: str) -> Any:
        """The API's answer for one value (its JSON); :class:`NotFoundError` when it has none."""
        lookup = self.lookup(value)
        body = await self._caller.call(lookup.fingerprint, lambda: self._one(lookup))
        return speedups.loads(body)

    def operation(self, method: str, query: Mapping[str, Any]) -> DescribedOperation:
        """The bulk form of :meth:`get` (``fetch_many(api.get, values)``)."""
        if method != "get" or query:
            raise TypeError(f"a described API runs get in bulk, with no options; got {method}")
        return DescribedOperation(self)

    async def _one(self, lookup: Lookup) -> str:
        reply = await self.fetch([lookup])
        (result,) = reply.results
        if result.kind is ResultKind.NOT_FOUND:
            raise NotFoundError(result.error or "not found", status=result.status)
        if result.kind is ResultKind.INVALID:
            raise RejectedError(result.error or "refused", status=result.status)
        return result.body or "null"

    # -- the adapter ------------------------------------------------------------------

    async def fetch(self, lookups: Sequence[Lookup]) -> Reply:
        described = self.description
        values = [lookup.param("value") for lookup in lookups]
        answer = await self._send(values)
        remaining, reset_in = self._rate_news(answer)
        if not described.policy.succeeded(answer):
            raise self._error(answer, values)
        try:
            body = speedups.loads(answer.text)
        except ValueError:
            raise BadResponseError("the answer is not JSON", status=answer.status) from None
        if described.batch is None:
            data = at(body, described.data)
            results = [
                self._result(answer.status, data, answer.text if not described.data else None)
            ]
        else:
            results = [
                self._result(answer.status, data) for data in self._items(body, values, answer)
            ]
        if described.billed == "request":
            billed = next(
                (i for i, r in enumerate(results) if r.kind is not ResultKind.INVALID), None
            )
            results = [_billed(r, i == billed) for i, r in enumerate(results)]
        return Reply(results, remaining=remaining, reset_in=reset_in)

    async def _send(self, values: list[str]) -> Answer:
        request = self.description.request
        batch = self.description.batch
        join = batch.join if batch is not None else ","
        path = fill(
            request.path,
            {
                "value": urllib.parse.quote(values[0], safe=""),
                "values": urllib.parse.quote(join.join(values), safe=join),
            },
        )
        fields = {"value": values[0], "values": join.join(values)}
        params = {name: fill(text, fields) for name, text in request.query.items()}
        headers = dict(request.headers)
        for auth in self.description.auth:
            secret = self._keys.get(auth.env)
            if secret is None:
                continue
            if auth.where == "query":
                params[auth.name] = secret
            elif auth.where == "header":
                headers[auth.name] = secret
            else:
                headers[auth.name] = f"Bearer {secret}"
        body = None if request.body is None else fill_json(request.body, values[0], values)
        return await self.send(request.method, path, params=params, headers=headers, json=body)

    def _items(self, body: Any, values: list[str], answer: Answer) -> list[Any]:
        """Each value's part of a batch's answer, in the order of ``values``."""
        batch = self.description.batch
        assert batch is not None
        items = at(body, batch.items)
        if not isinstance(items, list):
            where = ".".join(map(str, batch.items)) or "the top"
            raise BadResponseError(
                f"the answer has no list of items at {where}", status=answer.status
            )
        if batch.key is None:
            if len(items) != len(values):
                raise BadResponseError(
                    f"the answer has {len(items)} items for {len(values)} values",
                    status=answer.status,
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
                by_value.setdefault(self.description.value(text), item)
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
        if data is MISSING or data is None:
            return LookupResult(
                ResultKind.NOT_FOUND, status, error=f"the API has no answer for this {what}"
            )
        kept = (
            text
            if text is not None
            else json.dumps(data, ensure_ascii=False, separators=(",", ":"))
        )
        return LookupResult(ResultKind.OK, status, body=kept, columns=self.writer.names(data))

    def _error(self, answer: Answer, values: list[str]) -> Exception:
        described = self.description
        try:
            said = speedups.loads(answer.text)
        except ValueError:
            said = None
        message = at(said, described.error)
        code = at(said, described.code) if described.code is not None else MISSING
        text = message if isinstance(message, str) else f"unexpected answer (HTTP {answer.status})"
        return described.policy.error(
            answer,
            text,
            code=as_text(code) if code is not MISSING and code is not None else "",
            lookup=values[0] if len(values) == 1 else None,
        )

    def _rate_news(self, answer: Answer) -> tuple[int | None, float | None]:
        names = self.description.rate_headers
        remaining = _number(answer.headers.get(names.remaining))
        reset = _number(answer.headers.get(names.reset))
        if reset is not None and names.reset_is == "epoch":
            reset = reset - time.time()
        return (
            int(remaining) if remaining is not None else None,
            max(0.0, reset) if reset is not None else None,
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
        return speedups.loads(body)


class _Unmentioned:
    pass


_UNMENTIONED: Any = _Unmentioned()


def _secrets(
    description: Description, environ: Mapping[str, str] | None, *, need_keys: bool
) -> dict[str, str]:
    """Each secret the description sends, by its variable: placeholders to make no call
    with (``environ`` None), and a usage error for a required one that is not set."""
    found: dict[str, str] = {}
    for auth in description.auth:
        if environ is None:
            found[auth.env] = EXPORT_ONLY
            continue
        value = environ.get(auth.env) or None
        if value is None and need_keys and not auth.optional:
            raise UsageError(f"no key for {description.name}: set {auth.env}")
        if value is not None:
            found[auth.env] = value
    return found


def _endpoint(description: Description) -> str:
    """What a lookup of this API asks, in words: its method, path, query and body as written
    (never a secret: those are sent besides)."""
    request = description.request
    text = f"{request.method} {request.path}"
    if request.query:
        text += "?" + "&".join(f"{k}={v}" for k, v in sorted(request.query.items()))
    if request.body is not None:
        text += " " + json.dumps(request.body, sort_keys=True, separators=(",", ":"))
    return text


def _billed(result: LookupResult, billed: bool) -> LookupResult:
    return LookupResult(
        result.kind, result.status, result.body, result.columns, result.error, billed=billed
    )


def _number(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
