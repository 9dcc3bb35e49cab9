"""HTTP plumbing every API client shares: a session, one request and its failures (its
answer's text bounded and with the client's secrets taken out, redirects kept within the
origin), and the pacing of the client's own single calls (the rate headers it hears are
read by :mod:`bulkfetch.headers`)."""

from __future__ import annotations

import base64
import hashlib
import math
import os
import socket
import ssl
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

import aiohttp
import anyio
import yarl

from bulkfetch.engine.settings import EngineSettings
from bulkfetch.engine.single import SINGLE_CALL, Caller
from bulkfetch.errors import (
    ApiError,
    BadResponseError,
    ConnectError,
    InvalidInputError,
    RedirectError,
    TransportError,
)
from bulkfetch.headers import rate_headers
from bulkfetch.pacing.limiter import RateLimiter
from bulkfetch.untrusted import Secrets, printable

__all__ = [
    "CONNECT_SECONDS",
    "MAX_ANSWER_BYTES",
    "Answer",
    "HttpClient",
    "key_fingerprint",
]

CONNECT_SECONDS = 10.0  # a connection not open by then is one that never will soon

MAX_ANSWER_BYTES = 10_000_000  # an answer larger than this is refused (see HttpClient)
ERROR_BYTES = 65_536  # what is read of an answer that is not a success: only its message
MAX_REDIRECTS = 5  # followed within the origin; then the API is sent round in circles
_REDIRECTS = frozenset({301, 302, 303, 307, 308})


def key_fingerprint(*secrets: str | None) -> str:
    """A short name for a key (or keys) that does not give the key away: the rate budget
    that workers share is kept under it."""
    digest = hashlib.sha256(b"bulkfetch rate budget")
    for secret in secrets:
        digest.update(b"\0" + (secret or "").encode())
    return digest.hexdigest()[:24]


