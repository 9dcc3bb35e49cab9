"""What any client can do against a sliding second, each call's way in its own (random in
0-100 ms): the highest share of the limit at which the emulator's own sliding window
refuses under 0.5% (and under 1%) of the calls, sent by an ideal client, exactly on time,
for 300 seconds. Spaced evenly (one call every ``1/rate``), or in groups sent at once (the
calls a limit apart are then the same place in two groups, whose sorted arrivals vary
less than one call's): groups of a size that divides the limit, up to the 16 calls the
engine keeps in flight by default, and up to the limit. No network and no engine: this
bounds what question 15's sliding cells can show, it does not measure bulkfetch.

    python -m benchmarks.sliding_bound
"""

from __future__ import annotations

import argparse
import random

from benchmarks.common import table
from bulkfetch.emulator.windows import SlidingWindow

WAY_IN = 0.1  # seconds: each call's way in is random in [0, WAY_IN]
SECONDS = 300.0
IN_FLIGHT = 16  # the engine's default concurrency


def refused(limit: int, share: float, group: int, *, seed: int = 1) -> float:
    """The share of calls a sliding second of ``limit`` refuses, sent at ``share`` of it
    in groups of ``group`` (one: spaced evenly), each arriving after its own way in."""
    rng = random.Random(seed)
    every = group / (limit * share)
    sends = int(SECONDS / every)
    sent = (k * every for k in range(sends) for _ in range(group))
    arrivals = sorted(at + rng.uniform(0.0, WAY_IN) for at in sent)
    window = SlidingWindow(limit)
    return sum(window.admit(at) is not None for at in arrivals) / len(arrivals)


def best(limit: int, group: int, under: float) -> float:
    """The highest share of ``limit`` (to a thousandth) that groups of ``group`` send at
    with under ``under`` of the calls refused."""
    low, high = 0.5, 1.0
    while high - low > 0.001:
        middle = (low + high) / 2
        low, high = (middle, high) if refused(limit, middle, group) < under else (low, middle)
    return low


def bounds(limit: int, under: float) -> list[tuple[str, float]]:
    """Spaced, the best group of at most ``IN_FLIGHT``, the best group of any size: each
    labelled, with the share of the limit it keeps to under ``under`` of 429s."""
    shares = {size: best(limit, size, under) for size in range(1, limit + 1) if limit % size == 0}
    in_flight = max((share, size) for size, share in shares.items() if size <= IN_FLIGHT)
    grouped = max((share, size) for size, share in shares.items())
    return [("spaced", shares[1])] + [
        (f"groups of {size}", share) for share, size in (in_flight, grouped)
    ]


def measure(limits: tuple[int, ...], targets: dict[str, tuple[float, float]]) -> str:
    """Beside each of ``targets`` (a label: the least share of the limit, the most 429s)."""
    rows = []
    for limit in limits:
        for label, (least, most) in targets.items():
            found = bounds(limit, most)
            met = [name for name, share in found if round(share, 3) >= least]
            rows.append([limit, label, f"at least {least}, under {most:.1%}",
                         *(f"{share:.3f} ({name})" for name, share in found),
                         met[0] if met else "none"])  # fmt: skip
    headers = ["limit/s", "target", "of the limit", "spaced", f"groups of <= {IN_FLIGHT}",
               "any groups", "first to meet it"]  # fmt: skip
    return table(headers, rows)


if __name__ == "__main__":
    from benchmarks.windows import TARGETS  # question 15's, which prints this beside it

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, nargs="+", default=[20, 100])
    print(measure(tuple(parser.parse_args().limit), TARGETS))
