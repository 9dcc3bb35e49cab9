"""A described API after kill -9: the same command carries on, and its output is an
uninterrupted run's, byte for byte."""

from __future__ import annotations

import random
import subprocess
from pathlib import Path

import pytest

from bulkfetch.samples import write_postcode_file
from tests.acceptance.reliability.helpers import billed_more, run
from tests.conftest import StartEmulator, bulkfetch_command, cli_env
from tests.waiting import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.reliability]

DESCRIBED = Path(__file__).resolve().parents[3] / "examples" / "apis"
SEED = 20261201


@pytest.mark.parametrize(
    ("description", "column"),
    [("crystalroof-occupation.toml", "postcode"), ("postcodes-io.toml", "postcode")],
)
def test_kills_then_the_output_of_an_uninterrupted_run(
    start_emulator: StartEmulator, tmp_path: Path, description: str, column: str
) -> None:
    """Three kill -9 at seeded moments of a described API's run (one value a request, and
    100 a request), the same command after each: byte-identical to an uninterrupted run,
    billed twice at most what was in flight at each kill."""
    rng = random.Random(SEED)
    api = DESCRIBED / description
    source = write_postcode_file(tmp_path / "in.csv", 3000, seed=SEED, malformed_rate=0.01)
    emulator = start_emulator("--api", api)
    # 100 values a request: two requests a second, so that kills land inside the run.
    rate = "250" if description.startswith("crystalroof") else "2"

    def command(out: Path, db: Path, url: str) -> list[str]:
        return bulkfetch_command(
            "fetch", "--api", api, source, "--column", column, "--out", out, "--db", db,
            "--base-url", url, "--rate", rate, "--concurrency", "8",
        )  # fmt: skip

    out, db = tmp_path / "out.csv", tmp_path / "s.db"
    for _ in range(3):
        process = subprocess.Popen(
            command(out, db, emulator.url),
            env=cli_env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(billed_more(emulator, rng.randint(100, 500)), what="calls billed")
        process.kill()
        process.wait(timeout=30)
    final = run(command(out, db, emulator.url))
    assert final.returncode == 0, final.stderr
    ledger = emulator.ledger()
    in_flight = 8 * (100 if description.startswith("postcodes") else 1)
    assert ledger["billed_total"] - len(ledger["billed"]) <= 3 * in_flight
    reference = start_emulator("--api", api)
    ref_out = tmp_path / "ref.csv"
    done = run(command(ref_out, tmp_path / "ref.db", reference.url))
    assert done.returncode == 0, done.stderr
    assert out.read_bytes() == ref_out.read_bytes()
