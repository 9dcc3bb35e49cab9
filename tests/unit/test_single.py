"""Single calls (engine/single.py): paced and retried as a bulk run's, on a clock the tests
drive; two callers asking for the same thing at once share one request."""

from __future__ import annotations

import random

import anyio
import anyio.lowlevel
import pytest

from bulkfetch.engine.settings import EngineSettings
from bulkfetch.engine.single import Caller
from bulkfetch.errors import ConnectError, RateLimitedError, ServerError
from bulkfetch.pacing.limiter import RateLimiter
from tests.unit.clock import FakeClock


class Script:
    """A send that raises each of ``failures`` in turn, then answers its count of calls."""

    def __init__(self, *failures: Exception) -> None:
        self.failures = list(failures)
        self.calls = 0

    async def __call__(self) -> int:
        self.calls += 1
        await anyio.lowlevel.checkpoint()
        if self.failures:
            raise self.failures.pop(0)
        return self.calls


def caller(clock: FakeClock, max_attempts: int = 3) -> Caller:
    settings = EngineSettings(max_attempts=max_attempts)
    return Caller(RateLimiter(None, clock=clock), settings=settings, clock=clock, seed=1)


async def test_callers_asking_for_the_same_thing_at_once_share_one_request() -> None:
    """Three callers of one key while its request is out: one send, one answer for all."""
    clock, started = FakeClock(), anyio.Event()
    release = anyio.Event()
    sends: list[str] = []

    async def slow() -> str:
        sends.append("sent")
        started.set()
        await release.wait()
        return "answer"

    single = caller(clock)
    got: list[str] = []

    async def ask() -> None:
        got.append(await single.call("same", slow))

    async with anyio.create_task_group() as tg:
        for _ in range(3):
            tg.start_soon(ask)
        await started.wait()
        await anyio.wait_all_tasks_blocked()
        release.set()
    assert got == ["answer"] * 3
    assert sends == ["sent"]


async def test_a_shared_request_that_fails_fails_every_caller() -> None:
    """The one request's error reaches each caller that waited on it."""
    single = caller(FakeClock(), max_attempts=1)
    release = anyio.Event()

    async def broken() -> str:
        await release.wait()
        raise ServerError("down", status=500)

    raised: list[BaseException] = []

    async def ask() -> None:
        try:
            await single.call("same", broken)
        except ServerError as exc:
            raised.append(exc)

    async with anyio.create_task_group() as tg:
        tg.start_soon(ask)
        tg.start_soon(ask)
        await anyio.wait_all_tasks_blocked()
        release.set()
    assert len(raised) == 2
    assert raised[0] is raised[1]


async def test_failures_that_pass_are_tried_again_after_a_backoff_on_the_clock() -> None:
    """Two 500s, then an answer: three sends, the two backoffs (full jitter, seeded) waited
    on the clock, not in real time."""
    clock = FakeClock()
    send = Script(ServerError("down", status=500), ServerError("down", status=500))
    assert await caller(clock).call("k", send) == 3
    jitter = random.Random(1)
    backoffs = [EngineSettings().backoff(attempts, None, jitter) for attempts in (1, 2)]
    assert clock.now - 1000.0 >= sum(backoffs) > 0


async def test_the_last_attempt_s_failure_is_raised() -> None:
    """A 500 every time: raised after max_attempts sends."""
    send = Script(*(ServerError("down", status=500) for _ in range(5)))
    with pytest.raises(ServerError):
        await caller(FakeClock(), max_attempts=3).call("k", send)
    assert send.calls == 3


async def test_429s_spend_no_attempt_but_are_raised_when_they_never_end(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """429s more often than there are attempts: still answered; a 429 for ever: raised
    after MAX_RATE_LIMITED of them."""
    limited = [RateLimitedError("slow down", status=429, retry_after=0.5) for _ in range(4)]
    send = Script(*limited)
    assert await caller(FakeClock(), max_attempts=2).call("k", send) == 5
    monkeypatch.setattr(Caller, "MAX_RATE_LIMITED", 3)
    endless = Script(*(RateLimitedError("slow down", status=429) for _ in range(10)))
    with pytest.raises(RateLimitedError):
        await caller(FakeClock()).call("k", endless)
    assert endless.calls == 3


async def test_a_connection_that_never_opened_is_raised_at_once() -> None:
    """ConnectError: nobody to try again against; one send."""
    send = Script(ConnectError("cannot connect to api:443: refused", host="api:443"))
    with pytest.raises(ConnectError):
        await caller(FakeClock()).call("k", send)
    assert send.calls == 1
