"""``bulkfetch enrich`` end to end: the real CLI and the real emulator, in this process (a
run of ten thousand rows and the faults in the full tier)."""

from __future__ import annotations

import contextlib
import csv
import json
import re
import subprocess
from pathlib import Path

import pytest

from bulkfetch.apis.crystalroof.locations import parse_location
from bulkfetch.errors import InvalidInputError
from bulkfetch.samples import write_postcode_file
from tests.conftest import KEY, SIZES, Emulator, Runner, StartEmulator, run_cli

# A rate far above what the emulator in this process answers: no slow start to wait through
# where the pace is not the point.
FAST = ("--rate", "5000")


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def distinct_valid(path: Path) -> set[str]:
    found = set()
    for row in read_csv(path):
        with contextlib.suppress(InvalidInputError):
            found.add(parse_location(row["postcode"]).value)
    return found


def enrich(
    emulator: Emulator,
    source: Path,
    out: Path,
    db: Path,
    *extra: str,
    runner: Runner = run_cli,
    **env: str,
) -> subprocess.CompletedProcess[str]:
    return runner(
        "enrich", source, "--column", "postcode", "--out", out, "--db", db,
        "--base-url", emulator.url, *extra, env=env,
    )  # fmt: skip


@pytest.mark.parametrize(("size", "runner"), SIZES)
def test_one_call_per_distinct_postcode(
    emulator: Emulator, tmp_path: Path, size: int, runner: Runner
) -> None:
    """Rows with 10% repeats spelt differently, 2% malformed: one row out per row in, in
    order; malformed rows invalid at no call; one billed call per distinct postcode."""
    source = write_postcode_file(
        tmp_path / "in.csv", size, seed=7, repeat_rate=0.10, malformed_rate=0.02
    )
    out = tmp_path / "out.csv"
    result = enrich(emulator, source, out, tmp_path / "s.db", "--concurrency", "16", runner=runner)
    assert result.returncode == 0, result.stderr

    rows = read_csv(out)
    inputs = read_csv(source)
    assert len(rows) == size
    assert [r["id"] for r in rows] == [r["id"] for r in inputs]
    assert [r["postcode"] for r in rows] == [r["postcode"] for r in inputs]

    by_postcode: dict[str, dict[str, str]] = {}
    malformed = 0
    for row in rows:
        try:
            canonical = parse_location(row["postcode"]).value
        except InvalidInputError:
            malformed += 1
            assert row["status"] == "invalid"
            assert row["occupation.residents.Total"] == ""
            continue
        assert row["status"] in {"ok", "not_found"}
        assert row["lookup"] == canonical  # the postcode as looked up
        values = {k: v for k, v in row.items() if k not in {"id", "postcode", "note"}}
        # Every spelling of one postcode gets the same answer.
        assert by_postcode.setdefault(canonical, values) == values
    assert malformed > size // 100

    ledger = emulator.ledger()
    assert ledger["billed_total"] == len(by_postcode)
    assert ledger["billed_twice"] == 0
    assert ledger["requests"] == len(by_postcode)
    statuses = {r["status"] for r in rows}
    assert statuses == {"ok", "not_found", "invalid"}


def test_output_columns_are_the_api_s_own_names(emulator: Emulator, tmp_path: Path) -> None:
    """Input columns, lookup, status, error, <dataset>.<group>.<key> as the API spells it,
    then data_date."""
    source = tmp_path / "in.csv"
    source.write_text("postcode,extra\nW6 0WW,a\n")
    out = tmp_path / "out.csv"
    assert enrich(emulator, source, out, tmp_path / "s.db").returncode == 0
    header = next(csv.reader(out.read_text(encoding="utf-8").splitlines()))
    assert header[:6] == [
        "postcode",
        "extra",
        "lookup",
        "status",
        "error",
        "occupation.residents.Total",
    ]
    assert "occupation.residents.2. Professional occupations" in header
    assert "occupation.rank.2. Professional occupations" in header
    assert header[6] == "occupation.residents.1. Managers, directors and senior officials"
    assert "occupation.rank.Total" not in header
    assert header[-1] == "occupation.data_date"
    (row,) = read_csv(out)
    total = "occupation.residents.Total"
    groups = [v for k, v in row.items() if k.startswith("occupation.residents.") and k != total]
    assert sum(map(int, groups)) == int(row[total])
    assert (row["lookup"], row["occupation.data_date"]) == ("W6 0WW", "2021-03-21")


def test_second_run_makes_no_call_and_writes_the_same_file(
    emulator: Emulator, tmp_path: Path
) -> None:
    """Results stay in the store: the same command again is free; --refresh fetches again."""
    source = write_postcode_file(tmp_path / "in.csv", 200, seed=3)
    db = tmp_path / "s.db"
    assert enrich(emulator, source, tmp_path / "a.csv", db, *FAST).returncode == 0
    calls = emulator.ledger()["requests"]
    again = enrich(emulator, source, tmp_path / "b.csv", db, *FAST)
    assert again.returncode == 0
    assert emulator.ledger()["requests"] == calls
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    assert "spent now: 0 billed lookups in 0 requests" in again.stderr

    refreshed = enrich(emulator, source, tmp_path / "c.csv", db, "--refresh", *FAST)
    assert refreshed.returncode == 0
    assert emulator.ledger()["requests"] == 2 * calls
    assert (tmp_path / "c.csv").read_bytes() == (tmp_path / "a.csv").read_bytes()


