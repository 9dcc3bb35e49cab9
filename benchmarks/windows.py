"""Q15, any provider's window: the emulator counts each key's calls in a window of one kind
(the wall clock's seconds; seconds half a second off them; a sliding second; a token
bucket of a fifth of a second's calls; a minute of 60 x the limit), each call reaching the
count after a one-way latency of its own, random in 0-100 ms, and answered 20 ms later.
bulkfetch told the true limit, and told nothing, beside the peer (aiohttp +
``AsyncLimiter(1, 1 / limit)``: spaced, told the limit), at 20/s and 100/s. Whole run:
successful calls a second over the whole seconds inside it (a minute's: over its whole
minutes but the last), and the share of all its requests answered 429. Targets: told,
at least 0.97 of the limit and under 0.5%; told nothing, at least 0.95 and under 1%. With
a sliding second, what any client could do beside it (:mod:`benchmarks.sliding_bound`)."""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks import sliding_bound
from benchmarks.common import Emulator, enrich, paced_peer, table, timed_in_process
from benchmarks.unknown_limit import _whole_run
from bulkfetch.samples import postcodes

KINDS: dict[str, tuple[str, ...]] = {
    "the wall clock's seconds": ("--window", "fixed"),
    "seconds 0.5 s off": ("--window", "fixed", "--window-offset", "0.5"),
    "a sliding second": ("--window", "sliding"),
    "a token bucket": ("--window", "bucket"),
    "a minute": ("--window", "minute"),
}
TOLD, NOTHING = (0.97, 0.005), (0.95, 0.01)
TARGETS = {"told": TOLD, "told nothing": NOTHING}  # the least of the limit, the most 429s


def _minutes(ledger: dict[str, Any]) -> float:
    """Successful calls a second over the run's whole minutes, but its last."""
    by_minute: dict[int, int] = {}
    for second, count in ledger["per_second"].items():
        by_minute[int(second) // 60] = by_minute.get(int(second) // 60, 0) + count
    whole = sorted(by_minute)[:-1]
    return sum(by_minute[m] for m in whole) / (60 * max(1, len(whole)))


def _rate(kind: str, ledger: dict[str, Any]) -> tuple[float, float]:
    rate, share = _whole_run(ledger)
    return (_minutes(ledger) if kind == "a minute" else rate), share


def _lookups(kind: str, limit: int, seconds: int) -> int:
    """Enough for ``seconds`` (a minute's: two whole minutes and half one more)."""
    return limit * 150 if kind == "a minute" else limit * seconds


def _at_a_minute() -> None:
    """Wait for the next whole minute, so that a minute's window is whole from the start."""
    time.sleep(60 - time.time() % 60 + 0.2)


def measure(
    limits: tuple[int, ...] = (20, 100), kinds: tuple[str, ...] = tuple(KINDS)
) -> tuple[str, bool]:
    rows, ok = [], True
    for kind in kinds:
        for limit in limits:
            seconds = 45 if limit <= 20 else 30
            options = (
                *KINDS[kind], "--rate-limit", str(limit), "--latency", "0.02",
                "--one-way-latency", "0,0.1", "--not-found-rate", "0",
            )  # fmt: skip
            count = _lookups(kind, limit, seconds)
            told = ["--rate", str(limit)]
            if kind == "a minute":
                told = ["--limit", f"{60 * limit}/minute"]
            for label, extra, (least, most) in (
                ("bulkfetch, told", told, TOLD),
                ("bulkfetch, told nothing", [], NOTHING),
            ):
                if kind == "a minute":
                    _at_a_minute()
                with tempfile.TemporaryDirectory() as workdir, Emulator(*options) as emulator:
                    enrich(emulator, Path(workdir), count, *extra, seed=limit)
                    rate, share = _rate(kind, emulator.ledger())
                met = rate / limit >= least and share < most
                ok = ok and met
                rows.append([kind, limit, label, f"{rate / limit:.3f}", f"{share:.2%}",
                             "met" if met else "missed"])  # fmt: skip
            if kind == "a minute":
                _at_a_minute()
            with Emulator(*options) as emulator:
                codes = list(postcodes(count, seed=limit))
                run = paced_peer(emulator.url, codes, limit, 16, spaced=True)
                timed_in_process(lambda run=run: run)  # type: ignore[misc]
                rate, share = _rate(kind, emulator.ledger())
            rows.append([kind, limit, "aiohttp + AsyncLimiter(1, 1/limit)",
                         f"{rate / limit:.3f}", f"{share:.2%}", ""])  # fmt: skip
    text = table(["window", "limit/s", "client", "of the limit", "429 share", "target"], rows)
    text += f"\n\nEvery target: {'met' if ok else 'missed'}."
    if "a sliding second" in kinds:
        bound = sliding_bound.measure(limits, TARGETS)
        text += f"\n\nThe most any client keeps to against a sliding second:\n\n{bound}"
    return text, ok


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, nargs="+", default=[20, 100])
    parser.add_argument("--kind", choices=list(KINDS), nargs="+", default=list(KINDS))
    args = parser.parse_args()
    print(measure(tuple(args.limit), tuple(args.kind))[0])
