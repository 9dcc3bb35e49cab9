"""The Echo client: one word a request, ``GET {base}/echo/v1/{word}?key=KEY``."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bulkfetch.adapter import Lookup, LookupResult, Reply, ResultKind
from bulkfetch.errors import (
    AuthenticationError,
    InvalidInputError,
    QuotaExhaustedError,
    RateLimitedError,
    ServerError,
)
from bulkfetch.http import HttpClient, key_fingerprint, retry_after

NAME = "echo"


@dataclass(frozen=True, slots=True)
class Shout:
    word: str
    upper: str
    length: int


class Echo(HttpClient):
    """Says words back."""

    name = NAME
    batch_size = 1
    fixed_columns: tuple[str, ...] = ()
    expands_rows = False
    notices: tuple[str, ...] = ()

    def __init__(self, key: str, *, base_url: str, timeout: float = 30.0) -> None:
        super().__init__(base_url, session=None, timeout=timeout, secrets=(key,))
        self._key = key

    @property
    def rate_key(self) -> str:
        return key_fingerprint(self._key)

    def spec(self) -> dict[str, Any]:
        return {"api": NAME, "base_url": self.origin}

    def lookup(self, word: str) -> Lookup:
        word = word.strip().lower()
        if not word.isalpha():
            raise InvalidInputError(f"not a word: {word!r}")
        return Lookup.of(NAME, self.origin, "echo", {"word": word})

    async def shout(self, word: str) -> Shout:
        lookup = self.lookup(word)
        reply = await self.fetch([lookup])
        return _shout(reply.results[0].body or "{}")

    def operation(self, method: str, query: Mapping[str, Any]) -> ShoutOperation:
        if method != "shout" or query:
            raise TypeError("Echo runs shout in bulk, with no options")
        return ShoutOperation(self)

    async def fetch(self, lookups: Sequence[Lookup]) -> Reply:
        (lookup,) = lookups
        path = f"/echo/v1/{lookup.param('word')}"
        answer = await self.send("GET", path, params={"key": self._key})
        context: dict[str, Any] = {"status": answer.status, "endpoint": path}
        if answer.status == 200:
            body = json.loads(answer.text)["data"]
            text = json.dumps(body)
            return Reply([LookupResult(ResultKind.OK, 200, body=text, columns=tuple(body))])
        if answer.status == 404:
            return Reply([LookupResult(ResultKind.NOT_FOUND, 404, error="no such word")])
        if answer.status == 429:
            raise RateLimitedError("slow down", retry_after=retry_after(answer.headers), **context)
        if answer.status == 402:
            raise QuotaExhaustedError("no more words", **context)
        if answer.status in (401, 403):
            raise AuthenticationError("who are you?", **context)
        raise ServerError("echo failed", **context)

    def output_rows(self, body: str) -> list[dict[str, Any]]:
        return [json.loads(body)]

    def output_document(self, body: str) -> dict[str, Any]:
        return {"data": json.loads(body)}


@dataclass(frozen=True, slots=True)
class ShoutOperation:
    client: Echo

    @property
    def template(self) -> Mapping[str, str]:
        return {"endpoint": "echo", "origin": self.client.origin}

    def lookup(self, value: str) -> Lookup:
        return self.client.lookup(value)

    def result(self, body: str, lookup: Lookup) -> Shout:
        return _shout(body)


def _shout(body: str) -> Shout:
    data = json.loads(body)
    return Shout(data["word"], data["upper"], data["length"])
