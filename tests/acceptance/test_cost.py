"""Cost before paying, a cap, and what was spent: the real CLI against the real emulator."""

from __future__ import annotations

import itertools
import json
import math
import signal
import subprocess
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from bulkfetch.samples import write_postcode_file
from tests.acceptance.reliability.helpers import enrich_command
from tests.acceptance.test_enrich import enrich, read_csv
from tests.acceptance.test_labor_market import BY_SOC, lmi, soc_file
from tests.conftest import SIZES, Emulator, Runner, StartEmulator, cli_env, run_cli
from tests.waiting import wait_until


def plan_of(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert result.returncode == 0, result.stderr
    plan: dict[str, Any] = json.loads(result.stdout)
    return plan


def spent(db: Path) -> dict[str, int]:
    """The run's figures, as ``status --json`` gives them."""
    status = run_cli("status", "--db", db, "--json")
    assert status.returncode == 0, status.stderr
    figures: dict[str, int] = json.loads(status.stdout)["runs"][0]["spent"]
    return figures


@pytest.mark.parametrize(("size", "runner"), SIZES)
def test_the_plan_announces_exactly_what_the_run_bills(
    emulator: Emulator, tmp_path: Path, size: int, runner: Runner
) -> None:
    """--plan --json on rows with repeats and malformed ones: no call, no store; the units
    it announces are those the emulator bills when the run follows; then 0."""
    source = write_postcode_file(
        tmp_path / "in.csv", size, seed=7, repeat_rate=0.10, malformed_rate=0.02
    )
    out, db = tmp_path / "out.csv", tmp_path / "s.db"
    planned = enrich(emulator, source, out, db, "--plan", "--json", "--rate", "50", runner=runner)
    plan = plan_of(planned)
    assert emulator.ledger()["requests"] == 0
    assert not db.exists()
    assert not out.exists()
    assert plan["rows"] == size
    assert plan["invalid"] > size // 100
    assert plan["lookups"] == plan["units"] == plan["requests"] < size - plan["invalid"]
    assert plan["seconds"] == pytest.approx(plan["requests"] / 50)

    ran = enrich(emulator, source, out, db, "--rate", "5000", runner=runner)
    assert ran.returncode == 0, ran.stderr
    assert emulator.ledger()["billed_total"] == plan["units"]
    after = plan_of(enrich(emulator, source, out, db, "--plan", "--json", runner=runner))
    assert (after["units"], after["requests"], after["answered"]) == (0, 0, plan["lookups"])


def test_the_plan_counts_labor_market_codes_and_requests(
    emulator: Emulator, tmp_path: Path
) -> None:
    """Labor Market: the plan's codes are the codes billed, its requests the requests sent."""
    source = tmp_path / "soc.csv"
    distinct = soc_file(source, 1000, seed=5)
    with source.open("a") as handle:
        handle.write("1000,not a code\n1001,\n1002,15-12\n")
    out, db = tmp_path / "out.csv", tmp_path / "s.db"
    plan = plan_of(lmi(emulator, source, out, db, "--plan", "--json"))
    assert (plan["rows"], plan["invalid"]) == (1003, 3)
    assert plan["units"] == len(distinct)
    assert plan["requests"] == math.ceil(len(distinct) / 25)

    ran = lmi(emulator, source, out, db)
    assert ran.returncode == 0, ran.stderr
    ledger = emulator.ledger()
    assert ledger["billed_total"] == plan["units"]
    assert ledger["by_path"][BY_SOC] == plan["requests"]
    assert spent(db)["units"] == plan["units"]
    assert plan_of(lmi(emulator, source, out, db, "--plan", "--json"))["units"] == 0


def _store_bytes(db: Path) -> int:
    """A SQLite store's size on disk: the file and its write-ahead log, if any."""
    return sum(p.stat().st_size for p in (db, Path(f"{db}-wal")) if p.exists())


@pytest.mark.parametrize(
    "datasets",
    [("occupation",), pytest.param(("occupation", "income", "flood-risk"), marks=pytest.mark.slow)],
    ids=["one-dataset", "three-datasets"],
)
def test_the_plan_says_how_much_disk_the_run_takes(
    emulator: Emulator, tmp_path: Path, datasets: tuple[str, ...]
) -> None:
    """--plan's disk is within 30% of what the store grows by: on a new store from the
    API's typical answer, then for another file from the store's own answers."""
    out, db = tmp_path / "out.csv", tmp_path / "s.db"
    chosen = [arg for name in datasets for arg in ("--dataset", name)]
    for seed, answers_from in ((41, "the API's typical answer"), (42, "the store's answers")):
        source = write_postcode_file(
            tmp_path / f"in{seed}.csv", 1500, seed=seed, repeat_rate=0.1, malformed_rate=0.02
        )
        disk = plan_of(enrich(emulator, source, out, db, *chosen, "--plan", "--json"))["disk"]
        assert disk["answers_from"].startswith(answers_from)
        before = _store_bytes(db)
        ran = enrich(emulator, source, out, db, *chosen, "--rate", "5000", "--concurrency", "16")
        assert ran.returncode == 0, ran.stderr
        grown = _store_bytes(db) - before
        assert disk["bytes"] == pytest.approx(grown, rel=0.3)
        assert disk["rows_bytes"] + disk["answers_bytes"] == disk["bytes"]
    again = plan_of(enrich(emulator, source, out, db, *chosen, "--plan", "--json"))["disk"]
    assert again["bytes"] == 0  # its rows held, its answers fetched: nothing more


def test_a_cap_stops_before_the_call_that_would_pass_it(emulator: Emulator, tmp_path: Path) -> None:
    """--max-calls 137 on 500 units at concurrency 16: at most 137 billed, exit 7, no row
    failed; again with --max-calls 1000: done, nothing billed twice, billed == distinct."""
    source = write_postcode_file(tmp_path / "in.csv", 500, seed=11, malformed_rate=0.0)
    out, db = tmp_path / "out.csv", tmp_path / "s.db"
    distinct = plan_of(enrich(emulator, source, out, db, "--plan", "--json"))["units"]
    assert distinct == 500

    fast = ("--concurrency", "16", "--rate", "5000")  # no slow start: the cap is the point
    capped = enrich(emulator, source, out, db, "--max-calls", "137", *fast)
    assert capped.returncode == 7, capped.stderr
    assert "cap of 137 billed lookups is reached" in capped.stderr
    assert emulator.ledger()["billed_total"] <= 137
    statuses = {row["status"] for row in read_csv(out)}
    assert "failed" not in statuses
    assert "pending" in statuses

    again = enrich(emulator, source, out, db, "--max-calls", "1000", *fast)
    assert again.returncode == 0, again.stderr
    ledger = emulator.ledger()
    assert ledger["billed_total"] == len(ledger["billed"]) == distinct
    assert ledger["billed_twice"] == 0
    assert spent(db)["units"] == distinct


@pytest.mark.slow
def test_status_figures_are_the_ledger_s(start_emulator: StartEmulator, tmp_path: Path) -> None:
    """429s and faults (500s, dropped and cut-off answers): status --json equals the
    ledger; after a kill -9 and a resume, the ledger lies within what status says."""
    emulator = start_emulator(
        "--rate-limit", "40", "--fail-rate", "0.05", "--drop-rate", "0.02",
        "--truncate-rate", "0.02", "--throttle-rate", "0.02",  # 429s however it is paced
    )  # fmt: skip
    source = write_postcode_file(tmp_path / "in.csv", 1200, seed=13, malformed_rate=0.0)
    out, db = tmp_path / "out.csv", tmp_path / "s.db"
    first = enrich(emulator, source, out, db, "--rate", "60", "--max-calls", "300")
    assert first.returncode == 7, first.stderr
    ledger, figures = emulator.ledger(), spent(db)
    assert ledger["by_status"]["429"] > 0
    assert figures["requests"] == ledger["requests"]
    assert figures["rate_limited"] == ledger["by_status"]["429"]
    # A lost answer was billed (the emulator bills before it answers): possibly, it says.
    assert figures["units"] + figures["maybe_billed_twice"] == ledger["billed_total"]
    assert figures["maybe_billed_twice"] > 0

    command = enrich_command(emulator, source, out, db, "--rate", "60")
    killed = subprocess.Popen(command, env=cli_env(), stderr=subprocess.DEVNULL)
    wait_until(lambda: emulator.ledger()["billed_total"] >= 500, what="500 calls billed")
    killed.send_signal(signal.SIGKILL)
    killed.wait(timeout=30)
    resumed = run_cli(*command[3:])
    assert resumed.returncode == 0, resumed.stderr
    ledger, figures = emulator.ledger(), spent(db)
    # Calls in flight at the kill reached the emulator but no store: at most --concurrency.
    assert figures["requests"] <= ledger["requests"] <= figures["requests"] + 16
    assert figures["rate_limited"] <= ledger["by_status"]["429"] <= figures["rate_limited"] + 16
    billed = figures["units"] + figures["maybe_billed_twice"]
    assert figures["units"] <= ledger["billed_total"] <= billed
    assert ledger["billed_twice"] <= figures["maybe_billed_twice"]


@pytest.mark.slow
def test_timed_out_calls_are_counted_as_possibly_billed_twice(
    start_emulator: StartEmulator, tmp_path: Path
) -> None:
    """20% of answers take 5 s, --timeout 0.5: status counts at least the lookups the
    ledger billed twice, and the run says so at once, with what to do."""
    emulator = start_emulator("--slow-rate", "0.2", "--slow-seconds", "5")
    source = write_postcode_file(tmp_path / "in.csv", 150, seed=17, malformed_rate=0.0)
    db = tmp_path / "s.db"
    result = enrich(emulator, source, tmp_path / "out.csv", db, "--timeout", "0.5")
    ledger = emulator.ledger()
    assert ledger["billed_twice"] > 0
    assert spent(db)["maybe_billed_twice"] >= ledger["billed_twice"]
    assert "the API may have billed those calls" in result.stderr
    assert "--timeout" in result.stderr
    assert "--concurrency" in result.stderr


@pytest.mark.slow
def test_progress_lines_when_nobody_watches(emulator: Emulator, tmp_path: Path) -> None:
    """Output piped, no terminal: a progress line at a steady pace, each a single line."""
    source = write_postcode_file(tmp_path / "in.csv", 300, seed=19, malformed_rate=0.0)
    result = enrich(
        emulator, source, tmp_path / "out.csv", tmp_path / "s.db",
        "--rate", "40", "--progress-every", "1",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if " progress: " in line]
    assert len(lines) >= 4
    assert "\r" not in result.stderr
    assert "\x1b" not in result.stderr
    times = [datetime.strptime(line.split()[0], "%Y-%m-%dT%H:%M:%SZ") for line in lines]
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(times)]
    assert all(0 <= gap <= 2 for gap in gaps)  # whole seconds: 1 s apart, give or take one
    assert all(" rows (" in line and "calls/s" in line and "ETA" in line for line in lines)


