"""An overnight run on a flaky connection: every row right, no call wasted beyond the limits."""

from __future__ import annotations

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
from tests.conftest import StartEmulator

pytestmark = [pytest.mark.slow, pytest.mark.reliability]
MAX_ATTEMPTS = 6


def test_every_fault_at_once(start_emulator: StartEmulator, tmp_path: Path) -> None:
    """5% 500s, 2% dropped connections, 2% answers slower than the timeout, 1% cut bodies,
    and a burst of 429s every 4 s: every row final with the right values, no lookup tried
    more than --max-attempts times, no traceback, no hang (bounded at 3 minutes)."""
    faulty = start_emulator(
        "--fail-rate", "0.05", "--drop-rate", "0.02", "--slow-rate", "0.02", "--slow-seconds", "3",
        "--truncate-rate", "0.01", "--burst-429", "4,0.5", "--seed", "11",
    )  # fmt: skip
    source = write_postcode_file(
        tmp_path / "in.csv", 1200, seed=12, repeat_rate=0.05, malformed_rate=0.01
    )
    out, db = tmp_path / "out.csv", tmp_path / "s.db"
    result = run(
        enrich_command(
            faulty,
            source,
            out,
            db,
            "--timeout",
            "1",
            "--max-attempts",
            str(MAX_ATTEMPTS),
            "--concurrency",
            "16",
            # Paced so that the run outlasts the 4 s between bursts: it meets at least one.
            "--rate",
            "300",
        ),
    )
    assert result.returncode == 0, result.stderr
    assert_clean_exit(result)
    ledger = faulty.ledger()
    by_status = ledger["by_status"]
    assert by_status.get("500", 0) > 0
    assert by_status.get("429", 0) > 0
    assert by_status.get("0", 0) > 0  # dropped
    assert ledger["most_tries"] <= MAX_ATTEMPTS
    assert out.read_bytes() == reference(start_emulator(), source, tmp_path / "ref")
    assert_no_secret(tmp_path, result.stdout, result.stderr)
