"""Q1, engine overhead: the CPU a lookup of `bulkfetch enrich` (durable store, output
written) beside the loop a user would write without it (`benchmarks/plain_loop.py`:
aiohttp, each answer decoded), each its own process measured whole (user + system, start-up
included, from ``wait4``), 10,000 distinct lookups, no limit, concurrency 16, each against
an emulator of its own. Target: at most 2x the plain loop's CPU a lookup.

Runs alternate (ours, the loop, ours, the loop...) and each side's least CPU counts: the
machine is shared, and other work only ever adds CPU. Beside them, for where it goes: the
CPU of starting the CLI (``bulkfetch --help``: every command built), and the lookups a
second of each run. Both sides run from compiled bytecode, as an installed package does.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import (
    ENV,
    Emulator,
    Timed,
    bulkfetch,
    compile_sources,
    enrich,
    finish,
    table,
)
from bulkfetch.samples import write_postcode_file

TARGET = 2.0


def _plain(emulator: Emulator, source: Path, concurrency: int) -> Timed:
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.plain_loop", emulator.url, source, str(concurrency)],
        env=ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    return finish(process, started, ok=(0,))


def measure(lookups: int = 10_000, concurrency: int = 16, repeats: int = 2) -> tuple[str, bool]:
    compile_sources()
    ours: list[Timed] = []
    plain: list[Timed] = []
    for attempt in range(repeats):
        with tempfile.TemporaryDirectory() as workdir:
            folder = Path(workdir)
            with Emulator("--not-found-rate", "0") as emulator:
                ours.append(
                    enrich(emulator, folder, lookups, "--concurrency", str(concurrency), seed=1)
                )
            source = write_postcode_file(folder / "plain.csv", lookups, seed=1)
            with Emulator("--not-found-rate", "0") as emulator:
                plain.append(_plain(emulator, source, concurrency))
        del attempt
    startup = min((bulkfetch("--help") for _ in range(3)), key=lambda t: t.cpu_seconds)
    best_ours = min(ours, key=lambda t: t.cpu_seconds)
    best_plain = min(plain, key=lambda t: t.cpu_seconds)
    ratio = best_ours.cpu_seconds / best_plain.cpu_seconds

    def row(name: str, timed: Timed) -> list[str]:
        return [
            name,
            f"{timed.cpu_seconds / lookups * 1e6:,.0f}",
            f"{timed.cpu_seconds / best_plain.cpu_seconds:.2f}",
            f"{lookups / timed.seconds:,.0f}",
        ]

    rows = [
        row("plain aiohttp loop (fetch, decode), its own process", best_plain),
        row("bulkfetch enrich (store, output)", best_ours),
        [
            "(of which starting the CLI: bulkfetch --help)",
            f"{startup.cpu_seconds / lookups * 1e6:,.0f}",
            "",
            "",
        ],
    ]
    header = ["client", "CPU µs a lookup", "of the plain loop's CPU", "lookups/s"]
    every = ", ".join(f"{t.cpu_seconds:.2f}" for t in ours)
    every_plain = ", ".join(f"{t.cpu_seconds:.2f}" for t in plain)
    text = (
        f"{table(header, rows)}\n\nCPU seconds of each run: bulkfetch {every}; the loop"
        f" {every_plain}.\n\nTarget at most {TARGET}x the loop's CPU:"
        f" {'met' if ratio <= TARGET else 'missed'} ({ratio:.2f}x)."
    )
    return text, ratio <= TARGET


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lookups", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    print(measure(args.lookups, args.concurrency, args.repeats)[0])
