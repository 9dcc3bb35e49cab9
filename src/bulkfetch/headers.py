"""What a provider's answer headers say of its pace: ``Retry-After`` (seconds or a date),
and the calls left in its window and when it resets (``X-RateLimit-Remaining``,
``X-RateLimit-Reset``, or the names an API gives them). Numbers that are not finite are no
numbers, and no reset is further off than a month."""

from __future__ import annotations

import email.utils
import math
import time
from collections.abc import Mapping

__all__ = ["MAX_RESET_SECONDS", "rate_headers", "retry_after"]


# A provider's reset further off than a month (the longest window) is no reset: it is
# waited for no longer than that.
MAX_RESET_SECONDS = 31 * 86400


def _number(value: str | None) -> float | None:
    """A header's number: finite, else None (``nan``, ``inf`` and words are no number)."""
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def retry_after(
    headers: Mapping[str, str], *, now: float | None = None, reset: bool = True
) -> float | None:
    """Seconds to wait, from ``Retry-After`` (seconds or a date) or, with ``reset``,
    ``X-RateLimit-Reset`` (a 429's: the window it filled ends then); at most a month."""
    now = time.time() if now is None else now
    value = headers.get("Retry-After")
    seconds = _number(value)
    if seconds is None and value:
        try:
            seconds = email.utils.parsedate_to_datetime(value).timestamp() - now
        except (TypeError, ValueError):
            seconds = None
    if seconds is None and reset:
        at = _number(headers.get("X-RateLimit-Reset"))
        seconds = at - now if at is not None else None
    return min(max(0.0, seconds), MAX_RESET_SECONDS) if seconds is not None else None


def rate_headers(
    headers: Mapping[str, str],
    *,
    now: float | None = None,
    remaining: str = "X-RateLimit-Remaining",
    reset: str = "X-RateLimit-Reset",
    epoch: bool = True,
) -> tuple[int | None, float | None]:
    """The calls left in the provider's window and the seconds until it resets (at most a
    month), from its headers: ``remaining`` and ``reset`` (UNIX seconds with ``epoch``,
    else seconds from now)."""
    now = time.time() if now is None else now
    left = _number(headers.get(remaining))
    at = _number(headers.get(reset))
    if at is not None and epoch:
        at -= now
    return (
        int(left) if left is not None else None,
        min(max(0.0, at), MAX_RESET_SECONDS) if at is not None else None,
    )
