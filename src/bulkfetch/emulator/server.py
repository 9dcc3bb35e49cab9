"""The emulator's server: settings, the ledger, the gate every call passes, and faults."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import math
import random
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import yarl
from aiohttp import web

from bulkfetch.emulator.windows import Window, window_of
from bulkfetch.plugins import plugins

__all__ = ["EmulatorConfig", "Gate", "Ledger", "build_app", "serve"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True, slots=True)
class EmulatorConfig:
    """How the emulator behaves. Rates are fractions of calls (0.05 = 5%)."""

    keys: frozenset[str] | None = None  # None: any non-empty key is valid
    rate_limit: int | None = None  # calls per key a second, counted in ``window``
    window: str = "fixed"  # fixed seconds, sliding, bucket or minute (see emulator.windows)
    window_offset: float = 0.0  # seconds the fixed windows start after the wall clock's
    burst: int | None = None  # a token bucket's size (default a fifth of the limit, 2 at least)
    quota: int | None = None  # billed calls per key, then 402
    not_found_rate: float = 0.03  # share of well-formed postcodes the API does not know
    fail_rate: float = 0.0  # 500
    drop_rate: float = 0.0  # the connection closes with no answer
    slow_rate: float = 0.0  # the answer comes after slow_seconds
    slow_seconds: float = 30.0
    truncate_rate: float = 0.0  # the body is cut off mid-way
    throttle_rate: float = 0.0  # 429 at random, besides the per-second limit
    # Bursts of 429 for everyone: the first burst_seconds of every burst_every seconds.
    burst_every: float = 0.0
    burst_seconds: float = 0.0
    # Keys answered with a fixed status (401 revoked, 403 forbidden), set while running.
    key_status: dict[str, int] = field(default_factory=dict)
    latency_min: float = 0.0  # every answer waits a random time in [min, max]
    latency_max: float = 0.0
    # Every call waits a random time in [min, max] before it is counted: one-way latency.
    arrival_min: float = 0.0
    arrival_max: float = 0.0
    seed: int = 0
    # Each API's own settings, by the names its routes read (``lmi_production``...).
    options: dict[str, Any] = field(default_factory=dict)

    def updated(self, changes: dict[str, Any]) -> EmulatorConfig:
        """These settings changed; an API's own go under ``options`` and are merged."""
        known = {f.name for f in dataclasses.fields(self)}
        unknown = set(changes) - known
        if unknown:
            raise ValueError(f"unknown settings: {', '.join(sorted(unknown))}")
        if "keys" in changes and changes["keys"] is not None:
            changes = {**changes, "keys": frozenset(changes["keys"])}
        if "options" in changes:
            changes = {**changes, "options": {**self.options, **changes["options"]}}
        return dataclasses.replace(self, **changes)


@dataclass
class Ledger:
    """What the emulator answered: every status, and every billed call per lookup."""

    by_status: Counter[int] = field(default_factory=Counter)
    billed: Counter[str] = field(default_factory=Counter)
    # Successful (billed) calls per wall-clock second, for rate benchmarks.
    per_second: Counter[int] = field(default_factory=Counter)
    # Every request per lookup, answered or not: how often each was tried.
    tried: Counter[str] = field(default_factory=Counter)
    rate_limited_per_second: Counter[int] = field(default_factory=Counter)
    # For each status, how many requests had come in when it was first answered.
    first_seen_at: dict[int, int] = field(default_factory=dict)
    by_path: Counter[str] = field(default_factory=Counter)
    first_request_at: float | None = None  # wall-clock time of the first answer
    last_request_at: float | None = None  # and of the last
    # For each status, the wall-clock time it was first answered.
    first_seen_time: dict[int, float] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "requests": sum(self.by_status.values()),
            "by_status": {str(k): v for k, v in sorted(self.by_status.items())},
            "billed_total": sum(self.billed.values()),
            "billed": dict(self.billed),
            "billed_twice": sum(1 for n in self.billed.values() if n > 1),
            "most_tries": max(self.tried.values(), default=0),
            "first_seen_at": {str(k): v for k, v in sorted(self.first_seen_at.items())},
            "by_path": dict(self.by_path),
            "first_request_at": self.first_request_at,
            "last_request_at": self.last_request_at,
            "first_seen_time": {str(k): v for k, v in sorted(self.first_seen_time.items())},
            "per_second": {str(k): v for k, v in sorted(self.per_second.items())},
            "rate_limited_per_second": {
                str(k): v for k, v in sorted(self.rate_limited_per_second.items())
            },
        }


