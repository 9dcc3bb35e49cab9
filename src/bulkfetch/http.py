"""HTTP plumbing every API client shares: a session, one request and its failures, the rate
headers, and the pacing of the client's own single calls."""

from __future__ import annotations

import email.utils
import hashlib
import os
import socket
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

import aiohttp
import yarl

from bulkfetch.engine.settings import EngineSettings
from bulkfetch.engine.single import Caller
from bulkfetch.errors import ConnectError, TransportError
from bulkfetch.pacing.limiter import RateLimiter

__all__ = [
    "CONNECT_SECONDS",
    "Answer",
    "HttpClient",
    "key_fingerprint",
    "rate_headers",
    "request",
    "retry_after",
]

CONNECT_SECONDS = 10.0  # a connection not open by then is one that never will soon


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
    attempt). An async context manager; ``close()`` releases what it owns."""

    def __init__(
        self,
        base_url: str,
        *,
        session: aiohttp.ClientSession | None,
        timeout: float,
        rate: float | None = None,
        max_attempts: int = 5,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._session = session
        self._owns_session = session is None
        self.pacer = RateLimiter(rate)
        self._caller = Caller(self.pacer, settings=EngineSettings(max_attempts=max_attempts))
        # A connection that does not open within this is one that never will soon: said as
        # such (ConnectError), not as a call that timed out and may have been billed.
        self._timeout = aiohttp.ClientTimeout(
            total=timeout, sock_connect=min(timeout, CONNECT_SECONDS)
        )

    @property
    def timeout(self) -> float | None:
        """Seconds a request may take in all."""
        return self._timeout.total

    @property
    def origin(self) -> str:
        """The base URL: part of every lookup, so the emulator's answers stay its own."""
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

    async def close(self) -> None:
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


@dataclass(frozen=True, slots=True)
class Answer:
    endpoint: str  # the path asked, without its query: safe to quote in a message
    status: int
    headers: Mapping[str, str]
    text: str


async def request(
    session: aiohttp.ClientSession,
    method: str,
    url: str,
    *,
    endpoint: str,
    params: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
    json: Any = None,
) -> Answer:
    """Send one request and read its whole body.

    A failure to get a complete answer is a :class:`TransportError` whose text names only
    ``endpoint``: aiohttp's own messages may quote the URL, and URLs may carry a key.
    """
    try:
        async with session.request(
            method, url, params=params, headers=headers, json=json
        ) as response:
            text = await response.text()
            return Answer(endpoint, response.status, dict(response.headers), text)
    except aiohttp.ConnectionTimeoutError:  # before TimeoutError, which it also is
        raise _unconnected(url, "no connection within the time allowed", endpoint) from None
    except aiohttp.ClientConnectorError as exc:  # refused, unknown host, TLS
        raise _unconnected(url, _reason(exc.os_error), endpoint) from None
    except TimeoutError:
        raise TransportError("timed out", endpoint=endpoint) from None
    except aiohttp.ClientPayloadError:
        raise TransportError("the answer was cut off", endpoint=endpoint) from None
    except aiohttp.ServerDisconnectedError:
        raise TransportError("the server closed the connection", endpoint=endpoint) from None
    except (aiohttp.ClientError, OSError, UnicodeDecodeError) as exc:
        raise TransportError(
            f"request failed: {exc.__class__.__name__}", endpoint=endpoint
        ) from None


def _reason(error: OSError) -> str:
    """Why a connection did not open, in words."""
    if isinstance(error, ssl.SSLError):
        return f"TLS failure ({error.reason or error})"
    if isinstance(error, socket.gaierror):
        return f"unknown host ({error.strerror})"
    if error.errno is not None and error.errno > 0:
        return os.strerror(error.errno)
    return error.strerror or str(error) or type(error).__name__


def _unconnected(url: str, reason: str, endpoint: str) -> ConnectError:
    """The connection to ``url``'s host never opened. The message names the host and port,
    never the URL (a URL may carry a key in its query)."""
    parsed = yarl.URL(url)
    host = f"{parsed.host}:{parsed.port}" if parsed.port is not None else str(parsed.host)
    return ConnectError(f"cannot connect to {host}: {reason}", host=host, endpoint=endpoint)


def _number(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return None


def retry_after(headers: Mapping[str, str], *, now: float | None = None) -> float | None:
    """Seconds to wait, from ``Retry-After`` (seconds or a date) or ``X-RateLimit-Reset``."""
    now = time.time() if now is None else now
    value = headers.get("Retry-After")
    seconds = _number(value)
    if seconds is None and value:
        try:
            seconds = email.utils.parsedate_to_datetime(value).timestamp() - now
        except (TypeError, ValueError):
            seconds = None
    if seconds is None:
        reset = _number(headers.get("X-RateLimit-Reset"))
        seconds = reset - now if reset is not None else None
    return max(0.0, seconds) if seconds is not None else None


def rate_headers(
    headers: Mapping[str, str], *, now: float | None = None
) -> tuple[int | None, float | None]:
    """``X-RateLimit-Remaining`` and the seconds until ``X-RateLimit-Reset`` (UNIX seconds)."""
    now = time.time() if now is None else now
    remaining = _number(headers.get("X-RateLimit-Remaining"))
    reset = _number(headers.get("X-RateLimit-Reset"))
    return (
        int(remaining) if remaining is not None else None,
        max(0.0, reset - now) if reset is not None else None,
    )
