"""kill -9 at seeded random moments, again and again: nothing lost, little paid twice."""

from __future__ import annotations

import json
import random
import subprocess
from pathlib import Path

import pytest

from bulkfetch.samples import write_postcode_file
from tests.acceptance.reliability.helpers import (
    assert_no_secret,
    billed_more,
    enrich_command,
    reference,
    run,
)
from tests.conftest import StartEmulator, cli_env, run_cli
from tests.waiting import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.reliability]

SEED = 20261122
CONCURRENCY = 8
KILLS = 10


def test_ten_kills_then_the_output_of_an_uninterrupted_run(
    start_emulator: StartEmulator, tmp_path: Path
) -> None:
    """10 kill -9 at seeded moments of one 3,000-row run, the same command after each:
    the final output is byte-identical to an uninterrupted run's; lookups billed twice are
    at most `concurrency` per kill, and never more than the store reports as possibly so."""
    rng = random.Random(SEED)
    source = write_postcode_file(tmp_path / "in.csv", 3000, seed=SEED, malformed_rate=0.01)
    emulator = start_emulator()
    out, db = tmp_path / "out.csv", tmp_path / "s.db"
    command = enrich_command(
        emulator, source, out, db, "--rate", "250", "--concurrency", str(CONCURRENCY)
    )
    billed_at_kill = []
    for _ in range(KILLS):
        process = subprocess.Popen(
            command, env=cli_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        # Killed at a seeded point of its progress, not of the clock's.
        wait_until(billed_more(emulator, rng.randint(40, 400)), what="calls billed")
        process.kill()
        process.wait(timeout=30)
        billed_at_kill.append(emulator.ledger()["billed_total"])
    final = run(command)
    assert final.returncode == 0, final.stderr
    ledger = emulator.ledger()
    distinct = len(ledger["billed"])
    assert billed_at_kill[-1] < distinct, "the kills came after the run had finished"
    assert billed_at_kill[3] > 0, "the kills all came before the first call"
    duplicates = ledger["billed_total"] - distinct
    assert duplicates <= KILLS * CONCURRENCY
    status = run_cli("status", "--db", db, "--json").stdout
    reported = json.loads(status)["runs"][0]["spent"]["maybe_billed_twice"]
    assert duplicates <= reported, "a re-billed call went unreported"
    assert out.read_bytes() == reference(
        start_emulator(), source, tmp_path / "ref", "--concurrency", str(CONCURRENCY)
    )
    assert_no_secret(tmp_path, final.stdout, final.stderr, status)