class HttpClient:
    """What every API client shares: a base URL, an aiohttp session it owns unless one was
    given, and the pacing of its key (``rate`` calls a second if given; else learnt from
    429s), which its single calls and its bulk runs in this process share. A single call
    that fails in a way that may pass is tried up to ``max_attempts`` times (429s cost no
    attempt). An async context manager; ``close()`` first lets the bulk runs still working
    on it land their calls in flight, then releases what it owns.

    Every answer is read through :meth:`send`: ``secrets`` (the keys the client sends, and
    a user and password in ``base_url``) are taken out of its text, it is at most
    ``max_answer_bytes`` long, and a redirect to another origin is refused.
    """

    def __init__(
        self,
        base_url: str,
        *,
        session: aiohttp.ClientSession | None,
        timeout: float,
        rate: float | None = None,
        max_attempts: int = 5,
        secrets: Iterable[str | None] = (),
        max_answer_bytes: int = MAX_ANSWER_BYTES,
    ) -> None:
        url = _base_url(base_url)
        if not (math.isfinite(timeout) and timeout > 0):
            raise InvalidInputError(f"timeout is a positive number of seconds; got {timeout!r}")
        if max_answer_bytes < 1:
            raise InvalidInputError("max_answer_bytes must be at least 1")
        # A user and password in the URL are sent as basic auth, and kept out of the origin:
        # the origin is in every lookup the store keeps.
        userinfo = f"{url.user or ''}:{url.password or ''}"
        self._auth: dict[str, str] = {}
        if url.user is not None or url.password is not None:
            basic = base64.b64encode(userinfo.encode()).decode()
            self._auth = {"Authorization": f"Basic {basic}"}
        self._secrets = Secrets([*secrets, url.password, userinfo if url.password else None])
        self._base_url = str(url.with_user(None)).rstrip("/")
        self._session = session
        self._owns_session = session is None
        self.max_answer_bytes = max_answer_bytes
        self.pacer = RateLimiter(rate)
        self._caller = Caller(self.pacer, settings=EngineSettings(max_attempts=max_attempts))
        # A connection that does not open within this is one that never will soon: said as
        # such (ConnectError), not as a call that timed out and may have been billed.
        self._timeout = aiohttp.ClientTimeout(
            total=timeout, sock_connect=min(timeout, CONNECT_SECONDS)
        )
        self._landing: set[Callable[[], Awaitable[None]]] = set()

    @property
    def timeout(self) -> float | None:
        """Seconds a request may take in all."""
        return self._timeout.total

    @property
    def origin(self) -> str:
        """The base URL (without a user or password): part of every lookup, so the
        emulator's answers stay its own."""
        return self._base_url

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def working(self, land: Callable[[], Awaitable[None]]) -> Callable[[], None]:
        """A bulk run starts working through this client: ``land()`` stops it and waits
        for its calls in flight to be stored, which :meth:`close` does before the session
        goes. The run calls what this returns when it has ended by itself."""
        self._landing.add(land)
        return lambda: self._landing.discard(land)

    async def close(self) -> None:
        with anyio.CancelScope(shield=True):
            while self._landing:  # a fetch_many its caller left without closing it
                await self._landing.pop()()
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            # No connection cap of aiohttp's own: the scheduler decides how many are open.
            self._session = aiohttp.ClientSession(
                timeout=self._timeout, connector=aiohttp.TCPConnector(limit=0)
            )
            # aiohttp sends a GET again, unasked, when a kept-alive connection closes before
            # its answer: the provider may bill both, and nobody would know. The engine
            # retries, and counts what was sent. No public switch (aiohttp#10790); aiohttp's
            # own test client turns it off the same way.
            self._session._retry_connection = False
        return self._session

    async def send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        json: Any = None,
    ) -> Answer:
        """Send one request to ``path`` under the base URL and read its answer.

        A failure to get a whole answer is a :class:`TransportError` whose text names only
        ``path``: aiohttp's own messages may quote the URL, and URLs may carry a key.
        """
        url = yarl.URL(self._base_url + path)
        failure: ApiError
        try:
            for _ in range(MAX_REDIRECTS + 1):
                async with self._client().request(
                    method,
                    url,
                    params=params,
                    headers={**self._auth, **(headers or {})},
                    json=json,
                    allow_redirects=False,
                ) as response:
                    target = _redirect(response, url, path)
                    if target is None:
                        answer = await self._answer(response, path)
                        single = SINGLE_CALL.get()
                        if single is not None:  # a single call: its pacer hears the news
                            single.on_headers(*self.rate_news(answer))
                        return answer
                    response.close()  # its body is never read
                # The same origin: the Location holds the whole query.
                url, params = target, None
                if response.status == 303 or (response.status in (301, 302) and json is not None):
                    method, json = "GET", None
            failure = RedirectError(
                f"the API redirected more than {MAX_REDIRECTS} times", endpoint=path
            )
        except ApiError as exc:
            failure = exc
        except aiohttp.ConnectionTimeoutError:  # before TimeoutError, which it also is
            failure = _unconnected(url, "no connection within the time allowed", path)
        except aiohttp.ClientConnectorError as exc:  # refused, unknown host, TLS
            failure = _unconnected(url, _reason(exc.os_error), path)
        except TimeoutError:
            failure = TransportError("timed out", endpoint=path)
        except aiohttp.ClientPayloadError:
            failure = TransportError("the answer was cut off", endpoint=path)
        except aiohttp.ServerDisconnectedError:
            failure = TransportError("the server closed the connection", endpoint=path)
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            failure = TransportError(f"request failed: {exc.__class__.__name__}", endpoint=path)
        # Raised here, outside the handlers, so that no exception of aiohttp's (which may
        # quote the URL, and the key in it) rides along as this one's __context__.
        raise failure

    def rate_news(self, answer: Answer) -> tuple[int | None, float | None]:
        """The calls left in the provider's window and the seconds until it resets, as
        its answer's headers say (``X-RateLimit-Remaining``, ``X-RateLimit-Reset``)."""
        return rate_headers(answer.headers)

    async def _answer(self, response: aiohttp.ClientResponse, path: str) -> Answer:
        """The answer's text, with the client's secrets taken out. A success's body is the
        data: read to its end, up to ``max_answer_bytes``. Any other's is only a message."""
        status = response.status
        success = 200 <= status < 300
        limit = self.max_answer_bytes if success else min(self.max_answer_bytes, ERROR_BYTES)
        body, whole = await _bounded(response, limit, skip=success)
        if not whole:
            response.close()  # the rest is never read: the connection goes with it
            if success:
                raise BadResponseError(
                    f"the answer is larger than {limit:,} bytes (max_answer_bytes)",
                    status=status,
                    endpoint=path,
                )
            # An error's long body: its start says enough.
        charset = response.charset or "utf-8"
        try:
            text = body.decode(charset, "strict" if success else "replace")
        except (UnicodeDecodeError, LookupError):
            if success:
                raise BadResponseError(
                    f"the answer is not {_shown_charset(charset)} text",
                    status=status,
                    endpoint=path,
                ) from None
            text = body.decode("utf-8", "replace")  # a charset of no name: a message
        text = self._secrets.redact(text, data=success)
        return Answer(path, status, response.headers, text)


