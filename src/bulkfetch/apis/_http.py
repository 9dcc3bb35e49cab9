"""HTTP plumbing every adapter shares: one request, its failures, the rate headers."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp

from bulkfetch.errors import TransportError

__all__ = ["Answer", "rate_headers", "request", "retry_after"]


@dataclass(frozen=True, slots=True)
class Answer:
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
            return Answer(response.status, dict(response.headers), text)
    except TimeoutError:
        raise TransportError("timed out", endpoint=endpoint) from None
    except aiohttp.ClientPayloadError:
        raise TransportError("the answer was cut off", endpoint=endpoint) from None
    except aiohttp.ServerDisconnectedError:
        raise TransportError("the server closed the connection", endpoint=endpoint) from None
    except aiohttp.ClientConnectorError as exc:
        reason = exc.os_error.strerror or exc.os_error.__class__.__name__
        raise TransportError(f"cannot connect: {reason}", endpoint=endpoint) from None
    except (aiohttp.ClientError, OSError, UnicodeDecodeError) as exc:
        raise TransportError(
            f"request failed: {exc.__class__.__name__}", endpoint=endpoint
        ) from None


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
