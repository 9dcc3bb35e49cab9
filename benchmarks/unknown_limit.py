"""Q3, unknown limit: the emulator allows 50 calls a second; bulkfetch is told 75 (50% too
high) or nothing. After the first 10 s: 429s under 2% of calls and at least 0.9 of the true
limit. The peer, aiohttp + AsyncLimiter(75, 1), for comparison."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from benchmarks.common import Emulator, enrich, peer, steady, table
from bulkfetch.samples import postcodes

LIMIT = 50


def measure(seconds: int = 40) -> tuple[str, bool]:
    count = LIMIT * seconds
    rows, ok = [], True
    for label, rate in (("bulkfetch --rate 75", ["--rate", "75"]), ("bulkfetch, no --rate", [])):
        with (
            tempfile.TemporaryDirectory() as workdir,
            Emulator("--rate-limit", str(LIMIT)) as emulator,
        ):
            enrich(emulator, Path(workdir), count, *rate, seed=3)
            success, limited, billed = steady(emulator.ledger(), skip_seconds=10)
        share = limited / max(1, billed + limited)
        rows.append([label, f"{success:.1f}", f"{success / LIMIT:.3f}", f"{share:.1%}"])
        ok = ok and share < 0.02 and success / LIMIT >= 0.9
    with Emulator("--rate-limit", str(LIMIT)) as emulator:
        peer(emulator.url, list(postcodes(count, seed=3)), rate=75)
        success, limited, billed = steady(emulator.ledger(), skip_seconds=10)
    rows.append(
        [
            "aiohttp + AsyncLimiter(75, 1)",
            f"{success:.1f}",
            f"{success / LIMIT:.3f}",
            f"{limited / max(1, billed + limited):.1%}",
        ]
    )
    text = table(
        ["client (true limit 50/s)", "successful calls/s after 10 s", "of the limit", "429 share"],
        rows,
    )
    return (
        f"{text}\n\nTarget 429s under 2% and at least 0.9 of the limit: "
        f"{'met' if ok else 'missed'}.",
        ok,
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=40)
    print(measure(parser.parse_args().seconds)[0])
