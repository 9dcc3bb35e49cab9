"""Q4, latency: every answer takes 50-300 ms; the limit is 50/s and bulkfetch runs at
--rate 50 with its default concurrency. Target: at least 0.95 of the limit, no 429."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from benchmarks.common import Emulator, enrich, steady, table

LIMIT = 50


def measure(seconds: int = 30) -> tuple[str, bool]:
    with (
        tempfile.TemporaryDirectory() as workdir,
        Emulator("--rate-limit", str(LIMIT), "--latency", "0.05,0.3") as emulator,
    ):
        enrich(emulator, Path(workdir), LIMIT * seconds, "--rate", str(LIMIT), seed=4)
        success, limited, _ = steady(emulator.ledger())
    ok = success / LIMIT >= 0.95 and limited == 0
    text = table(
        ["latency", "successful calls/s", "of the limit", "429s"],
        [["50-300 ms", f"{success:.1f}", f"{success / LIMIT:.3f}", limited]],
    )
    return f"{text}\n\nTarget at least 0.95 of the limit, no 429: {'met' if ok else 'missed'}.", ok


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=30)
    print(measure(parser.parse_args().seconds)[0])
