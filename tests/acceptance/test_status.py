"""``bulkfetch status`` as a user reads it: a run found by its name, the columns it read,
no empty options."""

from __future__ import annotations

import re
from pathlib import Path

import anyio

from bulkfetch import CrystalRoof, fetch_many
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
