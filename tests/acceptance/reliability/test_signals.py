"""Killed, interrupted, resumed: real processes, real signals, the real emulator."""

from __future__ import annotations

import re
import signal
import subprocess
from pathlib import Path

import pytest

from bulkfetch.samples import write_postcode_file
from tests.acceptance.reliability.helpers import enrich_command, reference, run
from tests.conftest import Emulator, StartEmulator, cli_env, run_cli
from tests.waiting import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.reliability]

CONCURRENCY = "8"


def command(emulator: Emulator, source: Path, out: Path, db: Path) -> list[str]:
    return enrich_command(emulator, source, out, db, "--rate", "300", "--concurrency", CONCURRENCY)


def started(emulator: Emulator, source: Path, out: Path, db: Path) -> subprocess.Popen[str]:
    """The run's process, under way, its output and messages piped."""
    return subprocess.Popen(
        command(emulator, source, out, db),
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def interrupted_run(
    emulator: Emulator, source: Path, out: Path, db: Path, signum: int
) -> subprocess.CompletedProcess[str]:
    """Start a run, send ``signum`` once some hundreds of calls are billed; its result."""
    process = started(emulator, source, out, db)
    wait_until(lambda: emulator.ledger()["billed_total"] >= 250)
    process.send_signal(signum)
    stdout, stderr = process.communicate(timeout=60)
    assert emulator.ledger()["billed_total"] < 850, "the run ended before the signal"
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def test_kill_9_then_resume_matches_an_uninterrupted_run(
    start_emulator: StartEmulator, tmp_path: Path
) -> None:
    """kill -9 mid-run, same command: identical output; at most `concurrency` billed twice,
    and the possibly re-billed calls are reported."""
    source = write_postcode_file(tmp_path / "in.csv", 900, seed=21)
    emulator = start_emulator("--not-found-rate", "0.03")
    out, db = tmp_path / "out.csv", tmp_path / "s.db"
    killed = interrupted_run(emulator, source, out, db, signal.SIGKILL)
    assert killed.returncode == -signal.SIGKILL

    resumed = run(command(emulator, source, out, db))
    assert resumed.returncode == 0, resumed.stderr
    ledger = emulator.ledger()
    assert ledger["billed_twice"] <= int(CONCURRENCY)
    if ledger["billed_twice"]:
        assert "may be billed twice" in resumed.stderr
    assert out.read_bytes() == reference(start_emulator(), source, tmp_path / "ref")
    status = run_cli("status", "--db", db)
    assert "possibly billed twice (answers lost, crashes)" in status.stdout


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_interrupt_drains_then_resume_bills_nothing_twice(
    start_emulator: StartEmulator, tmp_path: Path, signum: int
) -> None:
    """Ctrl-C or SIGTERM: calls in flight land and are stored, exit 130; resume pays
    for nothing twice and writes what an uninterrupted run writes."""
    source = write_postcode_file(tmp_path / "in.csv", 900, seed=22)
    emulator = start_emulator()
    out, db = tmp_path / "out.csv", tmp_path / "s.db"
    interrupted = interrupted_run(emulator, source, out, db, signum)
    assert interrupted.returncode == 130, interrupted.stderr
    assert "interrupted" in interrupted.stderr
    assert "pending" in out.read_text()

    resumed = run(command(emulator, source, out, db))
    assert resumed.returncode == 0, resumed.stderr
    assert emulator.ledger()["billed_twice"] == 0
    assert "may be billed twice" not in resumed.stderr
    assert "0 possibly billed twice" in resumed.stderr
    assert out.read_bytes() == reference(start_emulator(), source, tmp_path / "ref")


def test_a_second_interrupt_says_what_it_abandons(
    start_emulator: StartEmulator, tmp_path: Path
) -> None:
    """Ctrl-C twice: it says how many calls in flight it abandons, status says the run was
    stopped at once, and the resume counts exactly those as possibly billed twice."""
    source = write_postcode_file(tmp_path / "in.csv", 100, seed=23)
    emulator = start_emulator("--latency", "1,2", "--not-found-rate", "0")
    out, db = tmp_path / "out.csv", tmp_path / "s.db"
    process = started(emulator, source, out, db)
    assert process.stderr is not None
    wait_until(lambda: emulator.ledger()["billed_total"] >= 8)
    process.send_signal(signal.SIGINT)
    assert "finishing the calls in flight" in process.stderr.readline()
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    found = re.search(r"SIGINT again: stopped at once with (\d+) calls in flight, abandon", stderr)
    assert found is not None, stderr
    abandoned = int(found.group(1))
    assert 0 < abandoned <= int(CONCURRENCY)
    status = run_cli("status", "--db", db)
    assert f"last stopped: interrupted: stopped at once with {abandoned} calls" in status.stdout

    emulator.configure(latency_min=0.0, latency_max=0.0)
    resumed = run(command(emulator, source, out, db))
    assert resumed.returncode == 0, resumed.stderr
    assert f"resumed: {abandoned} lookups were in flight" in resumed.stderr
    assert f"{abandoned} possibly billed twice" in resumed.stderr