def test_a_plan_needs_no_key(emulator: Emulator, tmp_path: Path) -> None:
    """--plan with no key: the same plan as with one, no request; a run without one: exit 2."""
    postcodes, codes = tmp_path / "in.csv", tmp_path / "soc.csv"
    write_postcode_file(postcodes, 30, seed=8)
    soc_file(codes, 30, seed=8)
    no_keys = {"CRYSTALROOF_API_KEY": "", "LMI_PLATFORM_KEY": ""}
    commands = [
        ("enrich", postcodes, "--column", "postcode"),
        ("labor-market", codes, "--by", "soc", "--column", "soc", "--region", "CA"),
    ]
    for command in commands:
        where = (*command, "--out", tmp_path / "o.csv", "--db", tmp_path / "s.db")
        args = (*where, "--base-url", emulator.url, "--plan", "--json")
        assert plan_of(run_cli(*args, env=no_keys)) == plan_of(run_cli(*args))
        refused = run_cli(*where, "--base-url", emulator.url, env=no_keys)
        assert refused.returncode == 2
        assert "--plan needs none" in refused.stderr
    assert emulator.ledger()["requests"] == 0


def test_a_price_puts_units_times_price_on_the_plan(emulator: Emulator, tmp_path: Path) -> None:
    """--price 0.02 --plan: units x 0.02 exactly, in words and --json; no price, no money."""
    source = write_postcode_file(tmp_path / "in.csv", 500, seed=23, repeat_rate=0.1)
    out, db = tmp_path / "out.csv", tmp_path / "s.db"
    plain = plan_of(enrich(emulator, source, out, db, "--plan", "--json"))
    assert "money" not in plain
    units = plain["units"]
    cost = f"{Decimal('0.02') * units:f}"  # 453 units: 9.06
    priced = plan_of(enrich(emulator, source, out, db, "--plan", "--json", "--price", "0.02"))
    assert priced["money"] == {"price": "0.02", "currency": None, "cost": cost}
    assert {k: v for k, v in priced.items() if k != "money"} == plain
    words = enrich(emulator, source, out, db, "--plan", "--price", "0.02", "--currency", "GBP")
    assert words.returncode == 0, words.stderr
    assert f"cost: {cost} GBP ({units} billable units at 0.02 GBP)" in words.stdout
    assert emulator.ledger()["requests"] == 0
    assert not db.exists()


