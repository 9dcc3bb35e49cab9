"""``bulkfetch labor-market`` end to end: the real CLI, the real emulator."""

from __future__ import annotations

import csv
import json
import math
import random
import signal
import subprocess
from pathlib import Path

import pytest

from tests.conftest import (
    CUSTOMER_KEY,
    PLATFORM_KEY,
    Cli,
    Emulator,
    StartEmulator,
    bulkfetch_command,
    cli_env,
    run_cli,
)
from tests.waiting import wait_until

BY_SOC = "/v1/labor-market-intelligence/by-soc"
BY_CIP = "/v1/labor-market-intelligence/by-cip"
GROUPS = ("11", "13", "15", "17", "19", "25", "29", "41", "43", "47", "49", "51", "53")


def soc_file(path: Path, count: int, *, seed: int, unknown: tuple[str, ...] = ()) -> list[str]:
    """``count`` codes, 10% of them repeats (some written without the dash); returns the
    distinct normalised codes."""
    rng = random.Random(seed)
    distinct: list[str] = []
    cells: list[str] = []
    while len(cells) < count:
        if distinct and rng.random() < 0.10:
            code = rng.choice(distinct)
            cells.append(code.replace("-", "") if rng.random() < 0.5 else code)
            continue
        code = f"{rng.choice(GROUPS)}-{rng.randint(1000, 9199)}"
        if code not in distinct:
            distinct.append(code)
            cells.append(code)
    for position, code in zip(rng.sample(range(count), len(unknown)), unknown, strict=True):
        cells.insert(position, code)
        distinct.append(code)
    path.write_text("id,soc\n" + "".join(f"{i},{c}\n" for i, c in enumerate(cells)))
    return distinct


def read_csv(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(path.read_text(encoding="utf-8").splitlines()))


def lmi(
    emulator: Emulator, source: Path, out: Path, db: Path, *extra: str, **env: str
) -> subprocess.CompletedProcess[str]:
    by = "cip" if "--by-cip" in extra else "soc"
    rest = [e for e in extra if e != "--by-cip"]
    return run_cli(
        "labor-market", source, "--by", by, "--column", by, "--out", out, "--db", db,
        "--base-url", emulator.url, *rest, env=env,
    )  # fmt: skip


def test_thousand_soc_codes_in_batches_of_25(emulator: Emulator, tmp_path: Path) -> None:
    """1,000 codes, 10% repeats: ceil(distinct/25) requests; each row has its own code's data."""
    source = tmp_path / "soc.csv"
    distinct = soc_file(source, 1000, seed=1)
    out = tmp_path / "out.csv"
    result = lmi(emulator, source, out, tmp_path / "s.db")
    assert result.returncode == 0, result.stderr
    ledger = emulator.ledger()
    assert ledger["by_path"][BY_SOC] == math.ceil(len(distinct) / 25)
    assert ledger["billed_twice"] == 0
    rows = read_csv(out)
    assert len(rows) == 1000
    for row in rows:
        assert row["status"] in {"ok", "not_found"}
        if row["status"] == "ok":
            assert row["socCode"] == f"{row['soc'][:2]}-{row['soc'][-4:]}"
            assert float(row["laborMarketData.medianAnnualSalary"]) > 0
    assert sum(r["status"] == "ok" for r in rows) > 900
    assert "laborMarketData.demand.score" in rows[0]


def test_unknown_codes_are_isolated_by_bisection(emulator: Emulator, tmp_path: Path) -> None:
    """3 unknown codes among 1,000: the good ones ok, the 3 invalid with the API's message,
    and at most 3 x 2 x 5 requests more than the batches themselves."""
    source = tmp_path / "soc.csv"
    bad = ("99-0001", "98-1234", "97-4321")
    distinct = soc_file(source, 1000, seed=2, unknown=bad)
    out = tmp_path / "out.csv"
    result = lmi(emulator, source, out, tmp_path / "s.db", "--format", "jsonl")
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    invalid = {line["input"]["soc"]: line for line in lines if line["status"] == "invalid"}
    assert set(invalid) == set(bad)
    assert all("INVALID_INPUT" in line["error"] for line in invalid.values())
    assert {line["status"] for line in lines if line["input"]["soc"] not in bad} <= {
        "ok",
        "not_found",
    }
    extra = emulator.ledger()["by_path"][BY_SOC] - math.ceil(len(distinct) / 25)
    assert 0 < extra <= 3 * 2 * 5


def test_production_without_customer_key_sends_nothing(
    start_emulator: StartEmulator, tmp_path: Path
) -> None:
    """A clear error and zero requests."""
    emulator = start_emulator("--lmi-production")
    source = tmp_path / "soc.csv"
    soc_file(source, 10, seed=3)
    result = lmi(
        emulator, source, tmp_path / "o.csv", tmp_path / "s.db", "--environment", "production"
    )
    assert result.returncode == 2
    assert "end-customer key" in result.stderr
    assert emulator.ledger()["requests"] == 0


