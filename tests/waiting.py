"""Waiting in tests: on a condition, never for a time, and never for ever."""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["wait_until"]


def wait_until(condition: Callable[[], object], *, timeout: float = 60.0, what: str = "") -> None:
    """Return once ``condition()`` is true, polling; fail the test (saying ``what`` was
    awaited) if it is not within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what or condition}"
        time.sleep(0.05)
