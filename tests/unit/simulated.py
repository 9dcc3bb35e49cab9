"""A provider and a run, simulated on a clock the test controls: calls reach the provider's
window (the emulator's own kinds) after a one-way latency of their own, are answered a
fixed time later, and the answers reach the limiter when they arrive. No real time passes."""

from __future__ import annotations

import heapq
import math
import random
from dataclasses import dataclass, field

from bulkfetch.emulator.windows import Window, window_of
from bulkfetch.pacing.limiter import RateLimiter
from tests.unit.clock import FakeClock

__all__ = ["Outcome", "Provider", "simulate"]


@dataclass
class Provider:
    """A provider that lets ``limit`` calls a second through in its window of ``kind``
    (fixed seconds ``offset`` off ours, sliding, a bucket of ``burst``, a minute of 60 x
    ``limit``) and answers 429 to the rest; ``change`` (at, limit): the limit changes then;
    ``bursts`` (every, seconds): 429 to every call for the first seconds of each period, as
    an outage; ``at_random``: this share of calls answered 429 regardless; ``jitter``: each
    call's one-way latency is random in [0, jitter] seconds."""

    limit: int | None
    kind: str = "fixed"
    offset: float = 0.0
    burst: int | None = None
    change: tuple[float, int] | None = None
    bursts: tuple[float, float] | None = None
    at_random: float = 0.0
    jitter: float = 0.0
    rng: random.Random = field(default_factory=lambda: random.Random(1))
    _window: Window | None = None

    def __post_init__(self) -> None:
        self._window = self._make(self.limit)

    def _make(self, limit: int | None) -> Window | None:
        if limit is None:
            return None
        return window_of(self.kind, limit, offset=self.offset, burst=self.burst)

    def delay(self) -> float:
        return self.rng.uniform(0.0, self.jitter) if self.jitter else 0.0

    def answer(self, at: float) -> tuple[bool, float | None]:
        """A call arriving at ``at``: whether it goes through, and a 429's Retry-After."""
        if self.change is not None and at >= self.change[0]:
            self._window, self.change = self._make(self.change[1]), None
        if self.bursts is not None and at % self.bursts[0] < self.bursts[1]:
            return False, None
        if self.at_random and self.rng.random() < self.at_random:
            return False, None
        wait = None if self._window is None else self._window.admit(at)
        if wait is None:
            return True, None
        return False, (float(math.ceil(wait)) if self.kind == "minute" else None)


@dataclass
class Outcome:
    """What a simulated run did from ``after`` seconds in: successful calls a second, the
    share of calls that met a 429, and the limit it learned last (if any)."""

    per_second: float
    rate_limited_share: float
    learned: float | None = None


class SimulatedClock(FakeClock):
    """Time that moves when somebody sleeps or waits for an answer; calls arrive at the
    provider, and answers reach the limiter, in the order of their times."""

    def __init__(self, start: float, provider: Provider, latency: float) -> None:
        super().__init__()
        self.now = start
        self.provider = provider
        self.latency = latency
        self.limiter: RateLimiter | None = None
        self.in_flight = 0
        self._events: list[tuple[float, int, float, bool, float | None]] = []
        self._order = 0
        self.sent: list[tuple[float, bool]] = []  # (sent, went through), in answer order

    def send(self) -> None:
        """A call sent now: it arrives after its one-way latency."""
        self.in_flight += 1
        self._push(self.now + self.provider.delay(), self.now, False, None)

    def _push(self, at: float, sent: float, answer: bool, retry: float | None) -> None:
        self._order += 1
        heapq.heappush(self._events, (at, self._order, sent, answer, retry))

    def deliver(self, until: float) -> None:
        assert self.limiter is not None
        while self._events and self._events[0][0] <= until:
            at, _, sent, answered, retry = heapq.heappop(self._events)
            if not answered:  # it arrives: the provider counts it and answers later
                ok, retry = self.provider.answer(at)
                self._push(at + self.latency, sent, True, -1.0 if ok else retry)
                continue
            self.now = max(self.now, at)
            self.in_flight -= 1
            self.sent.append((sent, retry == -1.0))
            if retry == -1.0:
                self.limiter.on_success(sent)
            else:
                self.limiter.on_rate_limited(retry, sent_at=sent)
        self.now = max(self.now, until)

    def next_answer(self) -> float:
        return self._events[0][0]

    async def sleep(self, seconds: float) -> None:
        self.deliver(self.now + max(0.0, seconds))


async def simulate(
    rate: float | None,
    provider: Provider,
    *,
    seconds: float = 120.0,
    after: float = 10.0,
    start: float = 1000.37,
    concurrency: int = 16,
    latency: float = 0.02,
    cost: float = 0.001,
) -> Outcome:
    """Send as the engine does (``concurrency`` calls in flight, each answered ``latency``
    after it arrives, ``cost`` seconds of our own work between sends) for ``seconds``."""
    clock = SimulatedClock(start, provider, latency)
    limiter = RateLimiter(rate, clock=clock)
    clock.limiter = limiter
    while clock.now < start + seconds:
        while clock.in_flight >= concurrency:
            clock.deliver(clock.next_answer())
        clock.deliver(clock.now)
        await limiter.acquire()
        clock.send()
        clock.now += cost
    counted = [ok for at, ok in clock.sent if at >= start + after]
    good = sum(counted)
    share = (len(counted) - good) / max(1, len(counted))
    return Outcome(good / (seconds - after), share, limiter.learned)
