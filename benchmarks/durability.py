"""Durability: what syncing the store's log at every commit costs a bulk run.

The SQLite store runs WAL with ``synchronous=FULL``: each commit waits for one
``fdatasync`` of the log, so that a commit the run has counted outlives a power cut. With
``NORMAL`` the log is synced at checkpoints only, and a power cut can take the last commits
back: their answers are then fetched and billed again, uncounted. This runs the same
``bulkfetch enrich`` (``lookups`` distinct lookups, no rate limit, the emulator on its own
process, a new store each time, on this machine's disk) once a setting in turn, ``repeats``
times each, alternating, because the machine is noisy; each run is a child process that
sets ``bulkfetch.store.connector.SYNCHRONOUS`` and runs the CLI. Beside the rates: the
client's CPU, the engine's group commits (one for every outcome that landed meanwhile) and
how long each took, and, under strace in one more run of each, the syncs it made. Then
one run of each at ``--rate 200``, as a user would meet an API's limit.
Targets: at an API's pace (``--rate 200``) FULL keeps at least 0.95 of NORMAL's lookups a
second; with no rate limit at all, where the disk is what waits, at least 0.7 (medians).
"""

from __future__ import annotations

import argparse
import atexit
import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.common import ENV, Emulator, Timed, finish, table
from bulkfetch.cli.app import main as cli
from bulkfetch.samples import write_postcode_file
from bulkfetch.store import connector
from bulkfetch.store.queue import Queue

TARGET = 0.7  # with no rate limit
PACED_TARGET = 0.95  # at --rate 200
SETTINGS = ("FULL", "NORMAL")
_COUNTS = "durability-counts:"  # the line a child ends its standard error with


def _child(synchronous: str, argv: list[str]) -> None:
    """In this process: the CLI on ``synchronous``, counting its store's transactions and
    the engine's writer commits (``Queue.apply``) and the time those take."""
    connector.SYNCHRONOUS = synchronous
    counts: dict[str, float] = {"transactions": 0, "commits": 0, "outcomes": 0, "seconds": 0.0}
    inline = connector._InlineSqlite
    run, apply = inline.run, Queue.apply

    async def counted_run(self: Any, work: Any) -> Any:
        counts["transactions"] += 1
        return await run(self, work)

    async def counted_apply(self: Queue, run_id: int, outcomes: Any, **options: Any) -> None:
        started = time.perf_counter()
        await apply(self, run_id, outcomes, **options)
        counts["seconds"] += time.perf_counter() - started
        counts["commits"] += 1
        counts["outcomes"] += len(outcomes)

    inline.run = counted_run  # type: ignore[method-assign]
    Queue.apply = counted_apply  # type: ignore[method-assign]
    atexit.register(lambda: print(_COUNTS, json.dumps(counts), file=sys.stderr, flush=True))
    cli(argv)


@dataclass
class _Setting:
    """What the runs on one setting measured."""

    timed: list[Timed] = field(default_factory=list)
    counts: list[dict[str, float]] = field(default_factory=list)
    syncs: tuple[int, float] | None = None  # syncs and writer commits, traced

    def rate(self, lookups: int) -> float:
        return statistics.median(lookups / t.seconds for t in self.timed)

    def cpu(self) -> float:
        return statistics.median(t.cpu_seconds for t in self.timed)


def _command(
    synchronous: str, emulator: Emulator, source: Path, workdir: Path, *extra: str
) -> list[str]:
    return [
        sys.executable, "-m", "benchmarks.durability", "--child", synchronous, "--",
        "enrich", str(source), "--column", "postcode", "--out", str(workdir / "out.csv"),
        "--db", str(workdir / "s.db"), "--base-url", emulator.url, "--concurrency", "16",
        *extra,
    ]  # fmt: skip


