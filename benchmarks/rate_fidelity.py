"""Q2, rate fidelity: the emulator counts calls per key per wall-clock second (429 beyond
the limit); bulkfetch at --rate LIMIT against aiohttp + aiolimiter.AsyncLimiter(LIMIT, 1),
30 s each. Target: at least 0.99 of the limit and no 429."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from benchmarks.common import Emulator, enrich, peer, steady, table
from bulkfetch.samples import postcodes

TARGET = 0.99


def measure(limits: tuple[int, ...] = (10, 50, 200), seconds: int = 30) -> tuple[str, bool]:
    rows, ok = [], True
    for limit in limits:
        count = limit * seconds
        with (
            tempfile.TemporaryDirectory() as workdir,
            Emulator("--rate-limit", str(limit)) as emulator,
        ):
            enrich(emulator, Path(workdir), count, "--rate", str(limit), seed=limit)
            ours = steady(emulator.ledger())
        with Emulator("--rate-limit", str(limit)) as emulator:
            peer(emulator.url, list(postcodes(count, seed=limit)), rate=limit)
            theirs = steady(emulator.ledger())
        for name, (rate, limited, billed) in (
            ("bulkfetch", ours),
            ("aiohttp + AsyncLimiter(rate, 1)", theirs),
        ):
            rows.append(
                [
                    limit,
                    name,
                    f"{rate:.2f}",
                    f"{rate / limit:.3f}",
                    limited,
                    f"{limited / max(1, billed + limited):.1%}",
                ]
            )
        ok = ok and ours[0] / limit >= TARGET and ours[1] == 0
    text = table(
        ["limit/s", "client", "successful calls/s", "of the limit", "429s", "429 share"], rows
    )
    return (
        f"{text}\n\nTarget at least {TARGET} of the limit, no 429: {'met' if ok else 'missed'}.",
        ok,
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, nargs="+", default=[10, 50, 200])
    parser.add_argument("--seconds", type=int, default=30)
    args = parser.parse_args()
    print(measure(tuple(args.limit), args.seconds)[0])
