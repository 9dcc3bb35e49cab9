"""Q1, engine overhead: lookups a second of `bulkfetch enrich` (durable store, output
written) against a plain aiohttp loop that fetches and discards, same emulator (no limit),
same concurrency, 20,000 distinct lookups. Target: at least 0.8 of the plain loop."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from benchmarks.common import Emulator, enrich, peer, table
from bulkfetch.samples import postcodes

TARGET = 0.8


def measure(lookups: int = 20_000, concurrency: int = 16) -> tuple[str, bool]:
    with tempfile.TemporaryDirectory() as workdir, Emulator("--not-found-rate", "0") as emulator:
        ours = enrich(emulator, Path(workdir), lookups, "--concurrency", str(concurrency), seed=1)
    with Emulator("--not-found-rate", "0") as emulator:
        plain = peer(emulator.url, list(postcodes(lookups, seed=1)), concurrency=concurrency)
    ratio = plain / ours.seconds
    rows = [
        ["plain aiohttp loop (fetch, discard)", f"{lookups / plain:,.0f}", "1.00"],
        ["bulkfetch enrich (store, output)", f"{lookups / ours.seconds:,.0f}", f"{ratio:.2f}"],
    ]
    text = table(["client", "lookups/s", "of the plain loop"], rows)
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