class Refusal(Exception):
    """The gate refuses a call with this status (the API's own body is chosen by the caller),
    and these headers (a long window's 429: its ``Retry-After``)."""

    def __init__(self, status: int, headers: dict[str, str] | None = None) -> None:
        self.status = status
        self.headers = headers or {}
        super().__init__(status)


class Gate:
    """Keys, the per-second limit, the quota and faults: shared by every emulated API."""

    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self.ledger = Ledger()
        self.rng = random.Random(config.seed)
        self._windows: dict[str, Window] = {}
        self._windows_of: tuple[object, ...] = ()
        self._used: defaultdict[str, int] = defaultdict(int)

    def admit(self, key: str | None) -> None:
        """Raise :class:`Refusal` for a bad key (401), a full second (429) or no quota (402)."""
        cfg = self.config
        if not key or (cfg.keys is not None and key not in cfg.keys and key != "DEMO"):
            raise Refusal(401)
        if key in cfg.key_status:
            raise Refusal(cfg.key_status[key])
        now = time.time()
        if cfg.throttle_rate and self.rng.random() < cfg.throttle_rate:
            raise Refusal(429)
        if cfg.burst_every and now % cfg.burst_every < cfg.burst_seconds:
            raise Refusal(429)
        window = self.window(key) if key != "DEMO" else None
        if window is not None:
            wait = window.admit(now)
            if wait is not None:
                long = cfg.window == "minute"
                raise Refusal(429, {"Retry-After": str(math.ceil(wait))} if long else None)
        if cfg.quota is not None and key != "DEMO" and self._used[key] >= cfg.quota:
            raise Refusal(402)

    def window(self, key: str) -> Window | None:
        """The key's window, if the calls are limited (a new one when the settings change)."""
        cfg = self.config
        if cfg.rate_limit is None:
            return None
        settings = (cfg.rate_limit, cfg.window, cfg.window_offset, cfg.burst)
        if settings != self._windows_of:
            self._windows, self._windows_of = {}, settings
        found = self._windows.get(key)
        if found is None:
            found = self._windows[key] = window_of(
                cfg.window, cfg.rate_limit, offset=cfg.window_offset, burst=cfg.burst
            )
        return found

    def used_now(self, key: str) -> tuple[int, float]:
        """The calls the key's window holds now, and when it has room again."""
        now = time.time()
        window = self.window(key)
        return (0, now) if window is None else (window.used(now), window.resets_at(now))

    def fault(self) -> str | None:
        """Which fault, if any, this call meets."""
        cfg = self.config
        roll = self.rng.random()
        for name, rate in (
            ("fail", cfg.fail_rate),
            ("drop", cfg.drop_rate),
            ("slow", cfg.slow_rate),
            ("truncate", cfg.truncate_rate),
        ):
            if roll < rate:
                return name
            roll -= rate
        return None

    def bill(self, key: str, lookup: str) -> None:
        self._used[key] += 1
        self.ledger.billed[lookup] += 1
        self.ledger.per_second[int(time.time())] += 1

    def record(self, status: int) -> None:
        now = time.time()
        if self.ledger.first_request_at is None:
            self.ledger.first_request_at = now
        self.ledger.last_request_at = now
        self.ledger.first_seen_time.setdefault(status, now)
        self.ledger.by_status[status] += 1
        self.ledger.first_seen_at.setdefault(status, sum(self.ledger.by_status.values()))
        if status == 429:
            self.ledger.rate_limited_per_second[int(time.time())] += 1

    async def latency(self) -> None:
        cfg = self.config
        if cfg.latency_max > 0:
            await asyncio.sleep(self.rng.uniform(cfg.latency_min, cfg.latency_max))

    async def arrival(self) -> None:
        """The way in: each call's own one-way latency, before it is counted."""
        cfg = self.config
        if cfg.arrival_max > 0:
            await asyncio.sleep(self.rng.uniform(cfg.arrival_min, cfg.arrival_max))


