"""A described API, emulated (``bulkfetch emulate --api FILE [--answers FILE.jsonl]``): its
route as the description says it, behind the same gate as the built-in APIs (keys, the
per-second limit, the package quota's 402, faults, the ledger), its longer windows counted
and told in its rate headers, and answers from a file of them, or made up from the
description when none is given. Routes another API of the emulator serves answer first.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from aiohttp import web

from bulkfetch.describe.client import MADE_UP
from bulkfetch.describe.schema import Description
from bulkfetch.describe.text import DescriptionError
from bulkfetch.describe.values import at, fill
from bulkfetch.emulator.server import GATE, Gate, Refusal, deliver
from bulkfetch.errors import InvalidInputError

__all__ = ["ANSWERS", "DESCRIPTION", "mount", "mount_api", "read_answers"]

DESCRIPTION = "described_api"  # the emulator's options: the description it serves
ANSWERS = "described_answers"  # and its answers by value, if a file of them was given


def read_answers(path: Path, description: Description) -> dict[str, Any]:
    """``{"value": ..., "answer": ...}`` a line (an answer null: the API has none), by the
    value as the description normalises it."""
    found: dict[str, Any] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise DescriptionError(f"{path}: cannot be read ({exc.__class__.__name__})") from None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
            value = description.value(str(entry["value"]))
            found[value] = entry.get("answer")
        except (ValueError, KeyError, TypeError, InvalidInputError) as exc:
            raise DescriptionError(
                f'{path}, line {number}: not an answer ({{"value": ..., "answer": ...}}):'
                f" {exc.__class__.__name__}"
            ) from None
    return found


def mount(app: web.Application) -> None:
    """The route of the description ``bulkfetch emulate --api`` was given, if any."""
    options = app[GATE].config.options
    description = options.get(DESCRIPTION)
    if isinstance(description, Description):
        mount_api(app, description, answers=options.get(ANSWERS))


def mount_api(
    app: web.Application,
    description: Description,
    *,
    answers: Mapping[str, Any] | None = None,
    emulate: Callable[[str], Any] | None = None,
) -> None:
    """Serve a description's route: its answers from ``answers`` (by value), else from
    ``emulate`` (a plugin's), else made up. Unless another API of the emulator serves it
    (CrystalRoof's routes described): that one answers, as it would the built-in command."""
    if not _served_already(app, description):
        served = _Served(description, answers, emulate)
        app.router.add_route(description.request.method, description.request.path, served.handle)


def _served_already(app: web.Application, description: Description) -> bool:
    sample = fill(description.request.path, {"value": "X", "values": "X"})
    for resource in app.router.resources():
        info = resource.get_info()
        pattern = info.get("pattern")
        if info.get("path") == sample or (pattern is not None and pattern.fullmatch(sample)):
            methods = {route.method for route in resource}
            if description.request.method in methods or "*" in methods:
                return True
    return False


class _Served:
    def __init__(
        self,
        description: Description,
        answers: Mapping[str, Any] | None,
        emulate: Callable[[str], Any] | None,
    ) -> None:
        self.description = description
        self.answers = answers
        self.emulate = emulate
        self._windows: Counter[tuple[str, float]] = Counter()
        self._window = max(
            (limit for limit in description.limits if not limit.per_second),
            key=lambda limit: limit.seconds,
            default=None,
        )

    async def handle(self, request: web.Request) -> web.StreamResponse:
        gate = request.app[GATE]
        described = self.description
        values = await self._values(request)
        for value in values:
            gate.ledger.tried[f"{described.name}|{value}"] += 1
        key = self._key(request)
        headers: dict[str, str] = {}
        try:
            gate.admit(key)
            headers = self._spend_window(key or "")
        except Refusal as refusal:
            return await self._refuse(request, gate, refusal.status, refusal.headers)
        except _WindowSpent as spent:
            return await self._refuse(request, gate, 429, spent.headers)
        fault = gate.fault()
        if fault == "fail":
            return await self._refuse(request, gate, 500, headers, fault=None)
        if not values:
            return await self._refuse(request, gate, 400, headers)
        if described.billed == "request":
            gate.bill(key or "", f"{described.name}|{','.join(values)}")
        else:
            for value in values:
                gate.bill(key or "", f"{described.name}|{value}")
        found = [self._answer(gate, value) for value in values]
        if described.batch is None:
            if found[0] is None:
                return await self._refuse(request, gate, 404, headers, fault=fault)
            return await deliver(
                request, gate, 200, _placed(described.data, found[0]), fault, headers=headers
            )
        items = [self._item(value, answer) for value, answer in zip(values, found, strict=True)]
        body = _placed(described.batch.items, [item for item in items if item is not None])
        return await deliver(request, gate, 200, body, fault, headers=headers)

    async def _values(self, request: web.Request) -> list[str]:
        """The values a request carries, wherever the description sends them."""
        request_ = self.description.request
        join = self.description.batch.join if self.description.batch is not None else ","
        for name in ("value", "values"):
            if name in request.match_info:
                return _split(request.match_info[name], name, join)
        for param, template in request_.query.items():
            for name in ("values", "value"):
                if template == f"{{{name}}}" and param in request.query:
                    return _split(request.query[param], name, join)
        if request_.body is not None and request.can_read_body:
            try:
                sent = await request.json()
            except ValueError:
                return []
            place = _where(request_.body)
            if place is not None:
                found = at(sent, place)
                if isinstance(found, list):
                    return [str(v) for v in found]
                if isinstance(found, str):
                    return [found]
        return []

    def _key(self, request: web.Request) -> str | None:
        for auth in self.description.auth:
            if auth.optional:
                continue
            if auth.where == "query":
                return request.query.get(auth.name)
            said = request.headers.get(auth.name)
            if auth.where == "bearer":
                return said[7:] if said and said.startswith("Bearer ") else None
            return said
        return "anonymous"  # an API with no key: one caller

    def _spend_window(self, key: str) -> dict[str, str]:
        """Count the call in its window (the description's longest), and say so in the rate
        headers; :class:`_WindowSpent` when the window's allowance is spent."""
        limit = self._window
        if limit is None:
            return {}
        start, end = limit.window(time.time())
        used = self._windows[(key, start)]
        names = self.description.rate_headers
        reset = f"{end:.0f}" if names.reset_is == "epoch" else f"{end - time.time():.0f}"
        if used >= limit.count:
            headers = {
                names.remaining: "0",
                names.reset: reset,
                "Retry-After": f"{end - time.time():.0f}",
            }
            raise _WindowSpent(headers)
        self._windows[(key, start)] = used + 1
        return {
            "X-RateLimit-Limit": str(limit.count),
            names.remaining: str(limit.count - used - 1),
            names.reset: reset,
        }

    def _answer(self, gate: Gate, value: str) -> Any:
        """The value's answer, or None when the API has none."""
        if self.answers is not None:
            return self.answers.get(value)
        if self.emulate is not None:
            found = self.emulate(value)
            if found is not MADE_UP:
                return found
        else:
            try:
                self.description.value(value)
            except InvalidInputError:
                return None
        roll = int.from_bytes(hashlib.sha256(f"known|{value}".encode()).digest()[:4], "big") / 2**32
        if roll < gate.config.not_found_rate:
            return None
        return _made_up(self.description, value)

    def _item(self, value: str, answer: Any) -> Any:
        batch = self.description.batch
        assert batch is not None
        if batch.key is None:
            return _placed(self.description.data, answer)
        if answer is None and not self.description.data:
            return None  # not mentioned: the API has no answer for it
        item = _placed(self.description.data, answer)
        if not isinstance(item, dict):
            item = {}
        _put(item, batch.key, value)
        return item

    async def _refuse(
        self,
        request: web.Request,
        gate: Gate,
        status: int,
        headers: dict[str, str],
        *,
        fault: str | None = None,
    ) -> web.StreamResponse:
        messages = {
            400: "no such value",
            401: "unknown key",
            402: "the package of calls is used up",
            403: "the key may not do this",
            404: "not found",
            429: "too many requests",
            500: "server error",
        }
        body = _placed(self.description.error, messages.get(status, "refused"))
        return await deliver(
            request,
            gate,
            status,
            body if isinstance(body, dict) else {"error": body},
            fault,
            headers=headers,
        )


class _WindowSpent(Exception):
    def __init__(self, headers: dict[str, str]) -> None:
        super().__init__("window spent")
        self.headers = headers


def _split(text: str, name: str, join: str) -> list[str]:
    return [part for part in text.split(join) if part] if name == "values" else [text]


def _where(template: Any, path: tuple[str | int, ...] = ()) -> tuple[str | int, ...] | None:
    """Where in a body template the values go (the string ``{values}`` or ``{value}``)."""
    if template in ("{values}", "{value}"):
        return path
    if isinstance(template, Mapping):
        items: Sequence[tuple[str | int, Any]] = list(template.items())
    elif isinstance(template, list):
        items = list(enumerate(template))
    else:
        return None
    for key, item in items:
        found = _where(item, (*path, key))
        if found is not None:
            return found
    return None


def _put(target: dict[str, Any], path: Sequence[str | int], value: Any) -> None:
    """``value`` at ``path`` in ``target``, making the objects on the way; where paths
    overlap (``geometry`` and ``geometry.lat``), the object wins over a plain value."""
    for part in path[:-1]:
        inner = target.get(str(part))
        if not isinstance(inner, dict):
            inner = target[str(part)] = {}
        target = inner
    if not isinstance(target.get(str(path[-1])), dict) or isinstance(value, dict):
        target[str(path[-1])] = value


def _placed(path: Sequence[str | int], value: Any) -> Any:
    """``value`` at ``path`` in a new object (the value itself for the empty path)."""
    if not path:
        return value
    placed: dict[str, Any] = {}
    _put(placed, path, value)
    return placed


def _made_up(description: Description, value: str) -> Any:
    """An answer of the shape the description reads: made-up numbers where it takes
    columns, a few fields where it flattens an object, two elements where it makes rows."""
    rng = random.Random(hashlib.sha256(f"{description.name}|{value}".encode()).digest())
    output = description.output

    def element() -> dict[str, Any]:
        made: dict[str, Any] = {}
        if output.flatten is not None:
            fields = {f"field_{i}": rng.randint(0, 10_000) for i in range(1, 4)}
            if output.flatten:
                _put(made, output.flatten, fields)
            else:
                made.update(fields)
        for path in output.columns.values():
            if path:
                _put(made, path, rng.randint(0, 10_000))
        return made

    if output.rows is None:
        return element()
    answer: dict[str, Any] = {}
    elements = [element(), element()]
    if not output.rows:
        return elements
    _put(answer, output.rows, elements)
    return answer