def _base_url(text: str) -> yarl.URL:
    """The base URL as given, or an error saying why it cannot be one (never quoting it:
    it may hold a password)."""
    try:
        url = yarl.URL(text)
    except (ValueError, TypeError):
        raise InvalidInputError("the base URL cannot be read as a URL") from None
    if url.scheme not in ("http", "https") or not url.host:
        raise InvalidInputError(
            "the base URL must be http:// or https:// and name a host (https://api.example.com)"
        )
    if url.query_string or url.fragment:
        raise InvalidInputError("the base URL takes no query string or fragment")
    return url


def _redirect(response: aiohttp.ClientResponse, url: yarl.URL, path: str) -> yarl.URL | None:
    """Where a redirect points, if the answer is one to follow (within ``url``'s origin);
    a :class:`RedirectError` for one to another origin, which would take the key there."""
    location = response.headers.get("Location")
    if response.status not in _REDIRECTS or location is None:
        return None
    try:
        target = url.join(yarl.URL(location))
    except (ValueError, TypeError):
        raise RedirectError(
            "the API redirected to an address that is not a URL",
            status=response.status,
            endpoint=path,
        ) from None
    if target.origin() != url.origin():
        where = printable(f"{target.scheme}://{target.host}" + _port(target))
        raise RedirectError(
            f"the API redirected to another origin, {where}, which bulkfetch does not follow"
            " (the key would go with it): check the base URL",
            status=response.status,
            endpoint=path,
        )
    return target


def _port(url: yarl.URL) -> str:
    return f":{url.port}" if url.port is not None and not url.is_default_port() else ""


async def _bounded(
    response: aiohttp.ClientResponse, limit: int, *, skip: bool
) -> tuple[bytes, bool]:
    """The body's first ``limit`` bytes at most, and whether that is the whole body: reading
    stops there, so an endless body costs ``limit`` bytes, and a compressed one is counted
    as it unpacks. ``skip``: a body declared longer is not read at all."""
    declared = response.content_length
    if skip and declared is not None and declared > limit:
        return b"", False
    blocks, size = [], 0
    while block := await response.content.readany():
        blocks.append(block)
        size += len(block)
        if size > limit:
            return b"".join(blocks)[:limit], False
    return b"".join(blocks), True


def _shown_charset(charset: str) -> str:
    return printable(charset[:40])


@dataclass(frozen=True, slots=True)
class Answer:
    endpoint: str  # the path asked, without its query: safe to quote in a message
    status: int
    headers: Mapping[str, str]
    text: str  # the body, with the client's secrets taken out


def _reason(error: OSError) -> str:
    """Why a connection did not open, in words."""
    if isinstance(error, ssl.SSLError):
        return f"TLS failure ({error.reason or error})"
    if isinstance(error, socket.gaierror):
        return f"unknown host ({error.strerror})"
    if error.errno is not None and error.errno > 0:
        return os.strerror(error.errno)
    return error.strerror or str(error) or type(error).__name__


def _unconnected(url: yarl.URL, reason: str, endpoint: str) -> ConnectError:
    """The connection to ``url``'s host never opened. The message names the host and port,
    never the URL (a URL may carry a key in its query)."""
    host = f"{url.host}:{url.port}" if url.port is not None else str(url.host)
    return ConnectError(f"cannot connect to {host}: {reason}", host=host, endpoint=endpoint)
