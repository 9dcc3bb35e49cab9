"""Messages for machines and for people: --log-format json, -q and -v, on a run that meets
429s, retries and a stop. The real CLI against the real emulator."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bulkfetch.samples import write_postcode_file
from tests.acceptance.test_enrich import enrich
from tests.conftest import StartEmulator, run_cli

# A key allowed 40 calls a second asked for 120, a cap that stops it.
ROUGH = ("--rate", "120", "--max-calls", "40", "--progress-every", "0.2")


def json_lines(stderr: str) -> list[dict[str, Any]]:
    """Every line of standard error as the JSON object it must be."""
    return [json.loads(line) for line in stderr.splitlines()]


def test_every_line_is_one_json_object(start_emulator: StartEmulator, tmp_path: Path) -> None:
    """--log-format json -v: every stderr line one object with time, level, event and
    message; progress with its fields, each retry, the summary and the stop among them."""
    # 429s at random too: the pacing may well keep a busy machine's calls inside the limit.
    emulator = start_emulator("--rate-limit", "40", "--fail-rate", "0.1", "--throttle-rate",
                              "0.2", "--seed", "2")  # fmt: skip
    source = write_postcode_file(tmp_path / "in.csv", 200, seed=3)
    ran = enrich(emulator, source, tmp_path / "o.csv", tmp_path / "s.db", *ROUGH,
                 "--log-format", "json", "-v")  # fmt: skip
    assert ran.returncode == 7, ran.stderr
    lines = json_lines(ran.stderr)
    assert all({"time", "level", "event", "message"} <= set(line) for line in lines)
    events = {line["event"] for line in lines}
    assert {"progress", "retry", "summary", "spent", "stop"} <= events
    progress = next(line for line in lines if line["event"] == "progress")
    assert {"settled_rows", "total_rows", "billed", "rate_limited"} <= set(progress)
    retries = [line for line in lines if line["event"] == "retry"]
    assert {line["status"] for line in retries} <= {429, 500}
    assert any(line["rate_limited"] for line in retries)
    assert [line["level"] for line in lines if line["event"] == "stop"] == ["warning"]
    assert emulator.ledger()["by_status"].get("429", 0) > 0


def test_usage_errors_are_json_lines_too(tmp_path: Path) -> None:
    """A usage error, the parser's own or one found before any call, is one JSON line."""
    for args in (("enrich", "--log-format", "json"),
                 ("enrich", tmp_path / "none.csv", "--column", "p", "--out", tmp_path / "o.csv",
                  "--log-format", "json")):  # fmt: skip
        ran = run_cli(*args)
        assert ran.returncode == 2
        (line,) = json_lines(ran.stderr)
        assert (line["level"], line["event"]) == ("error", "usage_error")


def test_text_is_as_it_was_and_quiet_keeps_the_stop(
    start_emulator: StartEmulator, tmp_path: Path
) -> None:
    """Without --log-format no line is JSON; -q prints the stop and nothing else."""
    emulator = start_emulator("--rate-limit", "40", "--seed", "2")
    source = write_postcode_file(tmp_path / "in.csv", 100, seed=3)
    plain = enrich(emulator, source, tmp_path / "o.csv", tmp_path / "a.db", *ROUGH)
    assert plain.returncode == 7, plain.stderr
    assert not any(line.startswith("{") for line in plain.stderr.splitlines())
    assert "progress:" in plain.stderr
    assert "100 rows:" in plain.stderr
    quiet = enrich(emulator, source, tmp_path / "q.csv", tmp_path / "b.db", *ROUGH, "-q")
    assert quiet.returncode == 7, quiet.stderr
    (line,) = quiet.stderr.strip().splitlines()
    assert line.startswith("stopped: the run's cap of 40")
