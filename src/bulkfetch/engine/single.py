"""Single calls, as a program makes them one at a time (``await api.occupation(...)``),
through the same pacing and retries as a bulk run: many of them under ``asyncio.gather``
are spaced, not refused.

A 429 teaches the pacer and is tried again, costing no attempt (up to ``MAX_RATE_LIMITED``
of them, so that a provider that never lets a call through is not waited on for ever);
another failure that may pass (a 5xx, a timeout, a cut body) is tried again after a backoff,
up to the settings' ``max_attempts``; anything else, and the last failure, is raised. Two
calls for the same thing at once share one request. The provider's rate headers on the
answers of a single call (``X-RateLimit-Remaining: 0`` until its reset) hold the pacer's
calls, as they hold a bulk run's: the client reads them (see :data:`SINGLE_CALL`).
"""

from __future__ import annotations

import contextvars
import random
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

import anyio

from bulkfetch.clock import Clock, SystemClock
from bulkfetch.engine.settings import EngineSettings
from bulkfetch.errors import ConnectError, RateLimitedError, RetryableError
from bulkfetch.pacing import Pacer

__all__ = ["SINGLE_CALL", "Caller"]

T = TypeVar("T")

# The pacer of the single call this task is making, if any: the client that reads its
# answer tells it the provider's rate news (a bulk run's scheduler does that for its own).
SINGLE_CALL: contextvars.ContextVar[Pacer | None] = contextvars.ContextVar(
    "bulkfetch_single_call", default=None
)


class Caller:
    """Makes one client's single calls through its pacer."""

    MAX_RATE_LIMITED = 30  # 429s one call waits out before the last one is raised

    def __init__(
        self,
        pacer: Pacer,
        *,
        settings: EngineSettings | None = None,
        clock: Clock | None = None,
        seed: int | None = None,
    ) -> None:
        self.pacer = pacer
        self._settings = settings or EngineSettings()
        self._clock = clock or SystemClock()
        self._rng = random.Random(seed)
        self._in_flight: dict[str, _Shared[object]] = {}

    async def call(self, key: str, send: Callable[[], Awaitable[T]]) -> T:
        """``await send()``, paced and retried; a call with the same ``key`` already under
        way is waited for instead of sent again."""
        shared = self._in_flight.get(key)
        if shared is not None:
            return await shared.wait()  # type: ignore[return-value]
        mine: _Shared[T] = _Shared()
        self._in_flight[key] = mine  # type: ignore[assignment]
        try:
            value = await self._paced(send)
        except BaseException as exc:
            mine.fail(exc)
            raise
        finally:
            del self._in_flight[key]
        mine.set(value)
        return value

    async def _paced(self, send: Callable[[], Awaitable[T]]) -> T:
        attempts = limited = 0
        while True:
            await self.pacer.acquire()
            sent_at = self._clock.time()
            calling = SINGLE_CALL.set(self.pacer)
            try:
                value = await send()
            except RateLimitedError as exc:
                self.pacer.on_rate_limited(exc.retry_after, sent_at)
                limited += 1
                if limited >= self.MAX_RATE_LIMITED:
                    raise
                continue
            except ConnectError:
                raise  # nobody to retry against: the caller hears it at once
            except RetryableError as exc:
                attempts += 1
                if attempts >= self._settings.max_attempts:
                    raise
                delay = self._settings.backoff(attempts, exc.retry_after, self._rng)
                await self._clock.sleep(delay)
                continue
            finally:
                SINGLE_CALL.reset(calling)
            self.pacer.on_success(sent_at)
            return value


class _Shared(Generic[T]):
    """The outcome of one call, for the callers that asked for the same thing meanwhile."""

    def __init__(self) -> None:
        self._done = anyio.Event()
        self._value: T | None = None
        self._error: BaseException | None = None

    def set(self, value: T) -> None:
        self._value = value
        self._done.set()

    def fail(self, error: BaseException) -> None:
        self._error = error
        self._done.set()

    async def wait(self) -> T:
        await self._done.wait()
        if self._error is not None:
            raise self._error
        return self._value  # type: ignore[return-value]
