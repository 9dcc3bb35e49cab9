"""Rate fidelity: successful calls a second at a provider's per-second limit, and 429s.

The emulator counts calls per key per wall-clock second and answers 429 beyond the limit.
bulkfetch runs at ``--rate LIMIT``; beside it, on its own emulator, the peer a user would
write: aiohttp with ``aiolimiter.AsyncLimiter(LIMIT, 1)``. Both get the same postcodes.
The figure is successful calls a second over the limit, in the whole seconds between the
first and the last call. Exits 1 when bulkfetch misses the target.

    python benchmarks/rate_fidelity.py --limit 20 --seconds 30
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import aiohttp
from aiolimiter import AsyncLimiter

from bulkfetch.locations import parse_location
from bulkfetch.samples import postcodes, write_postcode_file

KEY = "bench-key"


class Emulator:
    def __init__(self, *options: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bulkfetch", "emulate", "--port", "0", *options],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        self.url = self.process.stdout.readline().split()[-1]

    def ledger(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.url}/_emulator/ledger", timeout=10) as response:
            return json.loads(response.read())  # type: ignore[no-any-return]

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)
        if self.process.stdout is not None:
            self.process.stdout.close()


def steady_rate(ledger: dict[str, Any]) -> float:
    """Mean billed calls a second over the whole seconds strictly inside the run."""
    per_second = {int(k): v for k, v in ledger["per_second"].items()}
    inner = range(min(per_second) + 1, max(per_second))
    return sum(per_second.get(s, 0) for s in inner) / max(1, len(inner))


def run_bulkfetch(limit: int, rows: int, workdir: Path) -> dict[str, Any]:
    emulator = Emulator("--rate-limit", str(limit), "--keys", KEY)
    try:
        source = write_postcode_file(workdir / "in.csv", rows, seed=limit)
        started = time.monotonic()
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "bulkfetch",
                "enrich",
                str(source),
                "--column",
                "postcode",
                "--out",
                str(workdir / "out.csv"),
                "--db",
                str(workdir / "bench.db"),
                "--base-url",
                emulator.url,
                "--rate",
                str(limit),
            ],
            env={**os.environ, "CRYSTALROOF_API_KEY": KEY},
            capture_output=True,
            text=True,
            check=False,
        )
        elapsed = time.monotonic() - started
        if done.returncode != 0:
            raise SystemExit(f"bulkfetch failed: {done.stderr}")
        return {"ledger": emulator.ledger(), "elapsed": elapsed}
    finally:
        emulator.close()


async def _peer(url: str, limit: int, rows: int) -> None:
    limiter = AsyncLimiter(limit, 1)
    queue = [parse_location(code).path_segment for code in postcodes(rows, seed=limit)]
    path = "/customer-api/work-and-travel/occupation/postcode/v1/"
    async with aiohttp.ClientSession() as session:

        async def worker() -> None:
            while queue:
                segment = queue.pop(0)
                async with limiter:
                    params = {"api_key": KEY, "area_type": "oa"}
                    async with session.get(url + path + segment, params=params) as response:
                        await response.read()

        await asyncio.gather(*(worker() for _ in range(16)))


def run_peer(limit: int, rows: int) -> dict[str, Any]:
    emulator = Emulator("--rate-limit", str(limit), "--keys", KEY)
    try:
        started = time.monotonic()
        asyncio.run(_peer(emulator.url, limit, rows))
        return {"ledger": emulator.ledger(), "elapsed": time.monotonic() - started}
    finally:
        emulator.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, nargs="+", default=[20])
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--target", type=float, default=0.95)
    args = parser.parse_args()

    machine = f"{os.cpu_count()} cores, Python {platform.python_version()}"
    print(f"machine: {machine}, {time.strftime('%Y-%m-%d')}")
    print()
    print("| limit/s | client | successful calls/s | of the limit | 429s | wall time |")
    print("| ---: | --- | ---: | ---: | ---: | ---: |")
    missed = False
    for limit in args.limit:
        rows = limit * args.seconds
        with tempfile.TemporaryDirectory() as workdir:
            ours = run_bulkfetch(limit, rows, Path(workdir))
        peer = run_peer(limit, rows)
        for name, result in (("bulkfetch", ours), ("aiohttp + AsyncLimiter(rate, 1)", peer)):
            rate = steady_rate(result["ledger"])
            limited = result["ledger"]["by_status"].get("429", 0)
            print(
                f"| {limit} | {name} | {rate:.2f} | {rate / limit:.3f} | {limited} |"
                f" {result['elapsed']:.1f} s |"
            )
        ours_rate = steady_rate(ours["ledger"]) / limit
        if ours_rate < args.target or ours["ledger"]["by_status"].get("429", 0):
            missed = True
    if missed:
        print(f"\nbulkfetch missed the target: at least {args.target} of the limit and no 429")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
