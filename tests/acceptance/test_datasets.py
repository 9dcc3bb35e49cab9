"""Several datasets in one pass, and locations as real files hold them: the real CLI in a
subprocess against the real emulator, counted from its ledger."""

from __future__ import annotations

import csv
import random
from pathlib import Path

import pytest

from bulkfetch.apis.crystalroof.catalogue import CATALOGUE
from bulkfetch.apis.crystalroof.locations import parse_location
from bulkfetch.samples import postcodes, write_postcode_file
from tests.acceptance.test_enrich import distinct_valid, enrich, read_csv
from tests.conftest import Emulator, run_cli

THREE = ("--dataset", "occupation:area_type=lsoa", "--dataset", "income", "--dataset",
         "flood-risk")  # fmt: skip


@pytest.mark.slow
def test_three_datasets_one_row_each_then_a_fourth_bills_only_its_own(
    emulator: Emulator, tmp_path: Path
) -> None:
    """2,000 rows, occupation at lsoa, income and flood risk: one output row each, prefixed
    columns, a call per distinct valid location and dataset; a fourth dataset added to the
    same run bills only its own calls; no dataset that takes no area type is sent one."""
    source = write_postcode_file(
        tmp_path / "in.csv", 2000, seed=15, repeat_rate=0.1, malformed_rate=0.02
    )
    out, db = tmp_path / "out.csv", tmp_path / "s.db"
    done = enrich(emulator, source, out, db, *THREE, "--concurrency", "16")
    assert done.returncode == 0, done.stderr
    distinct = len(distinct_valid(source))
    ledger = emulator.ledger()
    assert ledger["billed_total"] == 3 * distinct
    assert ledger["billed_twice"] == 0
    for run, name in enumerate(("occupation", "income", "flood-risk"), start=1):
        assert f"run {run} ({name}) spent now: {distinct} billed lookups" in done.stderr
    rows = read_csv(out)
    assert [r["id"] for r in rows] == [r["id"] for r in read_csv(source)]
    header = list(rows[0])
    for prefix in ("occupation", "income", "flood-risk"):
        assert {f"{prefix}.status", f"{prefix}.error", f"{prefix}.data_date"} <= set(header)
    assert "occupation.residents.Total" in header
    assert "income.totalMeanAnnualIncome" in header
    for row in rows:
        parts = {row[f"{p}.status"] for p in ("occupation", "income", "flood-risk")}
        assert (row["status"] == "ok") == (parts == {"ok"})
        if row["status"] == "invalid":
            assert row["error"]
            assert not row["occupation.residents.Total"]
    # Dataset|area type|location: income and flood risk never carry an area type.
    kinds = {key.split("|")[0]: key.split("|")[1] for key in ledger["billed"]}
    assert kinds == {
        "work-and-travel/occupation": "lsoa",
        "income/mean-household-income": "",
        "environment/flood-risk": "",
    }

    again = enrich(emulator, source, out, db, *THREE, "--dataset", "sex")
    assert again.returncode == 0, again.stderr
    assert emulator.ledger()["billed_total"] == 4 * distinct
    assert "sex.residents.Total" not in read_csv(out)[0]  # sex's groups: its own columns
    assert any(name.startswith("sex.values.") for name in read_csv(out)[0])


def test_a_plan_counts_every_dataset_and_usage_errors_cost_nothing(
    emulator: Emulator, tmp_path: Path
) -> None:
    """The plan of three datasets counts a lookup per location and dataset; an area type a
    dataset does not take, an option it needs, and a dataset given twice are refused before
    any store or call."""
    source = write_postcode_file(tmp_path / "in.csv", 300, seed=16)
    out, db = tmp_path / "out.csv", tmp_path / "s.db"
    plan = enrich(emulator, source, out, db, *THREE, "--plan")
    assert plan.returncode == 0, plan.stderr
    assert f"to fetch: {3 * len(distinct_valid(source))} billable lookups" in plan.stdout
    for bad, why in (
        (["--dataset", "income:area_type=lsoa"], "takes no area_type"),
        (["--dataset", "crime"], "needs month"),
        (["--dataset", "crime:month=May"], "month is YYYY-MM"),
        (["--dataset", "income", "--dataset", "income"], "given twice"),
        (["--dataset", "nothing-like-it"], "no dataset 'nothing-like-it'"),
    ):
        refused = enrich(emulator, source, out, db, *bad)
        assert refused.returncode == 2, refused.stderr
        assert why in refused.stderr
    assert emulator.ledger()["requests"] == 0
    assert not db.exists()
    assert not out.exists()


