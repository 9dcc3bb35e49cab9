"""Q14, the report of a big run: ``bulkfetch report`` for a run of 1,000,000 lookups at 20 a
second (50,000 seconds of calls, a 429 every few hundred), the page written, then opened in
headless Chromium beside a page of nothing (the peer: the browser's own start), each the best
of three, interleaved. Target: the report's page opens in under a second more than the empty
one. The store is built directly (the run's row and its seconds; not timed)."""

from __future__ import annotations

import argparse
import asyncio
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from benchmarks.common import table
from bulkfetch.store import RunSpec, Second, Store

LOOKUPS = 1_000_000
PER_SECOND = 20


async def build(db: Path, lookups: int) -> int:
    """A store holding one run whose calls took ``lookups / PER_SECOND`` seconds."""
    async with await Store.open(db) as store:
        run = await store.runs.begin(RunSpec("big", "crystalroof", "occupation", "a big run"), 1.0)
        start = 1_700_000_000
        seconds = {
            start + i: Second(calls=PER_SECOND, answered=PER_SECOND, latency=0.6,
                              rate_limited=int(i % 311 == 0), pace=float(PER_SECOND))
            for i in range(lookups // PER_SECOND)
        }  # fmt: skip
        await store.tallies.add(run.id, seconds)
        return run.id


def _opened(browser: str, page: Path) -> float:
    """Seconds headless Chromium takes to load and lay out ``page`` and give its DOM."""
    began = time.perf_counter()
    subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", page.as_uri()],
        capture_output=True, check=True, timeout=120,
    )  # fmt: skip
    return time.perf_counter() - began


def measure(lookups: int = LOOKUPS) -> tuple[str, bool]:
    browser = shutil.which("chromium")
    if browser is None:
        return "Q14 needs Debian's chromium (apt-get install chromium): not measured", False
    with tempfile.TemporaryDirectory() as workdir:
        folder = Path(workdir)
        db, page, empty = folder / "s.db", folder / "report.html", folder / "empty.html"
        run_id = asyncio.run(build(db, lookups))
        empty.write_text("<!doctype html><title>empty</title>")
        began = time.perf_counter()
        subprocess.run(
            ["bulkfetch", "report", "--db", str(db), "--run", str(run_id), "--out", str(page)],
            capture_output=True, check=True, timeout=300,
        )  # fmt: skip
        written = time.perf_counter() - began
        best = {"report": float("inf"), "empty": float("inf")}
        for _ in range(3):
            best["empty"] = min(best["empty"], _opened(browser, empty))
            best["report"] = min(best["report"], _opened(browser, page))
        size = page.stat().st_size
    more = best["report"] - best["empty"]
    rows = [
        ["an empty page", f"{best['empty']:.2f} s", "-"],
        [f"the report ({size / 1024:.0f} KB)", f"{best['report']:.2f} s", f"{more:+.2f} s"],
    ]
    ok = more < 1.0
    text = table(["opened in headless Chromium", "load, layout, DOM", "beyond the empty"], rows)
    return (
        f"{lookups:,} lookups, {lookups // PER_SECOND:,} seconds of calls; `bulkfetch report`"
        f" wrote the page in {written:.2f} s.\n\n{text}\n\n"
        f"Target under a second beyond the empty page: {'met' if ok else 'missed'}."
    ), ok


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lookups", type=int, default=LOOKUPS)
    print(measure(parser.parse_args().lookups)[0])