def test_jsonl_output_holds_the_input_status_and_raw_data(
    emulator: Emulator, tmp_path: Path
) -> None:
    """JSON Lines: the input row, status and the answer's data object, one line a row."""
    source = tmp_path / "in.csv"
    source.write_text("postcode\nW6 0WW\nnope\n")
    out = tmp_path / "out.jsonl"
    assert enrich(emulator, source, out, tmp_path / "s.db", "--format", "jsonl").returncode == 0
    first, second = (json.loads(line) for line in out.read_text().splitlines())
    assert first["input"] == {"postcode": "W6 0WW"}
    assert first["status"] == "ok"
    assert set(first["data"]) == {"residents", "rank"}
    assert second["status"] == "invalid"
    assert "nope" in second["error"]


@pytest.mark.slow
def test_faults_are_retried_until_every_row_is_final(
    start_emulator: StartEmulator, tmp_path: Path
) -> None:
    """500s, dropped connections, cut bodies and answers slower than the client's timeout
    are retried; the values come out right."""
    faulty = start_emulator(
        "--fail-rate", "0.05", "--drop-rate", "0.03", "--truncate-rate", "0.02",
        "--slow-rate", "0.02", "--slow-seconds", "3", "--seed", "4",
    )  # fmt: skip
    clean = start_emulator()
    source = write_postcode_file(tmp_path / "in.csv", 400, seed=9)
    result = enrich(
        faulty,
        source,
        tmp_path / "f.csv",
        tmp_path / "f.db",
        "--max-attempts",
        "8",
        "--timeout",
        "1",
    )
    assert result.returncode == 0, result.stderr
    assert enrich(clean, source, tmp_path / "c.csv", tmp_path / "c.db").returncode == 0
    assert (tmp_path / "f.csv").read_bytes() == (tmp_path / "c.csv").read_bytes()
    by_status = faulty.ledger()["by_status"]
    assert by_status.get("500", 0) > 0
    assert by_status.get("0", 0) > 0  # dropped connections


def test_lookups_that_keep_failing_end_failed_then_a_rerun_retries_them(
    start_emulator: StartEmulator, tmp_path: Path
) -> None:
    """Retries run out: exit 1, rows 'failed'; fixed server, same command: exit 0."""
    emulator = start_emulator("--fail-rate", "1.0")
    source = write_postcode_file(tmp_path / "in.csv", 20, seed=2)
    db, out = tmp_path / "s.db", tmp_path / "out.csv"
    result = enrich(emulator, source, out, db, "--max-attempts", "2")
    assert result.returncode == 1
    assert "run the same command again" in result.stderr
    assert {r["status"] for r in read_csv(out)} == {"failed"}
    assert emulator.ledger()["by_status"]["500"] == 40

    emulator.configure(fail_rate=0.0)
    result = enrich(emulator, source, out, db, "--max-attempts", "2")
    assert result.returncode == 0, result.stderr
    assert {r["status"] for r in read_csv(out)} <= {"ok", "not_found"}


def test_quota_stop_exits_3_and_resumes_without_paying_twice(
    start_emulator: StartEmulator, tmp_path: Path
) -> None:
    """402: stop at once (few calls after it), exit 3; more quota, same command: completes."""
    emulator = start_emulator("--quota", "150")
    source = write_postcode_file(tmp_path / "in.csv", 600, seed=5)
    db, out = tmp_path / "s.db", tmp_path / "out.csv"
    result = enrich(emulator, source, out, db, "--concurrency", "8", *FAST)
    assert result.returncode == 3, result.stderr
    assert "package of calls is used up" in result.stderr
    ledger = emulator.ledger()
    assert ledger["billed_total"] == 150
    assert ledger["requests"] - ledger["first_seen_at"]["402"] <= 8
    statuses = {r["status"] for r in read_csv(out)}
    assert "pending" in statuses
    assert "failed" not in statuses

    status = run_cli("status", "--db", db)
    assert "quota" in status.stdout
    assert "failed" not in status.stdout

    emulator.configure(quota=None)
    result = enrich(emulator, source, out, db, "--concurrency", "8", *FAST)
    assert result.returncode == 0, result.stderr
    ledger = emulator.ledger()
    assert ledger["billed_twice"] == 0
    assert ledger["billed_total"] == len(distinct_valid(source))
    assert {r["status"] for r in read_csv(out)} <= {"ok", "not_found"}


