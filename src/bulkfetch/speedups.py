"""What the ``fast`` extra speeds up when it is installed: the event loop (uvloop) and JSON
decoding (orjson). Without them, the standard library's, with the same results."""

from __future__ import annotations

import contextlib
import importlib.util
import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, TypeVarTuple

import anyio

__all__ = ["dumps", "loads", "run"]

T = TypeVar("T")
Ts = TypeVarTuple("Ts")

_UVLOOP = importlib.util.find_spec("uvloop") is not None

_loads: Callable[[str], Any] = json.loads
with contextlib.suppress(ImportError):  # without the fast extra: the standard library's
    from orjson import loads as _loads  # strict JSON (no NaN), several times faster


_dumps: Callable[[Any], bytes] | None = None
with contextlib.suppress(ImportError):
    from orjson import dumps as _dumps


def dumps(value: Any) -> str:
    """Values as compact JSON text, non-ASCII characters as they are: what :func:`loads`
    reads back as the same values (stored text, never hashed: the bytes may differ from the
    standard library's, the values do not)."""
    if _dumps is not None:
        try:  # not contextlib.suppress: a million calls for a big file
            return _dumps(value).decode()
        except TypeError:  # a lone surrogate: the standard library's
            pass
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def loads(text: str) -> Any:
    """JSON text as Python values; a ``ValueError`` for text that is not JSON, or is nested
    too deep to read (the standard library's decoder would raise RecursionError, orjson
    refuses past 1,024 levels)."""
    try:
        return _loads(text)
    except RecursionError:
        raise ValueError("JSON nested too deep") from None


def run(func: Callable[[*Ts], Awaitable[T]], *args: *Ts) -> T:
    """``anyio.run``, on uvloop's event loop when it is installed."""
    return anyio.run(func, *args, backend_options={"use_uvloop": _UVLOOP})
