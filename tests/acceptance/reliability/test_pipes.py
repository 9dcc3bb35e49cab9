"""Readers that go away: the output's (``--out - | head -1``) and the messages' (stderr
closed). Real processes and real pipes: the broken pipe is the point."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from bulkfetch.samples import write_postcode_file
from tests.acceptance.reliability.helpers import enrich_command
from tests.conftest import Emulator, cli_env, run_cli

pytestmark = [pytest.mark.slow, pytest.mark.reliability]


def test_output_to_a_reader_that_went_away_ends_quietly(emulator: Emulator, tmp_path: Path) -> None:
    """``enrich --out - | head -1``: exit 141, nothing on stderr but the run's own lines."""
    source = write_postcode_file(tmp_path / "in.csv", 2000, seed=61)
    command = enrich_command(emulator, source, Path("-"), tmp_path / "s.db", "--rate", "2000")
    process = subprocess.Popen(
        command, env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    assert process.stdout.readline().startswith("id,postcode,note,")
    process.stdout.close()
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 141, stderr
    assert "Traceback" not in stderr
    assert "Exception ignored" not in stderr


def test_messages_to_a_reader_that_went_away_stop_the_run_quietly(
    emulator: Emulator, tmp_path: Path
) -> None:
    """stderr closed under a run: it stops as on Ctrl-C (the calls in flight stored, the
    output written), and exits 141 with nothing lost."""
    source = write_postcode_file(tmp_path / "in.csv", 3000, seed=62)
    out, db = tmp_path / "out.csv", tmp_path / "s.db"
    command = enrich_command(emulator, source, out, db, "--rate", "100", "--progress-every", "0.1")
    process = subprocess.Popen(
        command, env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert process.stderr is not None
    process.stderr.readline()  # the run has begun: its first progress line
    process.stderr.close()
    stdout, _ = process.communicate(timeout=120)
    assert process.returncode == 141
    assert stdout == ""
    (run,) = json.loads(run_cli("status", "--db", db, "--json").stdout)["runs"]
    assert "in_flight" not in run["lookups"]
    assert run["stop"]["reason"] == "standard error was closed"
    assert "pending" in out.read_text()
