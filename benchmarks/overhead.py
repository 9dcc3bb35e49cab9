"""Q1, engine overhead: lookups a second of `bulkfetch enrich` (durable store, output
written) against a plain aiohttp loop that fetches and discards, same emulator (no limit),
same concurrency, 20,000 distinct lookups. Target: at least 0.8 of the plain loop.

Beside the rates, the CPU each client spends a lookup, and the same for bulkfetch's
CrystalRoof adapter alone (the calls with their answers checked and parsed, nothing
stored) and for starting the CLI: on a machine whose other core runs the emulator, CPU a
lookup is what decides the ratio, and these rows show where it goes.
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Callable
from pathlib import Path

import anyio

from benchmarks.common import (
    KEY,
    Emulator,
    Timed,
    bulkfetch,
    enrich,
    paced_peer,
    table,
    timed_in_process,
)
from bulkfetch.apis.crystalroof import CrystalRoof
from bulkfetch.samples import postcodes

TARGET = 0.8


async def _adapter_alone(url: str, codes: list[str], concurrency: int) -> None:
    """bulkfetch's adapter in the plain loop's place: no store, no engine, no output."""
    api = CrystalRoof(KEY, base_url=url)
    lookups = [api.lookup(code) for code in reversed(codes)]

    async def worker() -> None:
        while lookups:
            await api.fetch([lookups.pop()])

    try:
        async with anyio.create_task_group() as tg:
            for _ in range(concurrency):
                tg.start_soon(worker)
    finally:
        await api.close()


def measure(lookups: int = 20_000, concurrency: int = 16) -> tuple[str, bool]:
    codes = list(postcodes(lookups, seed=1))
    serving: dict[str, float] = {}  # the emulator's CPU while serving each client

    def served(name: str, emulator: Emulator, run: Callable[[], Timed]) -> Timed:
        before = emulator.cpu_seconds()
        timed = run()
        serving[name] = emulator.cpu_seconds() - before
        return timed

    with tempfile.TemporaryDirectory() as workdir, Emulator("--not-found-rate", "0") as emulator:
        ours = served(
            "ours",
            emulator,
            lambda: enrich(
                emulator, Path(workdir), lookups, "--concurrency", str(concurrency), seed=1
            ),
        )
    with Emulator("--not-found-rate", "0") as emulator:
        plain = served(
            "plain",
            emulator,
            lambda: timed_in_process(lambda: paced_peer(emulator.url, codes, None, concurrency)),
        )
    with Emulator("--not-found-rate", "0") as emulator:
        adapter = served(
            "adapter",
            emulator,
            lambda: timed_in_process(lambda: _adapter_alone(emulator.url, codes, concurrency)),
        )
    startup = bulkfetch("--version")  # starting the CLI and importing what it needs
    ratio = plain.seconds / ours.seconds

    def row(name: str, timed: Timed, served_as: str) -> list[str]:
        return [
            name,
            f"{lookups / timed.seconds:,.0f}",
            f"{plain.seconds / timed.seconds:.2f}",
            f"{timed.cpu_seconds / lookups * 1e6:,.0f}",
            f"{serving[served_as] / lookups * 1e6:,.0f}",
        ]

    rows = [
        row("plain aiohttp loop (fetch, discard)", plain, "plain"),
        row("bulkfetch's adapter alone (fetch, check, parse)", adapter, "adapter"),
        row("bulkfetch enrich (store, output)", ours, "ours"),
        ["(of which starting the CLI)", "", "", f"{startup.cpu_seconds / lookups * 1e6:,.0f}", ""],
    ]
    header = ["client", "lookups/s", "of the plain loop", "CPU µs a lookup", "emulator CPU µs"]
    text = table(header, rows)
    return (
        f"{text}\n\nTarget at least {TARGET}: {'met' if ratio >= TARGET else 'missed'}.",
        ratio >= TARGET,
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lookups", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    print(measure(args.lookups, args.concurrency)[0])
