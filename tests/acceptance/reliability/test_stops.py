"""402, 401 and 403 in the middle of a run: stop at once, mark nothing failed, resume."""

from __future__ import annotations

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
from tests.conftest import KEY, StartEmulator, cli_env, run_cli
from tests.waiting import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.reliability]


def test_quota_runs_out_with_many_calls_in_flight(
    start_emulator: StartEmulator, tmp_path: Path
) -> None:
    """32 calls in flight, each 50-200 ms, when the quota ends: exit 3, at most 32 requests
    after the first 402, no row failed; more quota, same command: nothing billed twice."""
    emulator = start_emulator("--quota", "300", "--latency", "0.05,0.2")
    source = write_postcode_file(tmp_path / "in.csv", 800, seed=31)
    out, db = tmp_path / "out.csv", tmp_path / "s.db"
    command = enrich_command(emulator, source, out, db, "--concurrency", "32")
    stopped = run(command)
    assert stopped.returncode == 3, stopped.stderr
    assert_clean_exit(stopped)
    ledger = emulator.ledger()
    assert ledger["requests"] - ledger["first_seen_at"]["402"] <= 32
    status = run_cli("status", "--db", db).stdout
    assert "failed" not in status
    emulator.configure(quota=None)
    resumed = run(command)
    assert resumed.returncode == 0, resumed.stderr
    assert emulator.ledger()["billed_twice"] == 0
    assert out.read_bytes() == reference(start_emulator(), source, tmp_path / "ref")
    assert_no_secret(tmp_path, stopped.stderr, resumed.stderr, status)


@pytest.mark.parametrize(
    ("status", "exit_code", "words"),
    [(401, 4, "not valid anymore"), (403, 4, "invalid for the given action")],
)
def test_key_refused_mid_run(
    start_emulator: StartEmulator, tmp_path: Path, status: int, exit_code: int, words: str
) -> None:
    """The key is revoked (401) or forbidden (403) mid-run: exit 4, nothing failed; the key
    works again, same command: completes with nothing billed twice."""
    emulator = start_emulator()
    source = write_postcode_file(tmp_path / "in.csv", 900, seed=32)
    out, db = tmp_path / "out.csv", tmp_path / "s.db"
    command = enrich_command(emulator, source, out, db, "--rate", "200", "--concurrency", "8")
    process = subprocess.Popen(
        command, env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    wait_until(lambda: emulator.ledger()["billed_total"] >= 200, what="200 calls billed")
    emulator.configure(key_status={KEY: status})
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == exit_code, stderr
    assert words in stderr
    assert "Traceback" not in stderr
    assert "failed" not in run_cli("status", "--db", db).stdout
    emulator.configure(key_status={})
    resumed = run(command)
    assert resumed.returncode == 0, resumed.stderr
    assert emulator.ledger()["billed_twice"] == 0
    assert out.read_bytes() == reference(start_emulator(), source, tmp_path / "ref")
    assert_no_secret(tmp_path, stderr, resumed.stderr)
