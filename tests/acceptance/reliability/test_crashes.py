"""kill -9 at seeded random moments, again and again: nothing lost, little paid twice."""

from __future__ import annotations

import json
import random
import sqlite3
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


def test_kills_of_a_pass_of_three_datasets_then_the_output_of_an_uninterrupted_one(
    start_emulator: StartEmulator, tmp_path: Path
) -> None:
    """kill -9 at seeded moments of a 3-dataset pass over 5,000 rows (while it begins,
    enqueues, works), the same command after each: the output is byte-identical to an
    uninterrupted pass's, and each row's fields are kept once."""
    rng = random.Random(SEED + 1)
    source = write_postcode_file(tmp_path / "in.csv", 5000, seed=SEED, malformed_rate=0.01)
    emulator = start_emulator()
    out, db = tmp_path / "out.csv", tmp_path / "s.db"
    three = ("--dataset", "occupation", "--dataset", "income", "--dataset", "flood-risk")
    extra = (*three, "--concurrency", str(CONCURRENCY))
    command = enrich_command(emulator, source, out, db, *extra, "--rate", "400")
    for kill in range(6):
        process = subprocess.Popen(
            command, env=cli_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        if kill == 0:  # as it opens its store and begins its runs
            wait_until(db.exists, what="the store")
        else:
            wait_until(billed_more(emulator, rng.randint(1, 600)), what="calls billed")
        process.kill()
        process.wait(timeout=30)
    final = run(command)
    assert final.returncode == 0, final.stderr
    assert out.read_bytes() == reference(start_emulator(), source, tmp_path / "ref", *extra)
    with sqlite3.connect(db) as conn:
        rows, kept = conn.execute("SELECT count(*), count(fields) FROM run_rows").fetchone()
    assert (rows, kept) == (3 * 5000, 5000)