def test_production_with_keys_sends_both_and_stores_neither(
    start_emulator: StartEmulator, tmp_path: Path
) -> None:
    """With both keys the run completes; neither key is in any file or line printed."""
    emulator = start_emulator("--lmi-production")
    source = tmp_path / "soc.csv"
    soc_file(source, 60, seed=4)
    result = lmi(
        emulator, source, tmp_path / "o.csv", tmp_path / "s.db", "--environment", "production",
        LMI_CUSTOMER_KEY=CUSTOMER_KEY,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    printed = result.stdout + result.stderr + run_cli("status", "--db", tmp_path / "s.db").stdout
    for secret in (PLATFORM_KEY, CUSTOMER_KEY):
        assert secret not in printed
        for path in tmp_path.iterdir():
            assert secret.encode() not in path.read_bytes(), path


def test_keys_given_as_options_are_sent_and_kept_nowhere(
    start_emulator: StartEmulator, tmp_path: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No key variables: --api-key and --customer-key are sent, printed nowhere, stored nowhere."""
    platform, customer = "pk_test_given_on_the_line_42", "ck_given_on_the_line_77"
    emulator = start_emulator("--lmi-production", "--keys", platform)
    for variable in ("LMI_PLATFORM_KEY", "LMI_CUSTOMER_KEY"):
        monkeypatch.delenv(variable, raising=False)
    source, out, db = tmp_path / "soc.csv", tmp_path / "o.csv", tmp_path / "s.db"
    distinct = soc_file(source, 60, seed=4)
    command = (
        "labor-market", source, "--by", "soc", "--column", "soc", "--out", out, "--db", db,
        "--base-url", emulator.url, "--environment", "production",
    )  # fmt: skip
    unkeyed = cli(*command)
    assert unkeyed.code == 2
    assert "set LMI_PLATFORM_KEY or pass --api-key" in unkeyed.err
    no_customer = cli(*command, "--api-key", platform)
    assert no_customer.code == 2
    assert "set LMI_CUSTOMER_KEY or pass --customer-key" in no_customer.err
    assert emulator.ledger()["requests"] == 0

    ran = cli(*command, "--api-key", platform, "--customer-key", customer)
    assert ran.code == 0, ran.err
    assert emulator.ledger()["by_path"][BY_SOC] == math.ceil(len(distinct) / 25)
    status = cli("status", "--db", db)
    printed = "".join(r.out + r.err for r in (unkeyed, no_customer, ran, status))
    assert {row["status"] for row in read_csv(out)} <= {"ok", "not_found"}
    for secret in (platform, customer):
        assert secret not in printed
        for path in tmp_path.iterdir():
            assert secret.encode() not in path.read_bytes(), path


def test_unknown_region_is_refused_before_any_lookup(emulator: Emulator, tmp_path: Path) -> None:
    """Regions are fetched once and kept; an unknown code is an error with no lookup sent."""
    db = tmp_path / "s.db"
    listed = run_cli("regions", "--type", "msa", "--db", db, "--base-url", emulator.url)
    assert listed.returncode == 0, listed.stderr
    assert "41860" in listed.stdout
    assert "San Francisco" in listed.stdout
    source = tmp_path / "soc.csv"
    soc_file(source, 10, seed=5)
    result = lmi(
        emulator, source, tmp_path / "o.csv", db, "--region-type", "msa", "--region", "12345"
    )
    assert result.returncode == 2
    assert "'12345' is not a known msa code" in result.stderr
    assert emulator.ledger()["requests"] == 1  # the one regions call, before

    ok = lmi(
        emulator,
        source,
        tmp_path / "o.csv",
        db,
        "--region-type",
        "msa",
        "--region",
        "41860",
        "--msa-fallback",
    )
    assert ok.returncode == 0, ok.stderr
    assert emulator.ledger()["by_path"]["/v1/labor-market-intelligence/regions"] == 1
    rows = read_csv(tmp_path / "o.csv")
    assert any("MSA_TO_STATE_PROJECTION_FALLBACK" in r["warnings"] for r in rows)


def test_cip_without_attribution_goes_one_code_a_request(
    start_emulator: StartEmulator, tmp_path: Path
) -> None:
    """Answers that do not name their CIP codes: one code per request, a notice, and the
    same occupations per code as when they do."""
    source = tmp_path / "cip.csv"
    rng = random.Random(6)
    codes = sorted(
        {
            f"{rng.choice(['11', '14', '51', '52', '13', '99'])}.{rng.randint(100, 9999):04d}"
            for _ in range(60)
        }
    )
    source.write_text("id,cip\n" + "".join(f"{i},{c}\n" for i, c in enumerate(codes)))

    def pairs(out: Path) -> set[tuple[str, str]]:
        return {(r["cip"], r["socCode"]) for r in read_csv(out) if r["status"] == "ok"}

    plain = start_emulator("--no-cip-attribution")
    result = lmi(plain, source, tmp_path / "a.csv", tmp_path / "a.db", "--by-cip")
    assert result.returncode == 0, result.stderr
    assert "one a request" in result.stderr
    assert result.stderr.count("note:") == 1
    assert plain.ledger()["by_path"][BY_CIP] == len(codes)

    named = start_emulator()
    result = lmi(named, source, tmp_path / "b.csv", tmp_path / "b.db", "--by-cip")
    assert result.returncode == 0, result.stderr
    assert "note:" not in result.stderr
    assert named.ledger()["by_path"][BY_CIP] < len(codes)
    assert pairs(tmp_path / "a.csv") == pairs(tmp_path / "b.csv")
    rows = read_csv(tmp_path / "b.csv")
    assert {r["row"] for r in rows} == {str(i + 1) for i in range(len(codes))}
    unknown = [r for r in rows if r["cip"].startswith("99.")]
    assert unknown
    assert all(r["status"] == "not_found" for r in unknown)


def test_quota_403_stops_with_exit_3_and_resumes(
    start_emulator: StartEmulator, tmp_path: Path
) -> None:
    """403 QUOTA_EXCEEDED stops like 402; more quota, same command: nothing billed twice."""
    emulator = start_emulator("--quota", "200")
    source = tmp_path / "soc.csv"
    distinct = soc_file(source, 600, seed=7)
    db, out = tmp_path / "s.db", tmp_path / "o.csv"
    result = lmi(emulator, source, out, db, "--concurrency", "4")
    assert result.returncode == 3, result.stderr
    assert "QUOTA_EXCEEDED" in result.stderr
    ledger = emulator.ledger()
    assert ledger["requests"] - ledger["first_seen_at"]["403"] <= 4
    emulator.configure(quota=None)
    result = lmi(emulator, source, out, db, "--concurrency", "4")
    assert result.returncode == 0, result.stderr
    ledger = emulator.ledger()
    assert ledger["billed_twice"] == 0
    assert ledger["billed_total"] == len(distinct)


@pytest.mark.slow
def test_kill_9_then_resume(start_emulator: StartEmulator, tmp_path: Path) -> None:
    """Killed mid-run: the same command finishes; at most `concurrency` requests re-billed."""
    emulator = start_emulator()
    source = tmp_path / "soc.csv"
    distinct = soc_file(source, 1200, seed=8)
    db, out = tmp_path / "s.db", tmp_path / "o.csv"
    command = bulkfetch_command(
        "labor-market", source, "--by", "soc", "--column", "soc", "--out", out, "--db", db,
        "--base-url", emulator.url, "--rate", "8", "--concurrency", "2",
    )  # fmt: skip
    process = subprocess.Popen(command, env=cli_env(), stderr=subprocess.PIPE, text=True)
    wait_until(lambda: emulator.ledger()["billed_total"] >= 300, what="300 codes billed")
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=30)
    assert emulator.ledger()["billed_total"] < len(distinct)
    result = subprocess.run(command, env=cli_env(), capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    ledger = emulator.ledger()
    assert ledger["billed_total"] - len(distinct) <= 2 * 25
    rows = read_csv(out)
    assert len(rows) == 1200
    assert {r["status"] for r in rows} <= {"ok", "not_found"}


def test_rate_limit_headers_are_honoured(start_emulator: StartEmulator, tmp_path: Path) -> None:
    """No --rate, one request at a time, a limit of 3/s: waiting for X-RateLimit-Reset when
    X-RateLimit-Remaining reaches 0 means never a 429."""
    emulator = start_emulator("--rate-limit", "3")
    source = tmp_path / "soc.csv"
    distinct = soc_file(source, 300, seed=9)
    result = lmi(emulator, source, tmp_path / "o.csv", tmp_path / "s.db", "--concurrency", "1")
    assert result.returncode == 0, result.stderr
    ledger = emulator.ledger()
    assert ledger["by_path"][BY_SOC] == math.ceil(len(distinct) / 25)
    assert "429" not in ledger["by_status"]


def test_faults_and_429s_are_retried_to_the_same_output(
    start_emulator: StartEmulator, tmp_path: Path
) -> None:
    """500s, dropped connections, cut bodies and random 429s on batches: every code ends
    final with the values a clean run gets."""
    faulty = start_emulator(
        "--fail-rate", "0.1", "--drop-rate", "0.05", "--truncate-rate", "0.05",
        "--throttle-rate", "0.1", "--seed", "3",
    )  # fmt: skip
    clean = start_emulator()
    source = tmp_path / "soc.csv"
    soc_file(source, 250, seed=10)
    result = lmi(faulty, source, tmp_path / "f.csv", tmp_path / "f.db", "--max-attempts", "10")
    assert result.returncode == 0, result.stderr
    assert lmi(clean, source, tmp_path / "c.csv", tmp_path / "c.db").returncode == 0
    assert (tmp_path / "f.csv").read_bytes() == (tmp_path / "c.csv").read_bytes()
    by_status = faulty.ledger()["by_status"]
    assert by_status.get("500", 0) + by_status.get("429", 0) + by_status.get("0", 0) > 0