def _run(command: Sequence[str]) -> tuple[Timed, dict[str, float]]:
    started = time.monotonic()
    process = subprocess.Popen(
        command, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    timed = finish(process, started)
    return timed, _counts(timed.stderr)


def _counts(stderr: str) -> dict[str, float]:
    for line in reversed(stderr.splitlines()):
        if line.startswith(_COUNTS):
            return dict(json.loads(line.removeprefix(_COUNTS)))
    raise SystemExit(f"the run counted nothing: {stderr[-2000:]}")


def _syncs(command: Sequence[str], workdir: Path) -> tuple[int, float] | None:
    """fsync and fdatasync calls of one run, counted by strace, and its writer commits
    (None without strace)."""
    if shutil.which("strace") is None:
        return None
    summary = workdir / "strace.txt"
    traced = [
        "strace", "-f", "-c", "--seccomp-bpf", "-e", "trace=fsync,fdatasync",
        "-o", str(summary), *command,
    ]  # fmt: skip
    done = subprocess.run(traced, env=ENV, capture_output=True, text=True, check=False)
    if done.returncode not in (0, 1):
        return None
    found = re.findall(
        r"^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?f(?:data)?sync$",
        summary.read_text(),
        flags=re.MULTILINE,
    )
    return sum(int(calls) for calls in found), _counts(done.stderr)["commits"]


def _filesystem(path: Path) -> str:
    """The type of the filesystem ``path`` is on (from /proc/mounts; "?" if unknown)."""
    try:
        mounts = [line.split()[1:3] for line in Path("/proc/mounts").read_text().splitlines()]
    except OSError:
        return "?"
    under = [(point, kind) for point, kind in mounts if path.is_relative_to(point)]
    return max(under, key=lambda found: len(found[0]))[1] if under else "?"


def _scratch_folder() -> Path | None:
    """Where the stores go: the temporary folder, unless it is in memory, where a sync
    costs nothing (then beside this file, on the project's disk)."""
    default = Path(tempfile.gettempdir()).resolve()
    return None if _filesystem(default) not in {"tmpfs", "ramfs"} else Path(__file__).parent


def _runs(
    found: dict[str, _Setting], root: Path, command: Callable[[str, Path], list[str]], repeats: int
) -> None:
    """``repeats`` runs of each setting, alternating which goes first, each on a new store."""
    for turn in range(repeats):
        for name in SETTINGS if turn % 2 == 0 else SETTINGS[::-1]:
            workdir = Path(tempfile.mkdtemp(dir=root))
            timed, counts = _run(command(name, workdir))
            found[name].timed.append(timed)
            found[name].counts.append(counts)


def _row(name: str, setting: _Setting, lookups: int) -> list[str]:
    def median(key: str) -> float:
        return statistics.median(c[key] for c in setting.counts)

    return [
        f"`synchronous={name}`",
        f"{setting.rate(lookups):,.0f}",
        " / ".join(f"{lookups / t.seconds:,.0f}" for t in setting.timed),
        f"{setting.cpu():.2f}",
        f"{median('transactions'):,.0f}",
        f"{median('commits'):,.0f}",
        f"{median('outcomes') / median('commits'):.1f}",
        f"{median('seconds') / median('commits') * 1e3:.2f}",
        "not counted"
        if setting.syncs is None
        else f"{setting.syncs[0]:,} for {setting.syncs[1]:,.0f} writer commits",
    ]


def measure(
    lookups: int = 10_000, repeats: int = 3, rated: int = 200, rated_lookups: int = 2_000
) -> tuple[str, bool]:
    found = {name: _Setting() for name in SETTINGS}
    at_rate = {name: _Setting() for name in SETTINGS}
    with (
        tempfile.TemporaryDirectory(dir=_scratch_folder()) as scratch,
        Emulator("--not-found-rate", "0") as emulator,
    ):
        root = Path(scratch)
        filesystem = _filesystem(root.resolve())
        source = write_postcode_file(root / "in.csv", lookups, seed=9)
        _runs(found, root, lambda name, at: _command(name, emulator, source, at), repeats)
        for name in SETTINGS:
            traced = Path(tempfile.mkdtemp(dir=root))
            found[name].syncs = _syncs(_command(name, emulator, source, traced), traced)
        # What a user meets: an API's limit, which leaves the engine idle most of the time.
        paced = write_postcode_file(root / "paced.csv", rated_lookups, seed=10)
        _runs(
            at_rate,
            root,
            lambda name, at: _command(name, emulator, paced, at, "--rate", str(rated)),
            1,
        )

    header = [
        "store", "lookups/s (median)", "each run", "client CPU s (median)",
        "store transactions", "writer commits", "outcomes a commit", "ms a writer commit",
        "fsync + fdatasync (a run under strace)",
    ]  # fmt: skip
    rows = [_row(name, setting, lookups) for name, setting in found.items()]
    full, normal = found["FULL"], found["NORMAL"]
    ratio = full.rate(lookups) / normal.rate(lookups)
    paced_ratio = at_rate["FULL"].rate(rated_lookups) / at_rate["NORMAL"].rate(rated_lookups)
    ok = ratio >= TARGET and paced_ratio >= PACED_TARGET
    text = (
        f"{table(header, rows)}\n\n{lookups:,} lookups a run, {repeats} runs a setting, "
        f"alternating (medians); concurrency 16, no rate limit; the stores on {filesystem}. "
        f"FULL / NORMAL: {ratio:.2f} of the lookups a second, "
        f"{full.cpu() / normal.cpu():.2f} of the client CPU. At `--rate {rated}` "
        f"({rated_lookups:,} lookups, one run each, start-up included): FULL "
        f"{at_rate['FULL'].rate(rated_lookups):,.0f}/s, NORMAL "
        f"{at_rate['NORMAL'].rate(rated_lookups):,.0f}/s, {paced_ratio:.2f}. "
        f"Targets at least {PACED_TARGET} at the rate and {TARGET} with no limit: "
        f"{'met' if ok else 'missed'}."
    )
    return text, ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lookups", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--child", choices=SETTINGS)
    parser.add_argument("argv", nargs="*", help="with --child: the CLI's arguments")
    args = parser.parse_args()
    if args.child:
        _child(args.child, args.argv)
        return
    print(measure(args.lookups, args.repeats)[0])


if __name__ == "__main__":
    main()
