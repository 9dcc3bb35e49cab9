"""``bulkfetch emulate``: the local stand-in for every installed API."""

from __future__ import annotations

import argparse
import signal
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
from rich.console import Console

from bulkfetch.cli.exits import ExitCode
from bulkfetch.cli.helptext import examples
from bulkfetch.cli.options import count, fraction, port, positive_int, seconds
from bulkfetch.describe import load_description
from bulkfetch.emulator.windows import KINDS
from bulkfetch.errors import UsageError
from bulkfetch.plugins import plugins

if TYPE_CHECKING:  # the server is imported by the command that runs it, not at start-up
    from bulkfetch.emulator import EmulatorConfig

__all__ = ["add", "burst", "config_of", "latency"]


_FAULTS = {
    "fail": "share of calls answered 500",
    "drop": "share of calls whose connection is dropped before an answer",
    "slow": "share of calls answered after --slow-seconds",
    "truncate": "share of answers cut off midway",
    "throttle": "share of calls answered 429 at random",
}


def add(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    emulate = commands.add_parser(
        "emulate",
        help="run the local API emulator",
        epilog=examples(
            "bulkfetch emulate --port 8710",
            "bulkfetch emulate --rate-limit 5 --quota 1000 --fail-rate 0.05    # a hard day",
        ),
    )
    emulate.add_argument("--host", default="127.0.0.1", help="the address to listen on")
    emulate.add_argument("--port", type=port, default=8710, help="0 picks a free port")
    emulate.add_argument("--keys", help="comma-separated valid keys (default: any key)")
    emulate.add_argument("--rate-limit", type=positive_int, help="calls per key a second")
    emulate.add_argument(
        "--window",
        choices=KINDS,
        default="fixed",
        help="how the limit is counted: in fixed seconds (the wall clock's, or --window-offset"
        " after them), any one-second span (sliding), a token bucket of --burst, or a minute"
        " of 60 x --rate-limit (its 429s say Retry-After)",
    )
    emulate.add_argument(
        "--window-offset",
        type=seconds,
        default=0.0,
        help="seconds the fixed windows start after the wall clock's",
    )
    emulate.add_argument(
        "--burst",
        type=positive_int,
        help="a bucket's size (default a fifth of the limit, 2 at least)",
    )
    emulate.add_argument("--quota", type=count, help="billed calls per key, then refused")
    emulate.add_argument(
        "--not-found-rate", type=fraction, default=0.03, help="share of lookups answered 404"
    )
    for fault, what in _FAULTS.items():
        emulate.add_argument(f"--{fault}-rate", type=fraction, default=0.0, help=what)
    emulate.add_argument(
        "--slow-seconds", type=seconds, default=30.0, help="how long a slow answer takes"
    )
    emulate.add_argument(
        "--burst-429",
        type=burst,
        default=(0.0, 0.0),
        help="EVERY,SECONDS: all calls 429 for SECONDS of EVERY",
    )
    emulate.add_argument(
        "--latency",
        type=latency,
        default=(0.0, 0.0),
        help="MIN[,MAX] seconds added to answers",
    )
    emulate.add_argument(
        "--one-way-latency",
        type=latency,
        default=(0.0, 0.0),
        help="MIN[,MAX] seconds each call takes to reach the limit's count (each its own)",
    )
    emulate.add_argument(
        "--seed", type=count, default=0, help="seeds the random faults, for a run to repeat"
    )
    emulate.add_argument(
        "--api",
        type=Path,
        help="also serve the API this description says (a .toml file); its per-second limit"
        " is the emulator's unless --rate-limit says otherwise",
    )
    emulate.add_argument(
        "--answers",
        type=Path,
        help='with --api: its answers, a JSON object a line ({"value": ..., "answer": ...});'
        " values not in it have none (404). Default: answers made up from the description",
    )
    # The APIs' own options: what each plugin makes of the parsed arguments.
    collectors = [
        found.emulator_options(emulate)
        for found in plugins().values()
        if found.emulator_options is not None
    ]
    emulate.set_defaults(handler=_emulate, api_options=collectors)


def latency(text: str) -> tuple[float, float]:
    """``MIN,MAX`` seconds (``MIN`` alone: both), ``MIN`` no more than ``MAX``."""
    low, comma, high = text.partition(",")
    least = seconds(low)
    most = seconds(high) if comma else least
    if least > most:
        raise argparse.ArgumentTypeError(f"MIN is more than MAX: {text!r}")
    return least, most


def burst(text: str) -> tuple[float, float]:
    """``EVERY,SECONDS``: a burst of ``SECONDS`` in every ``EVERY`` (0,0: none), no longer
    than ``EVERY``."""
    every, comma, length = text.partition(",")
    if not comma:
        raise argparse.ArgumentTypeError(f"not EVERY,SECONDS: {text!r}")
    period, part = seconds(every), seconds(length)
    if part > period:
        raise argparse.ArgumentTypeError(f"SECONDS is more than EVERY: {text!r}")
    return period, part


def config_of(args: argparse.Namespace) -> EmulatorConfig:
    """The emulator's settings, from ``bulkfetch emulate``'s parsed arguments."""
    from bulkfetch.describe import emulated
    from bulkfetch.emulator import EmulatorConfig

    api_options: dict[str, Any] = {}
    collect: Callable[[argparse.Namespace], dict[str, Any]]
    for collect in args.api_options:
        api_options.update(collect(args))
    rate_limit = args.rate_limit
    if args.answers is not None and args.api is None:
        raise UsageError("--answers goes with --api: the description whose answers they are")
    if args.api is not None:
        description = load_description(args.api)
        api_options[emulated.DESCRIPTION] = description
        if args.answers is not None:
            api_options[emulated.ANSWERS] = emulated.read_answers(args.answers, description)
        if rate_limit is None:
            rate_limit = next((x.count for x in description.limits if x.per_second), None)
    return EmulatorConfig(
        keys=frozenset(args.keys.split(",")) if args.keys else None,
        rate_limit=rate_limit,
        window=args.window,
        window_offset=args.window_offset,
        burst=args.burst,
        quota=args.quota,
        not_found_rate=args.not_found_rate,
        fail_rate=args.fail_rate,
        drop_rate=args.drop_rate,
        slow_rate=args.slow_rate,
        slow_seconds=args.slow_seconds,
        truncate_rate=args.truncate_rate,
        throttle_rate=args.throttle_rate,
        burst_every=args.burst_429[0],
        burst_seconds=args.burst_429[1],
        latency_min=args.latency[0],
        latency_max=args.latency[1],
        arrival_min=args.one_way_latency[0],
        arrival_max=args.one_way_latency[1],
        seed=args.seed,
        options=api_options,
    )


def _emulate(args: argparse.Namespace, err: Console) -> int:
    from bulkfetch.emulator import serve

    config = config_of(args)

    def ready(url: str) -> None:
        print(f"emulator listening on {url}", flush=True)

    async def run() -> None:
        async with anyio.create_task_group() as tg:

            async def until_signal() -> None:
                with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
                    async for _ in signals:
                        tg.cancel_scope.cancel()

            tg.start_soon(until_signal)
            await serve(config, host=args.host, port=args.port, on_ready=ready)

    anyio.run(run)
    return ExitCode.OK
