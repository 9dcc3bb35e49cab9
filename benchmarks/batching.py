"""Q6, labor-market batching: requests for 1,000 SOC codes (10% repeats) against
ceil(distinct / 25), and the extra requests bisection spends for k unknown codes."""

from __future__ import annotations

import math
import random
import tempfile
from pathlib import Path

from benchmarks.common import Emulator, bulkfetch, table

GROUPS = ("11", "13", "15", "17", "25", "29", "41", "43", "47", "49", "51", "53")
BY_SOC = "/v1/labor-market-intelligence/by-soc"


def _codes(count: int, bad: int, seed: int) -> tuple[list[str], int]:
    rng = random.Random(seed)
    distinct: list[str] = []
    cells: list[str] = []
    while len(cells) < count:
        if distinct and rng.random() < 0.1:
            cells.append(rng.choice(distinct))
            continue
        code = f"{rng.choice(GROUPS)}-{rng.randint(1000, 9199)}"
        if code not in distinct:
            distinct.append(code)
            cells.append(code)
    for i in range(bad):
        cells.insert(rng.randrange(len(cells)), f"99-{1000 + i}")
    return cells, len(distinct) + bad


def measure() -> tuple[str, bool]:
    rows, ok = [], True
    for bad in (0, 1, 3, 5):
        cells, distinct = _codes(1000, bad, seed=6)
        with tempfile.TemporaryDirectory() as workdir, Emulator() as emulator:
            source = Path(workdir) / "soc.csv"
            source.write_text("soc\n" + "\n".join(cells) + "\n")
            bulkfetch(
                "labor-market",
                source,
                "--by",
                "soc",
                "--column",
                "soc",
                "--out",
                Path(workdir) / "o.csv",
                "--db",
                Path(workdir) / "s.db",
                "--base-url",
                emulator.url,
            )
            requests = emulator.ledger()["by_path"][BY_SOC]
        floor = math.ceil(distinct / 25)
        rows.append([len(cells), distinct, bad, requests, floor, requests - floor])
        ok = ok and (requests == floor if bad == 0 else requests - floor <= bad * 2 * 5)
    text = table(
        ["codes", "distinct", "unknown", "requests", "ceil(distinct/25)", "extra (bisection)"], rows
    )
    return (
        f"{text}\n\nTargets ceil(distinct/25), at most 10 extra a bad code: "
        f"{'met' if ok else 'missed'}.",
        ok,
    )


if __name__ == "__main__":
    print(measure()[0])