@pytest.mark.parametrize(
    ("keys", "needle"), [("other-key", "No such API key"), ("DEMO", "invalid for the given action")]
)
def test_a_refused_key_stops_the_run_with_exit_4(
    start_emulator: StartEmulator, tmp_path: Path, keys: str, needle: str
) -> None:
    """401 (unknown key) or 403 (DEMO outside W6 0): stop, exit 4, nothing marked failed."""
    emulator = start_emulator("--keys", keys)
    source = write_postcode_file(tmp_path / "in.csv", 50, seed=1)
    api_key = "DEMO" if keys == "DEMO" else KEY
    result = enrich(
        emulator, source, tmp_path / "out.csv", tmp_path / "s.db", CRYSTALROOF_API_KEY=api_key
    )
    assert result.returncode == 4, result.stderr
    assert needle in result.stderr
    assert {r["status"] for r in read_csv(tmp_path / "out.csv")} == {"pending"}
    assert emulator.ledger()["requests"] <= 16


def test_demo_key_works_inside_w6_0(start_emulator: StartEmulator, tmp_path: Path) -> None:
    """The DEMO key answers inside its sector, as the docs say: each row ok with its
    values, one billed call a postcode."""
    emulator = start_emulator("--keys", "nobody", "--not-found-rate", "0")
    source = tmp_path / "in.csv"
    source.write_text("postcode\nW6 0WW\nw60wx\n")
    result = enrich(
        emulator, source, tmp_path / "o.csv", tmp_path / "s.db", CRYSTALROOF_API_KEY="DEMO"
    )
    assert result.returncode == 0, result.stderr
    rows = read_csv(tmp_path / "o.csv")
    assert [row["status"] for row in rows] == ["ok", "ok"]
    assert all(int(row["occupation.residents.Total"]) > 0 for row in rows)
    assert emulator.ledger()["billed"] != {}
    assert emulator.ledger()["billed_total"] == 2


def test_no_429_at_the_limit(start_emulator: StartEmulator, tmp_path: Path) -> None:
    """Client rate equal to the provider's per-second limit: never more calls in one of the
    provider's seconds than it allows, never a 429 (how near the limit: benchmarks/)."""
    emulator = start_emulator("--rate-limit", "20")
    source = write_postcode_file(tmp_path / "in.csv", 70, seed=11)
    result = enrich(emulator, source, tmp_path / "o.csv", tmp_path / "s.db", "--rate", "20")
    assert result.returncode == 0, result.stderr
    ledger = emulator.ledger()
    assert "429" not in ledger["by_status"]
    assert max(ledger["per_second"].values()) <= 20


@pytest.mark.slow
def test_a_limit_learned_without_rate_is_told_to_the_user(
    start_emulator: StartEmulator, tmp_path: Path
) -> None:
    """No --rate against a provider allowing 20 calls a second: the run learns the limit
    from its 429s, finishes, and says which --rate would have spared them."""
    emulator = start_emulator("--rate-limit", "20")
    source = write_postcode_file(tmp_path / "in.csv", 120, seed=12)
    result = enrich(emulator, source, tmp_path / "o.csv", tmp_path / "s.db")
    assert result.returncode == 0, result.stderr
    assert emulator.ledger()["by_status"].get("429", 0) > 0
    told = re.search(r"beyond about (\d+) calls a second; .*\(--rate (\d+)\)", result.stderr)
    assert told is not None, result.stderr
    assert 15 <= int(told[1]) <= 20
    assert told[1] == told[2]


def test_missing_column_names_it_and_lists_the_columns(emulator: Emulator, tmp_path: Path) -> None:
    """A wrong --column is a usage error (exit 2) naming both the column and what exists."""
    source = tmp_path / "in.csv"
    source.write_text("id,post_code\n1,W6 0WW\n")
    result = enrich(emulator, source, tmp_path / "o.csv", tmp_path / "s.db")
    assert result.returncode == 2
    assert "'postcode'" in result.stderr
    assert "'id', 'post_code'" in result.stderr
    assert not (tmp_path / "o.csv").exists()
    assert emulator.ledger()["requests"] == 0


def test_no_key_is_a_usage_error(emulator: Emulator, tmp_path: Path) -> None:
    """Without a key nothing starts, and the message says how to give one."""
    source = tmp_path / "in.csv"
    source.write_text("postcode\nW6 0WW\n")
    result = enrich(emulator, source, tmp_path / "o.csv", tmp_path / "s.db", CRYSTALROOF_API_KEY="")
    assert result.returncode == 2
    assert "CRYSTALROOF_API_KEY" in result.stderr


def test_the_key_is_in_no_byte_of_store_output_or_logs(
    start_emulator: StartEmulator, tmp_path: Path
) -> None:
    """Success, faults, a quota stop: the key appears in no file and no line printed."""
    emulator = start_emulator("--quota", "40", "--fail-rate", "0.1", "--truncate-rate", "0.05")
    source = write_postcode_file(tmp_path / "in.csv", 80, seed=8, malformed_rate=0.05)
    db = tmp_path / "s.db"
    printed = ""
    for fmt in ("csv", "jsonl"):
        result = enrich(emulator, source, tmp_path / f"o.{fmt}", db, "--format", fmt)
        assert result.returncode == 3
        printed += result.stdout + result.stderr
    printed += run_cli("status", "--db", db).stdout
    assert printed
    assert KEY not in printed
    for path in tmp_path.iterdir():
        assert KEY.encode() not in path.read_bytes(), path