GATE = web.AppKey("gate", Gate)


async def deliver(
    request: web.Request,
    gate: Gate,
    status: int,
    body: dict[str, Any],
    fault: str | None,
    *,
    headers: dict[str, str] | None = None,
) -> web.StreamResponse:
    """Send an answer, or fail to, as the fault says."""
    payload = json.dumps(body).encode()
    await gate.latency()
    if fault == "slow":
        await asyncio.sleep(gate.config.slow_seconds)
    if fault == "drop":
        gate.record(0)
        if request.transport is not None:
            request.transport.close()
        return web.Response(status=204)
    gate.record(status)
    if fault == "truncate":
        response = web.StreamResponse(
            status=status, headers={"Content-Type": "application/json", **(headers or {})}
        )
        response.content_length = len(payload)
        await response.prepare(request)
        await response.write(payload[: len(payload) // 2])
        if request.transport is not None:
            request.transport.close()
        return response
    return web.Response(
        status=status, body=payload, content_type="application/json", headers=headers
    )


async def _ledger(request: web.Request) -> web.Response:
    return web.json_response(request.app[GATE].ledger.as_json())


async def _reset(request: web.Request) -> web.Response:
    request.app[GATE].ledger = Ledger()
    return web.json_response({"ok": True})


async def _config(request: web.Request) -> web.Response:
    gate = request.app[GATE]
    try:
        gate.config = gate.config.updated(await request.json())
    except (ValueError, TypeError) as exc:
        return web.json_response({"error": str(exc)}, status=400)
    return web.json_response({"ok": True})


CONTROL = "/_emulator/"
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


def _control_guard(hosts: frozenset[str]) -> Any:
    """The control endpoints answer only requests to the emulator by a loopback name (or
    the address it was told to listen on), and take only JSON: a web page open in the
    user's browser can send neither (a form cannot send JSON; another site's address in
    the Host header, as DNS rebinding leaves it, is refused). Every other request first
    waits its one-way latency (:meth:`Gate.arrival`)."""

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith(CONTROL):
            try:
                named = yarl.URL(f"http://{request.host}").host
            except ValueError:
                named = None
            if named not in hosts:
                return web.json_response(
                    {"error": "the emulator's controls answer on a loopback address only"},
                    status=403,
                )
            if request.method == "POST" and request.content_type != "application/json":
                return web.json_response(
                    {"error": "the emulator's controls take JSON (application/json)"},
                    status=415,
                )
        else:
            await request.app[GATE].arrival()
        return await handler(request)

    return guard


def build_app(config: EmulatorConfig, *, host: str = "127.0.0.1") -> web.Application:
    """The emulator as an aiohttp application, every installed API's routes mounted;
    ``host``: the address it listens on, which its controls answer to besides loopback."""
    app = web.Application(middlewares=[_control_guard(LOOPBACK | {host.strip("[]")})])
    app[GATE] = Gate(config)
    app.router.add_get("/_emulator/ledger", _ledger)
    app.router.add_post("/_emulator/config", _config)
    app.router.add_post("/_emulator/reset", _reset)
    for found in sorted(plugins().values(), key=lambda each: each.fallback):
        if found.mount is not None:
            found.mount(app)
    return app


async def serve(
    config: EmulatorConfig,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Run the emulator until cancelled; ``on_ready`` receives its base URL."""
    runner = web.AppRunner(build_app(config, host=host), access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port, reuse_address=True)
    await site.start()
    try:
        bound = runner.addresses[0]
        url = f"http://{host if ':' not in host else f'[{host}]'}:{bound[1]}"
        if on_ready is not None:
            on_ready(url)
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