def test_max_spend_is_never_passed(emulator: Emulator, tmp_path: Path) -> None:
    """--max-spend 1.00 --price 0.02 on 300 postcodes: <= 50 billed, exit 7; again, still."""
    source = write_postcode_file(tmp_path / "in.csv", 300, seed=29, malformed_rate=0.0)
    out, db = tmp_path / "out.csv", tmp_path / "s.db"
    money = ("--max-spend", "1.00", "--price", "0.02", "--currency", "GBP")
    fast = ("--concurrency", "16", "--rate", "5000")
    for _ in range(2):
        capped = enrich(emulator, source, out, db, *money, *fast)
        assert capped.returncode == 7, capped.stderr
        said = " ".join(capped.stderr.split())
        assert "cap of 50 billed lookups (1.00 GBP: --max-spend 1.00 GBP at 0.02 GBP each)" in said
        assert "higher --max-spend" in said
        assert 0 < emulator.ledger()["billed_total"] <= 50
        assert spent(db)["units"] <= 50
        assert "failed" not in {row["status"] for row in read_csv(out)}
    # A --max-calls below what the money buys is the cap that holds.
    tighter = enrich(emulator, source, out, db, *money, *fast, "--max-calls", "10")
    assert tighter.returncode == 7, tighter.stderr
    assert "cap of 10 billed lookups (0.20 GBP) is reached" in " ".join(tighter.stderr.split())
    assert emulator.ledger()["billed_total"] <= 50