def test_latitude_and_longitude_columns(emulator: Emulator, tmp_path: Path) -> None:
    """lat and lon in two columns, 10% swapped, 5% blank, 2% outside the UK: one call per
    distinct valid point; the rest invalid with their reason, at no call."""
    rng = random.Random(17)
    source = tmp_path / "points.csv"
    expected: dict[str, str] = {}
    valid: set[str] = set()
    with source.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "lat", "lon"])
        for i in range(1000):
            lat, lon = f"{rng.uniform(50.5, 55.5):.4f}", f"{rng.uniform(-4.5, 1.2):.4f}"
            roll = rng.random()
            if roll < 0.10:
                lat, lon, expected[str(i)] = lon, lat, "(latitude and longitude swapped?)"
            elif roll < 0.15:
                lat, lon, expected[str(i)] = "", "", "coordinates blank"
            elif roll < 0.17:
                lat, lon = f"{rng.uniform(40, 48):.4f}", f"{rng.uniform(2.5, 10):.4f}"
                expected[str(i)] = "coordinates outside the UK"
            else:
                valid.add(parse_location(f"{lat},{lon}").value)
            writer.writerow([i, lat, lon])
    out = tmp_path / "out.csv"
    done = run_cli(
        "enrich", source, "--lat-column", "lat", "--lon-column", "lon", "--out", out,
        "--db", tmp_path / "s.db", "--base-url", emulator.url,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert emulator.ledger()["billed_total"] == len(valid)
    for row in read_csv(out):
        if row["id"] in expected:
            assert row["status"] == "invalid"
            assert expected[row["id"]] in row["error"]
        else:
            assert row["status"] in {"ok", "not_found"}, row


def test_plain_uprns_and_a_postcode_to_fall_back_on(emulator: Emulator, tmp_path: Path) -> None:
    """UPRNs as plain numbers are looked up as UPRNs; a blank one falls back to the row's
    postcode, a row with neither is invalid with both reasons."""
    codes = list(postcodes(20, seed=18))
    source = tmp_path / "in.csv"
    with source.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["uprn", "postcode"])
        for i, code in enumerate(codes):
            writer.writerow([str(100023336900 + i) if i % 2 else "", code if i < 18 else ""])
    out = tmp_path / "out.csv"
    done = run_cli(
        "enrich", source, "--uprn-column", "uprn", "--column", "postcode", "--out", out,
        "--db", tmp_path / "s.db", "--base-url", emulator.url,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    asked = {key.split("|")[2] for key in emulator.ledger()["billed"]}
    uprns = {f"uprn{100023336900 + i}" for i in range(1, 20, 2)}
    fallen_back = {parse_location(codes[i]).value for i in range(0, 18, 2)}
    assert uprns <= asked
    assert fallen_back <= asked
    assert len(asked) == 10 + 9  # 10 UPRNs, 9 postcodes for the blank ones (not the 18th)
    rows = read_csv(out)
    assert rows[18]["status"] == "invalid"
    assert rows[18]["error"] == "UPRN blank; location blank"


def test_the_catalogue_is_listed() -> None:
    """``bulkfetch datasets`` lists every dataset of the catalogue with its area types."""
    listed = run_cli("datasets")
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert len(lines) == 1 + len(CATALOGUE)
    assert "income\tincome/mean-household-income\tnone" in listed.stdout
    assert "crime\tcrime/monthly-crimes\tnone\tmonth=..." in listed.stdout


def test_a_cap_holds_for_the_datasets_together(emulator: Emulator, tmp_path: Path) -> None:
    """--max-calls over three datasets bills at most that many in all, run after run (exit
    7); with --no-work, where they would be worked apart, it is refused."""
    source = write_postcode_file(tmp_path / "in.csv", 200, seed=19)
    out, db = tmp_path / "out.csv", tmp_path / "s.db"
    for _ in range(2):
        capped = enrich(emulator, source, out, db, *THREE, "--max-calls", "250")
        assert capped.returncode == 7, capped.stderr
        assert emulator.ledger()["billed_total"] <= 250
    assert len(read_csv(out)) == 200
    refused = enrich(emulator, source, out, db, *THREE, "--max-calls", "250", "--no-work")
    assert refused.returncode == 2, refused.stderr
    assert "--no-work" in refused.stderr
