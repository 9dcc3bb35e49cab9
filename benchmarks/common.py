"""What every benchmark shares: the emulator in a subprocess, bulkfetch as a user runs it,
and the peers it is compared with. Each figure is a ratio measured in one run, because
these machines are shared and noisy."""

from __future__ import annotations

import asyncio
import compileall
import json
import os
import platform
import resource
import subprocess
import sys
import time
import urllib.request
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from aiolimiter import AsyncLimiter

from bulkfetch.apis.crystalroof.locations import parse_location
from bulkfetch.samples import write_postcode_file

KEY = "bench-key"
OCCUPATION = "/customer-api/work-and-travel/occupation/postcode/v1/"


def machine() -> str:
    return (
        f"{os.cpu_count()} cores, Python {platform.python_version()}, {time.strftime('%Y-%m-%d')}"
    )


class Emulator:
    """``bulkfetch emulate`` on a free loopback port."""

    def __init__(self, *options: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bulkfetch", "emulate", "--port", "0", *options],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        self.url = self.process.stdout.readline().split()[-1]

    def ledger(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.url}/_emulator/ledger", timeout=30) as response:
            return json.loads(response.read())  # type: ignore[no-any-return]

    def cpu_seconds(self) -> float:
        """CPU (user + system) the emulator process has used so far."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def __enter__(self) -> Emulator:
        return self

    def __exit__(self, *_: object) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)
        if self.process.stdout is not None:
            self.process.stdout.close()


@dataclass(frozen=True)
class Timed:
    seconds: float
    peak_rss_mb: float
    stderr: str
    cpu_seconds: float = 0.0  # user + system, the process's own


# The processes measured run as an installed package does: from compiled bytecode (a
# shell's PYTHONDONTWRITEBYTECODE would have every start compile each module again).
ENV = {
    **{k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"},
    "CRYSTALROOF_API_KEY": KEY,
    "LMI_PLATFORM_KEY": "pk_test_bench",
}


def compile_sources() -> None:
    """Compile bulkfetch's modules and the benchmarks' to bytecode, as an install does."""
    import bulkfetch

    for folder in (Path(bulkfetch.__file__).parent, Path(__file__).parent):
        compileall.compile_dir(folder, quiet=1)


def start(*args: str | Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "bulkfetch", *map(str, args)],
        env=ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process: subprocess.Popen[str], started: float, ok: tuple[int, ...] = (0, 1)) -> Timed:
    """Wait for a CLI process; its wall time and its own peak resident memory."""
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.monotonic() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    stderr = process.stderr.read() if process.stderr else ""
    if process.returncode not in ok:
        raise SystemExit(f"bulkfetch exited {process.returncode}: {stderr[-2000:]}")
    return Timed(elapsed, usage.ru_maxrss / 1024, stderr, usage.ru_utime + usage.ru_stime)


def bulkfetch(*args: str | Path) -> Timed:
    """Run the CLI to the end."""
    started = time.monotonic()
    return finish(start(*args), started)


def enrich(emulator: Emulator, workdir: Path, rows: int, *extra: str, seed: int) -> Timed:
    """``bulkfetch enrich`` of a generated file of ``rows`` distinct postcodes."""
    source = write_postcode_file(workdir / "in.csv", rows, seed=seed)
    return bulkfetch(
        "enrich", source, "--column", "postcode", "--out", workdir / "out.csv",
        "--db", workdir / "s.db", "--base-url", emulator.url, *extra,
    )  # fmt: skip


def steady(ledger: dict[str, Any], *, skip_seconds: int = 0) -> tuple[float, int, int]:
    """Mean billed calls a second over the whole seconds strictly inside the run (after
    ``skip_seconds``), and the 429s and billed calls in that window."""
    per_second = {int(k): v for k, v in ledger["per_second"].items()}
    limited = {int(k): v for k, v in ledger["rate_limited_per_second"].items()}
    first = min(per_second) + 1 + skip_seconds
    window = range(first, max(per_second))
    billed = sum(per_second.get(s, 0) for s in window)
    return billed / max(1, len(window)), sum(limited.get(s, 0) for s in window), billed


async def paced_peer(
    url: str, codes: Sequence[str], rate: float | None, concurrency: int, *, spaced: bool = False
) -> None:
    """The loop a user would write: aiohttp, and aiolimiter.AsyncLimiter(rate, 1) if a rate
    (``spaced``: AsyncLimiter(1, 1 / rate), a call every 1 / rate seconds)."""
    limiter = None
    if rate:
        limiter = AsyncLimiter(1, 1 / rate) if spaced else AsyncLimiter(rate, 1)
    queue = [parse_location(code).path_segment for code in codes]
    queue.reverse()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:

        async def worker() -> None:
            while queue:
                segment = queue.pop()
                if limiter is not None:
                    await limiter.acquire()
                params = {"api_key": KEY, "area_type": "oa"}
                async with session.get(url + OCCUPATION + segment, params=params) as response:
                    await response.read()

        await asyncio.gather(*(worker() for _ in range(concurrency)))


def peer(
    url: str, codes: Sequence[str], *, rate: float | None = None, concurrency: int = 16
) -> float:
    """Run the peer loop; its wall time."""
    return timed_in_process(lambda: paced_peer(url, codes, rate, concurrency)).seconds


def timed_in_process(work: Callable[[], Awaitable[object]]) -> Timed:
    """Run ``work()`` in a fresh event loop here; its wall time and the CPU it took."""
    before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.monotonic()
    asyncio.run(work())  # type: ignore[arg-type]
    elapsed = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Timed(elapsed, after.ru_maxrss / 1024, "", cpu)


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)
