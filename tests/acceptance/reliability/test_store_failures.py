"""The store's own troubles: a full disk, a second process, an output that cannot be made."""

from __future__ import annotations

import resource
import signal
import subprocess
from pathlib import Path

import pytest

from bulkfetch.samples import write_postcode_file
from tests.acceptance.reliability.helpers import (
    assert_clean_exit,
    assert_no_secret,
    enrich_command,
    reference,
    run,
)
from tests.conftest import Emulator, StartEmulator, cli_env, run_cli
from tests.waiting import wait_until

pytestmark = [pytest.mark.reliability]


def _disk_of(size: int) -> None:
    """In the child: files may not grow past ``size`` bytes, as on a full disk (EFBIG)."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))


@pytest.mark.slow
def test_disk_full_mid_run_then_resume(start_emulator: StartEmulator, tmp_path: Path) -> None:
    """The store cannot grow mid-run: a clear error and exit 5; with room again the store
    opens, the same command completes, and the output is what a smooth run writes."""
    emulator = start_emulator()
    source = write_postcode_file(tmp_path / "in.csv", 3000, seed=41)
    out, db = tmp_path / "out.csv", tmp_path / "s.db"
    command = enrich_command(emulator, source, out, db, "--concurrency", "8")
    full = subprocess.run(
        command, env=cli_env(), capture_output=True, text=True, timeout=120, check=False,
        preexec_fn=lambda: _disk_of(3_000_000),
    )  # fmt: skip
    assert full.returncode == 5, full.stderr
    assert "disk full" in full.stderr
    assert_clean_exit(full)
    billed = emulator.ledger()["billed_total"]
    assert 0 < billed < 2900, "the disk should fill mid-run"

    assert run_cli("status", "--db", db).returncode == 0
    resumed = run(command)
    assert resumed.returncode == 0, resumed.stderr
    ledger = emulator.ledger()
    assert ledger["billed_total"] - len(ledger["billed"]) <= 8
    assert out.read_bytes() == reference(start_emulator(), source, tmp_path / "ref")
    assert_no_secret(tmp_path, full.stderr, resumed.stderr)


@pytest.mark.slow
def test_two_processes_on_one_store(start_emulator: StartEmulator, tmp_path: Path) -> None:
    """The second is refused at once with a clear message; the first finishes untouched."""
    emulator = start_emulator()
    source = write_postcode_file(tmp_path / "in.csv", 600, seed=42)
    out, db = tmp_path / "out.csv", tmp_path / "s.db"
    command = enrich_command(emulator, source, out, db, "--rate", "200")
    first = subprocess.Popen(
        command, env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    wait_until(lambda: emulator.ledger()["billed_total"] >= 20, what="20 calls billed")
    second = run(enrich_command(emulator, source, tmp_path / "other.csv", db))
    assert second.returncode == 2
    assert "another bulkfetch process is working on" in second.stderr
    _, stderr = first.communicate(timeout=60)
    assert first.returncode == 0, stderr
    assert emulator.ledger()["billed_twice"] == 0
    assert not (tmp_path / "other.csv").exists()


def test_an_output_that_cannot_be_written_loses_no_call(emulator: Emulator, tmp_path: Path) -> None:
    """--out under a file: a clear error before any call, and no store left behind; the
    same command with a good --out then runs."""
    source = write_postcode_file(tmp_path / "in.csv", 50, seed=43)
    (tmp_path / "blocker").write_text("a file, not a folder")
    db = tmp_path / "s.db"
    failed = run(enrich_command(emulator, source, tmp_path / "blocker" / "out.csv", db))
    assert failed.returncode == 2
    assert "blocker" in failed.stderr
    assert_clean_exit(failed)
    assert emulator.ledger()["requests"] == 0
    assert not db.exists()
    fixed = run(enrich_command(emulator, source, tmp_path / "out.csv", db))
    assert fixed.returncode == 0, fixed.stderr