@pytest.mark.parametrize(
    "money",
    [("--max-spend", "1.00"), ("--currency", "GBP"), ("--max-spend", "0.01", "--price", "0.02")],
    ids=["max-spend-without-price", "currency-without-price", "max-spend-buys-no-unit"],
)
def test_money_that_cannot_be_reckoned_is_refused_before_any_call(
    emulator: Emulator, tmp_path: Path, money: tuple[str, ...]
) -> None:
    """No --price for --max-spend or --currency, or too little to buy one: exit 2, no store."""
    source = write_postcode_file(tmp_path / "in.csv", 20, seed=31)
    db = tmp_path / "s.db"
    refused = enrich(emulator, source, tmp_path / "out.csv", db, *money)
    assert refused.returncode == 2, refused.stderr
    assert "--price" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert emulator.ledger()["requests"] == 0
    assert not db.exists()


def test_the_summary_and_status_show_money(emulator: Emulator, tmp_path: Path) -> None:
    """--price 0.0125: the summary and status --price show money to 4 places; --json too."""
    source = write_postcode_file(tmp_path / "in.csv", 40, seed=37, malformed_rate=0.0)
    out, db = tmp_path / "out.csv", tmp_path / "s.db"
    ran = enrich(emulator, source, out, db, "--price", "0.0125", "--currency", "USD")
    assert ran.returncode == 0, ran.stderr
    units = emulator.ledger()["billed_total"]
    cost = f"{Decimal('0.0125') * units:f}"
    said = " ".join(ran.stderr.split())
    assert f"spent now: {units} billed lookups ({cost} USD) in" in said
    assert "0 possibly billed twice (up to 0.0000 USD)" in said

    listed = run_cli("status", "--db", db, "--price", "0.0125", "--currency", "USD")
    assert listed.returncode == 0, listed.stderr
    assert f"billed: {units} lookups ({cost} USD) in {units} requests" in listed.stdout
    assert "possibly billed twice (answers lost, crashes): 0 (up to 0.0000 USD)" in listed.stdout
    figures = run_cli("status", "--db", db, "--json", "--price", "0.0125")
    (run,) = json.loads(figures.stdout)["runs"]
    assert run["money"] == {
        "price": "0.0125", "currency": None, "billed": cost, "maybe_billed_twice": "0.0000",
        "cap": None,
    }  # fmt: skip
    assert "money" not in json.loads(run_cli("status", "--db", db, "--json").stdout)["runs"][0]
    refused = run_cli("status", "--db", db, "--currency", "USD")
    assert refused.returncode == 2
