"""Q8, a fleet with no rate told: four ``bulkfetch work`` processes on one PostgreSQL store,
the emulator limited to 40 calls a second, 4,000 lookups, counted in the wall clock's
seconds and then in a sliding second. Target, over the whole run: 429s under 2% of
requests, at least 0.9 of 40/s together (the sliding second: 0.93). The peer, four aiohttp
+ AsyncLimiter(10, 1) processes (the limit split by hand, which needs it known), beside it.

The server comes from ``BULKFETCH_TEST_POSTGRES_URL`` (default: trust auth on 127.0.0.1);
the benchmark makes a database of its own there and drops it after."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.postgres import scratch_database

from benchmarks.common import Emulator, bulkfetch, finish, start, table
from benchmarks.unknown_limit import _whole_run
from bulkfetch.samples import postcodes, write_postcode_file

LIMIT = 40
WORKERS = 4
SERVER = os.environ.get("BULKFETCH_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def _fleet(emulator: Emulator, workdir: Path, rows: int) -> None:
    source = write_postcode_file(workdir / "in.csv", rows, seed=8)
    with scratch_database(SERVER, "bulkfetch_bench") as url:
        bulkfetch(
            "enrich", source, "--column", "postcode", "--out", workdir / "out.csv",
            "--db", url, "--base-url", emulator.url, "--no-work",
        )  # fmt: skip
        began = time.monotonic()
        workers = [start("work", "--db", url, "--concurrency", "8") for _ in range(WORKERS)]
        for worker in workers:
            finish(worker, began, ok=(0,))


def _peer_fleet(emulator: Emulator, rows: int) -> None:
    """Four processes, each a quarter of the lookups at a quarter of the limit."""
    codes = list(postcodes(rows, seed=8))
    script = (
        "import asyncio, json, sys\n"
        "from benchmarks.common import paced_peer\n"
        "url, rate, codes = json.loads(sys.stdin.read())\n"
        "asyncio.run(paced_peer(url, codes, rate, 8))\n"
    )
    peers = [
        subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE, text=True)
        for _ in range(WORKERS)
    ]
    for i, process in enumerate(peers):
        assert process.stdin is not None
        process.stdin.write(json.dumps([emulator.url, LIMIT / WORKERS, codes[i::WORKERS]]))
        process.stdin.close()
    for process in peers:
        if process.wait() != 0:
            raise SystemExit("a peer process failed")


def measure(rows: int = 4_000) -> tuple[str, bool]:
    out, ok = [], True
    for window, least in (("fixed", 0.9), ("sliding", 0.93)):
        options = ("--rate-limit", str(LIMIT), "--window", window)
        with tempfile.TemporaryDirectory() as workdir, Emulator(*options) as emu:
            _fleet(emu, Path(workdir), rows)
            success, share = _whole_run(emu.ledger())
        met = share < 0.02 and success / LIMIT >= least
        ok = ok and met
        verdict = "met" if met else "missed"
        out.append([window, f"{WORKERS} x bulkfetch work, no rate", f"{success:.1f}",
                    f"{success / LIMIT:.3f}", f"{share:.2%}", verdict])  # fmt: skip
        with Emulator(*options) as emu:
            _peer_fleet(emu, rows)
            success, share = _whole_run(emu.ledger())
        out.append([window, f"{WORKERS} x aiohttp + AsyncLimiter({LIMIT // WORKERS}, 1)",
                    f"{success:.1f}", f"{success / LIMIT:.3f}", f"{share:.2%}", ""])  # fmt: skip
    header = ["window", "client", "successful calls/s", f"of {LIMIT}/s", "429 share", "target"]
    verdict = "met" if ok else "missed"
    return (
        f"{table(header, out)}\n\nTargets 429s under 2% and at least 0.9 of the limit together"
        f" (a sliding second: 0.93), over the whole run: {verdict}.",
        ok,
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=4_000)
    print(measure(parser.parse_args().rows)[0])
