"""Q5, scale: a generated 1,000,000-row file of distinct postcodes. Time from the start to
the first call (calls begin on the first rows while the rest are read: target under 2 s),
and again on resuming that run; peak resident memory of the run (target under 300 MB, not
growing with the file); output rows written a second (every row: those not read yet
pending). Then the store's bytes a row, once the run holds every row (the rest enqueued
after the timed part, with no call): as measured, and with every answer as ``--plan`` says
the store will grow."""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from benchmarks.common import ENV, KEY, Emulator, finish, start, table
from benchmarks.passes import store_bytes
from bulkfetch import CrystalRoof
from bulkfetch.apis.crystalroof.columns import LocationColumns
from bulkfetch.run import run_file
from bulkfetch.samples import write_postcode_file


def _wait_first_call(emulator: Emulator, timeout: float = 600) -> float:
    deadline = time.monotonic() + timeout
    while (first := emulator.ledger()["first_request_at"]) is None:
        if time.monotonic() > deadline:
            raise SystemExit("no call came")
        time.sleep(0.02)
    return float(first)


def _reset(emulator: Emulator) -> None:
    request = urllib.request.Request(
        f"{emulator.url}/_emulator/reset",
        data=b"{}",
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        json.loads(response.read())


def _run(rows: int, workdir: Path) -> dict[str, float]:
    source = write_postcode_file(workdir / "in.csv", rows, seed=5)
    # Answers are slow and paced, so the run is still in its first calls when stopped.
    with Emulator("--latency", "0.2,0.2") as emulator:
        args = (
            "enrich",
            source,
            "--column",
            "postcode",
            "--out",
            workdir / "out.csv",
            "--db",
            workdir / "s.db",
            "--base-url",
            emulator.url,
            "--rate",
            "5",
        )
        wall_start = time.time()
        began = time.monotonic()
        process = start(*args)
        first_call = _wait_first_call(emulator) - wall_start
        process.send_signal(signal.SIGINT)
        stopping = time.monotonic()
        first_run = finish(process, began, ok=(130,))
        output_seconds = time.monotonic() - stopping
        _reset(emulator)
        wall_start = time.time()
        began = time.monotonic()
        process = start(*args)
        to_first_call = _wait_first_call(emulator) - wall_start
        process.send_signal(signal.SIGINT)
        resumed = finish(process, began, ok=(130,))
        held, projected = _store_per_row(emulator, args, source, workdir / "s.db", rows)
    return {
        "first_call_s": first_call,
        "to_first_call_s": to_first_call,
        "output_rows_per_s": rows / output_seconds,
        "peak_rss_mb": max(first_run.peak_rss_mb, resumed.peak_rss_mb),
        "store_bytes_a_row": held,
        "with_answers_a_row": projected,
    }


def _store_per_row(
    emulator: Emulator, args: tuple[str | Path, ...], source: Path, db: Path, rows: int
) -> tuple[float, float]:
    """The store's bytes a row once its run holds every row (the rest enqueued now, with no
    call), and with every answer fetched as the run's ``--plan`` says (NaN: unknown)."""

    async def enqueue_rest() -> None:
        async with CrystalRoof(KEY, base_url=emulator.url) as api:
            await run_file(
                api.operation("occupation", {}), source, column=LocationColumns("postcode"),
                out=db.with_suffix(".csv"), db=db, work=False,
            )  # fmt: skip

    asyncio.run(enqueue_rest())
    held = store_bytes(db)
    planned = subprocess.run(
        [sys.executable, "-m", "bulkfetch", *map(str, args), "--plan", "--json"],
        env=ENV, capture_output=True, text=True, check=True,
    )  # fmt: skip
    more = json.loads(planned.stdout)["disk"]["bytes"]
    return held / rows, math.nan if more is None else (held + more) / rows


def measure(rows: int = 1_000_000) -> tuple[str, bool]:
    results = {}
    for size in (rows // 10, rows):
        with tempfile.TemporaryDirectory() as workdir:
            results[size] = _run(size, Path(workdir))
    table_rows = [
        [
            f"{size:,}",
            f"{r['first_call_s']:.2f} s",
            f"{r['to_first_call_s']:.2f} s",
            f"{r['output_rows_per_s']:,.0f}",
            f"{r['peak_rss_mb']:.0f} MB",
            f"{r['store_bytes_a_row']:,.0f}",
            f"{r['with_answers_a_row']:,.0f}",
        ]
        for size, r in results.items()
    ]
    big, small = results[rows], results[rows // 10]
    ok = (
        big["peak_rss_mb"] < 300
        and big["first_call_s"] < 2
        and big["to_first_call_s"] < 2
        and big["peak_rss_mb"] < 1.5 * small["peak_rss_mb"]
    )
    text = table(
        [
            "rows (all distinct)",
            "start to first call",
            "resume: start to first call",
            "output rows/s",
            "peak RSS",
            "store bytes a row (all enqueued)",
            "with every answer (--plan)",
        ],
        table_rows,
    )
    return (
        f"{text}\n\nTargets RSS under 300 MB and flat, first call under 2 s, on resume too: "
        f"{'met' if ok else 'missed'}.",
        ok,
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    print(measure(parser.parse_args().rows)[0])
