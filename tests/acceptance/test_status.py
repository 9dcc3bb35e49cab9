"""``bulkfetch status`` as a user reads it: a run found by its name, the columns it read,
no empty options, what its reruns had from the store."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import anyio
import pytest

from bulkfetch import CrystalRoof, fetch_many
from bulkfetch.apis.crystalroof.locations import parse_location
from bulkfetch.samples import write_postcode_file
from tests.conftest import KEY, Emulator, run_cli


async def _named_run(emulator: Emulator, db: Path) -> None:
    async with CrystalRoof(KEY, base_url=emulator.url) as api:
        async for _ in fetch_many(api.occupation, ["SW1A 1AA"], db=db, run="customers"):
            pass


def test_status_names_the_run_its_columns_and_only_real_options(
    emulator: Emulator, tmp_path: Path
) -> None:
    """A library run by its name; a coordinates run's columns; income with no area_type=."""
    db = tmp_path / "s.db"
    anyio.run(_named_run, emulator, db)
    points = tmp_path / "points.csv"
    points.write_text("lat,lon\n51.5,-0.12\n")
    ran = run_cli(
        "enrich", points, "--lat-column", "lat", "--lon-column", "lon", "--dataset", "income",
        "--out", tmp_path / "o.csv", "--db", db, "--base-url", emulator.url,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr

    named = run_cli("status", "--db", db, "--run", "customers")
    assert named.returncode == 0, named.stderr
    assert "(run 'customers')" in named.stdout
    assert "column: input" in named.stdout
    assert "income" not in named.stdout

    every = run_cli("status", "--db", db)
    assert "column: lat lat, lon lon" in every.stdout
    assert not re.search(r"=(,|$)", every.stdout, re.MULTILINE)  # no option set to nothing
    unknown = run_cli("status", "--db", db, "--run", "nobody")
    assert unknown.returncode == 2
    assert "no run 'nobody'" in unknown.stderr


def _from_store(db: Path) -> dict[int, tuple[int, int]]:
    """Each run's "from the store" (never paid for) and its last command's, by run id."""
    ran = run_cli("status", "--db", db, "--json")
    assert ran.returncode == 0, ran.stderr
    runs = json.loads(ran.stdout)["runs"]
    return {run["run"]: (run["spent"]["from_store"], run["last_from_store"]) for run in runs}


@pytest.mark.parametrize(
    "datasets", [("occupation",), ("occupation", "income")], ids=["one-run", "a-pass-of-two"]
)
def test_a_rerun_answered_from_the_store_is_counted_in_status(
    emulator: Emulator, tmp_path: Path, datasets: tuple[str, ...]
) -> None:
    """The same enrich twice: the rerun bills nothing; status says its last command had every
    lookup from the store, the run none it never paid for."""
    source = write_postcode_file(
        tmp_path / "in.csv", 120, seed=5, repeat_rate=0.2, malformed_rate=0
    )
    with source.open(encoding="utf-8", newline="") as rows:
        lookups = len({parse_location(row["postcode"]).value for row in csv.DictReader(rows)})
    db = tmp_path / "s.db"
    chosen = [arg for name in datasets for arg in ("--dataset", name)]
    command: tuple[str | Path, ...] = (
        "enrich", source, "--column", "postcode", "--out", tmp_path / "o.csv", "--db", db,
        "--base-url", emulator.url, "--rate", "5000", *chosen,
    )  # fmt: skip
    first = run_cli(*command)
    assert first.returncode == 0, first.stderr
    billed = emulator.ledger()["billed_total"]
    assert billed == lookups * len(datasets)
    assert set(_from_store(db).values()) == {(0, 0)}

    again = run_cli(*command)
    assert again.returncode == 0, again.stderr
    assert emulator.ledger()["billed_total"] == billed
    assert f"{lookups} from the store" in " ".join(again.stderr.split())
    assert _from_store(db) == dict.fromkeys(range(1, len(datasets) + 1), (0, lookups))
    listed = " ".join(run_cli("status", "--db", db).stdout.split())
    said = f"from the store (not billed): 0; its last command had {lookups} from the store"
    assert listed.count(said) == len(datasets)
