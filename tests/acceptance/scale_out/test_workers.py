"""Workers on one PostgreSQL store, end to end: real processes, the real emulator.

Four ``bulkfetch work`` processes on one run keep together to the key's limit with no 429
and no lookup billed twice, and their output is the single-process output; one killed with
-9 leaves its leased jobs to the others; a 402 one of them meets stops them all.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bulkfetch.samples import write_postcode_file
from tests.acceptance.reliability.helpers import (
    assert_clean_exit,
    enrich_command,
    reference,
    rows_but_lookup,
    run,
)
from tests.conftest import Emulator, StartEmulator, bulkfetch_command, cli_env
from tests.waiting import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

LIMIT = 40  # calls a second the emulator allows a key
ROWS = 600


def enqueue(emulator: Emulator, source: Path, db: str) -> None:
    done = run(enrich_command(emulator, source, source.with_suffix(".out.csv"), db, "--no-work"))
    assert done.returncode == 0, done.stderr
    assert "rows enqueued" in done.stderr


StartWorkers = Callable[..., list[subprocess.Popen[str]]]


@pytest.fixture
def start_workers(postgres_url: str, tmp_path: Path) -> Iterator[StartWorkers]:
    """Start ``bulkfetch work`` processes on the test's database, their stderr in files
    under ``logs``; any still running at the end (a failed test) are killed before the
    database is dropped."""
    started: list[subprocess.Popen[str]] = []
    with contextlib.ExitStack() as files:

        def start(count: int, logs: str, *extra: str) -> list[subprocess.Popen[str]]:
            (tmp_path / logs).mkdir(exist_ok=True)
            workers = [
                subprocess.Popen(
                    bulkfetch_command(
                        "work",
                        "--db",
                        postgres_url,
                        "--rate",
                        str(LIMIT),
                        "--concurrency",
                        "8",
                        *extra,
                    ),
                    env=cli_env(),
                    stdout=subprocess.DEVNULL,
                    stderr=files.enter_context((tmp_path / logs / f"worker{i}.log").open("w")),
                    text=True,
                )
                for i in range(count)
            ]
            started.extend(workers)
            return workers

        yield start
        for worker in started:
            if worker.poll() is None:
                worker.kill()
            worker.wait()


def finish(workers: list[subprocess.Popen[str]], timeout: float = 120) -> list[int]:
    deadline = time.monotonic() + timeout
    return [worker.wait(timeout=max(1.0, deadline - time.monotonic())) for worker in workers]


def export(db: str, out: Path) -> subprocess.CompletedProcess[str]:
    done = run(bulkfetch_command("export", "--db", db, "--run", "1", "--out", out))
    assert_clean_exit(done)
    return done


def assert_single_process_output(
    start_emulator: StartEmulator, source: Path, tmp_path: Path, *, described: bool = False
) -> None:
    """The exported output is byte-identical to one process's run on a SQLite store (a
    described API's: but for the dataset's name and the lookup as each normalises it)."""
    single = reference(start_emulator(), source, tmp_path / "single")
    if described:
        (tmp_path / "single.csv").write_bytes(single)
        exported = rows_but_lookup(tmp_path / "out.csv")
        assert exported == rows_but_lookup(tmp_path / "single.csv")
        return
    assert (tmp_path / "out.csv").read_bytes() == single


def requests_sent(log: str) -> int:
    """The requests a worker says it sent, in its last line."""
    found = re.search(r"in (\d+) requests", log)
    assert found is not None, log
    return int(found.group(1))


def busiest_second(ledger: dict[str, Any]) -> int:
    """The most calls the emulator billed in one of its seconds."""
    return max(int(count) for count in ledger["per_second"].values())


def work_together(
    start_workers: StartWorkers,
    emulator: Emulator,
    postgres_url: str,
    tmp_path: Path,
    *extra: str,
) -> None:
    """Four workers on the enqueued run: each ends well, and together they kept to the
    limit (no 429, none in a second beyond it) and billed nothing twice; then the export."""
    codes = finish(start_workers(4, "logs", *extra))
    ledger = emulator.ledger()
    export(postgres_url, tmp_path / "out.csv")
    assert codes == [0, 0, 0, 0], [p.read_text() for p in (tmp_path / "logs").iterdir()]
    assert ledger["by_status"].get("429", 0) == 0
    assert ledger["billed_twice"] == 0
    assert busiest_second(ledger) <= LIMIT  # how near the limit they come: benchmarks/fleet.py


def test_four_workers_keep_to_the_limit_together(
    start_emulator: StartEmulator, start_workers: StartWorkers, postgres_url: str, tmp_path: Path
) -> None:
    source = write_postcode_file(tmp_path / "in.csv", ROWS, seed=11)
    emulator = start_emulator("--rate-limit", str(LIMIT))
    enqueue(emulator, source, postgres_url)
    work_together(start_workers, emulator, postgres_url, tmp_path)
    worked = [requests_sent(p.read_text()) for p in (tmp_path / "logs").iterdir()]
    assert min(worked) >= ROWS / 4 / 2, worked  # each took a fair part
    assert_single_process_output(start_emulator, source, tmp_path)


def test_a_killed_workers_jobs_are_finished_by_the_others(
    start_emulator: StartEmulator, start_workers: StartWorkers, postgres_url: str, tmp_path: Path
) -> None:
    source = write_postcode_file(tmp_path / "in.csv", ROWS, seed=12)
    emulator = start_emulator("--rate-limit", str(LIMIT))
    enqueue(emulator, source, postgres_url)
    workers = start_workers(4, "logs", "--lease", "3")
    wait_until(lambda: emulator.ledger()["billed_total"] >= 200, what="200 calls billed")
    os.kill(workers[0].pid, signal.SIGKILL)
    codes = finish(workers)
    ledger = emulator.ledger()
    exported = export(postgres_url, tmp_path / "out.csv")
    status = run(bulkfetch_command("status", "--db", postgres_url, "--run", "1", "--json")).stdout

    assert codes == [-signal.SIGKILL, 0, 0, 0]
    assert exported.returncode == 0, exported.stderr  # no row left pending
    assert ledger["billed_twice"] <= 8  # at most what the dead worker had sent unstored
    # Its leases came back, counted as possibly billed twice: at least what was.
    spent = json.loads(status)["runs"][0]["spent"]
    assert ledger["billed_twice"] <= spent["maybe_billed_twice"] > 0
    assert_single_process_output(start_emulator, source, tmp_path)


def test_a_quota_stop_stops_every_worker(
    start_emulator: StartEmulator, start_workers: StartWorkers, postgres_url: str, tmp_path: Path
) -> None:
    source = write_postcode_file(tmp_path / "in.csv", ROWS, seed=13)
    emulator = start_emulator("--rate-limit", str(LIMIT), "--quota", "300")
    enqueue(emulator, source, postgres_url)
    codes = finish(start_workers(4, "logs"))
    ledger = emulator.ledger()

    assert codes == [3, 3, 3, 3]  # each stopped on the quota: exit 3
    # After the first 402, each worker sends at most what it had under way and one slot.
    assert ledger["requests"] - ledger["first_seen_at"]["402"] <= 4 * (8 + 1)
    assert ledger["billed_total"] == 300

    emulator.configure(quota=None)  # the package topped up
    (resumed,) = finish(start_workers(1, "again"))
    exported = export(postgres_url, tmp_path / "out.csv")
    assert resumed == 0
    assert exported.returncode == 0, exported.stderr
    assert emulator.ledger()["billed_twice"] == 0
    assert_single_process_output(start_emulator, source, tmp_path)


def test_the_shared_commands_refuse_a_sqlite_store(tmp_path: Path, emulator: Emulator) -> None:
    """``work`` and ``--no-work`` need a shared store; SQLite stays the default."""
    source = write_postcode_file(tmp_path / "in.csv", 10, seed=1)
    worked = run(bulkfetch_command("work", "--db", tmp_path / "s.db"))
    enqueued = run(
        enrich_command(emulator, source, tmp_path / "o.csv", tmp_path / "s.db", "--no-work")
    )
    assert worked.returncode == 2
    assert "postgresql://" in worked.stderr
    assert enqueued.returncode == 2
    assert "postgresql://" in enqueued.stderr


def test_a_cap_holds_for_all_workers_together(
    start_emulator: StartEmulator, start_workers: StartWorkers, postgres_url: str, tmp_path: Path
) -> None:
    """--max-calls 137 set when enqueueing 500 lookups: four workers together bill at most
    137 and exit 7; four more with --max-calls 1000 finish, nothing billed twice."""
    source = write_postcode_file(tmp_path / "in.csv", 500, seed=14, malformed_rate=0.0)
    emulator = start_emulator("--rate-limit", str(LIMIT))
    out = tmp_path / "enqueue.csv"
    done = run(
        enrich_command(emulator, source, out, postgres_url, "--no-work", "--max-calls", "137")
    )
    assert done.returncode == 0, done.stderr
    codes = finish(start_workers(4, "capped"))
    assert codes == [7, 7, 7, 7], [p.read_text() for p in (tmp_path / "capped").iterdir()]
    assert emulator.ledger()["billed_total"] <= 137

    codes = finish(start_workers(4, "raised", "--max-calls", "1000"))
    assert codes == [0, 0, 0, 0], [p.read_text() for p in (tmp_path / "raised").iterdir()]
    ledger = emulator.ledger()
    assert ledger["billed_total"] == len(ledger["billed"]) == 500
    assert ledger["billed_twice"] == 0
    assert export(postgres_url, tmp_path / "out.csv").returncode == 0


def test_four_workers_share_a_described_apis_budget(
    start_emulator: StartEmulator, start_workers: StartWorkers, postgres_url: str, tmp_path: Path
) -> None:
    """A described API's run enqueued with --no-work: four workers rebuild its client from
    the store, keep together to the key's limit with no 429, bill nothing twice, and the
    export is what `bulkfetch enrich` writes in one process."""
    described = Path(__file__).resolve().parents[3] / "examples/apis/crystalroof-occupation.toml"
    source = write_postcode_file(tmp_path / "in.csv", ROWS, seed=15)
    emulator = start_emulator("--rate-limit", str(LIMIT))
    out = tmp_path / "enqueue.csv"
    done = run(
        bulkfetch_command(
            "fetch", "--api", described, source, "--column", "postcode", "--out", out,
            "--db", postgres_url, "--base-url", emulator.url, "--no-work",
        )
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    refused = finish(start_workers(1, "untrusted"))  # not given the description: no key sent
    assert refused == [2]
    assert "start it with --api FILE" in " ".join(
        (tmp_path / "untrusted" / "worker0.log").read_text().split()
    )
    assert emulator.ledger()["requests"] == 0
    work_together(start_workers, emulator, postgres_url, tmp_path, "--api", str(described))
    assert_single_process_output(start_emulator, source, tmp_path, described=True)
