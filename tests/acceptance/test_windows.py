"""``--limit`` and ``--at-limit`` on the real command line against the real emulator: a
day's allowance stopped at (exit 9, saying when it opens again), the same day again at no
call, the plan's count of windows, and a limit that is no limit refused (exit 2)."""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path

import pytest

from bulkfetch.cli.app import _parser
from bulkfetch.pacing.limits import Limit
from bulkfetch.pacing.windows import utc
from bulkfetch.samples import write_postcode_file
from tests.acceptance.test_enrich import enrich, read_csv
from tests.conftest import Emulator

AT_30_A_DAY = ("--limit", "30/day", "--at-limit", "stop")


def said(stderr: str) -> str:
    """What was printed, as one line (the console wraps long ones)."""
    return " ".join(stderr.split())


def test_a_spent_day_stops_with_exit_9_and_the_same_day_again_sends_nothing(
    emulator: Emulator, tmp_path: Path
) -> None:
    """50 rows at 30 a day, told to stop: exit 9 after exactly 30 requests, 30 rows answered
    and 20 pending, saying when the day opens again; the same command the same day: exit 9
    at once, with no request."""
    source = write_postcode_file(tmp_path / "in.csv", 50, seed=41)
    out, db = tmp_path / "out.csv", tmp_path / "s.db"
    opens = utc(Limit(30, "day").window(time.time())[1])
    stopped = enrich(emulator, source, out, db, *AT_30_A_DAY)
    assert stopped.returncode == 9, stopped.stderr
    assert emulator.ledger()["requests"] == 30
    assert (
        f"stopped: the day's allowance of 30 calls is spent; it opens again at {opens}. Run the"
        " same command again then to carry on."
    ) in said(stopped.stderr)
    statuses = Counter(row["status"] for row in read_csv(out))
    assert statuses["pending"] == 20
    assert statuses["ok"] + statuses["not_found"] == 30
    again = enrich(emulator, source, out, db, *AT_30_A_DAY)
    assert again.returncode == 9, again.stderr
    assert emulator.ledger()["requests"] == 30
    assert "Traceback" not in stopped.stderr + again.stderr


def test_the_plan_says_how_many_days_the_requests_take(emulator: Emulator, tmp_path: Path) -> None:
    """--plan at 30 a day on 50 rows: 2 days' allowances, in words and in JSON, at no call;
    after a run spent today's 30, the 20 left still take 2, today's being spent."""
    source = write_postcode_file(tmp_path / "in.csv", 50, seed=42)
    out, db = tmp_path / "out.csv", tmp_path / "s.db"
    planned = enrich(emulator, source, out, db, "--plan", "--json", "--limit", "30/day")
    assert planned.returncode == 0, planned.stderr
    assert json.loads(planned.stdout)["windows"] == {"30/day": 2}
    words = enrich(emulator, source, out, db, "--plan", "--limit", "30/day")
    assert "30/day: 50 requests take 2 days' allowances (this one and 1 more)" in words.stdout
    assert emulator.ledger()["requests"] == 0
    assert enrich(emulator, source, out, db, *AT_30_A_DAY).returncode == 9
    after = json.loads(enrich(emulator, source, out, db, "--plan", "--json", *AT_30_A_DAY).stdout)
    assert (after["requests"], after["windows"]) == (20, {"30/day": 2})
    words = enrich(emulator, source, out, db, "--plan", "--limit", "30/day")
    assert (
        "30/day: 20 requests take 2 days' allowances (this one and 1 more; 30 of this one's 30"
        " spent already)"
    ) in words.stdout


@pytest.mark.parametrize("text", ["10/fortnight", "ten/day", "0/day"])
def test_a_limit_that_is_no_limit_is_refused_with_exit_2(
    emulator: Emulator, tmp_path: Path, text: str
) -> None:
    """--limit 10/fortnight (or no number, or none allowed): exit 2 before any store or
    call, saying what is wrong."""
    source = write_postcode_file(tmp_path / "in.csv", 5, seed=43)
    out, db = tmp_path / "out.csv", tmp_path / "s.db"
    refused = enrich(emulator, source, out, db, "--limit", text)
    assert refused.returncode == 2
    assert "argument --limit:" in refused.stderr
    assert ("not a limit" if text != "0/day" else "at least 1 call") in said(refused.stderr)
    assert "Traceback" not in refused.stderr
    assert not db.exists()
    assert emulator.ledger()["requests"] == 0


def test_workers_take_limits_as_the_commands_do() -> None:
    """``bulkfetch work`` has --limit (again for another window) and --at-limit, waiting by
    default."""
    args = _parser().parse_args(["work", "--db", "postgresql://h/db", "--limit", "5/second"])
    assert (args.limits, args.at_limit) == ([Limit(5, "second")], "wait")
    both = ["--limit", "10/minute", "--limit", "2500/d", "--at-limit", "stop"]
    args = _parser().parse_args(["work", "--db", "postgresql://h/db", *both])
    assert (args.limits, args.at_limit) == ([Limit(10, "minute"), Limit(2500, "day")], "stop")
