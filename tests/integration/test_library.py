"""The library from asyncio code, against the real emulator."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest

import bulkfetch
from bulkfetch import CrystalRoof, NotFoundError, QuotaExhaustedError, enrich, fetch_many
from bulkfetch.apis.crystalroof.emulator import OCCUPATION_GROUPS
from bulkfetch.engine import StopRequest
from bulkfetch.jobs import StopKind
from bulkfetch.run.enqueue import CHUNK
from bulkfetch.samples import write_postcode_file
from tests.conftest import KEY, Emulator, StartEmulator


async def test_occupation_returns_typed_census_figures(emulator: Emulator) -> None:
    """One lookup: nine groups summing to the total, ranks 1..10, the data date."""
    async with CrystalRoof(KEY, base_url=emulator.url) as api:
        result = await api.occupation("w6 0ww", area_type="msoa")
    assert result.location == "W6 0WW"
    assert result.area_type == "msoa"
    assert set(result.residents) == {"Total", *OCCUPATION_GROUPS}
    assert sum(v for k, v in result.residents.items() if k != "Total") == result.residents["Total"]
    assert set(result.rank) == set(OCCUPATION_GROUPS)
    assert all(1 <= rank <= 10 for rank in result.rank.values())
    assert result.data_date == "2021-03-21"


async def test_answers_are_deterministic_and_spellings_agree(emulator: Emulator) -> None:
    """The same place asked twice, spelt two ways, gets the same figures."""
    async with CrystalRoof(KEY, base_url=emulator.url) as api:
        first = await api.occupation("SW1A 1AA")
        second = await api.occupation("sw1a1aa")
    assert first == second


async def test_missing_values_are_empty_locations(emulator: Emulator, tmp_path: Path) -> None:
    """None and a DataFrame's NaN are 'empty location', no call; statuses print as written."""
    values = [None, float("nan"), "sw1a1aa"]
    async with CrystalRoof(KEY, base_url=emulator.url) as api:
        items = [i async for i in fetch_many(api.occupation, values, db=tmp_path / "s.db")]
    assert [(i.input, i.status, i.error) for i in items[:2]] == [
        ("", "invalid", "empty location"),
        ("", "invalid", "empty location"),
    ]
    assert repr(items[2].status) == "'ok'"
    assert "status='ok'" in repr(items[2])
    assert emulator.ledger()["requests"] == 1


async def test_unknown_postcode_raises_not_found(start_emulator: StartEmulator) -> None:
    """404 is a NotFoundError for a single lookup."""
    emulator = start_emulator("--not-found-rate", "1.0")
    async with CrystalRoof(KEY, base_url=emulator.url) as api:
        with pytest.raises(NotFoundError, match="Can't find such location"):
            await api.occupation("W6 0WW")


async def test_exhausted_quota_raises(start_emulator: StartEmulator) -> None:
    """402 is a QuotaExhaustedError, with the provider's words and no key."""
    emulator = start_emulator("--quota", "1")
    async with CrystalRoof(KEY, base_url=emulator.url) as api:
        await api.occupation("W6 0WW")
        with pytest.raises(QuotaExhaustedError) as raised:
            await api.occupation("W6 0WX")
    assert "exhausted the available calls" in str(raised.value)
    assert KEY not in str(raised.value)


async def test_bulk_enrich_from_asyncio(emulator: Emulator, tmp_path: Path) -> None:
    """The engine the CLI uses, called from a program: a report and a whole output file."""
    source = write_postcode_file(tmp_path / "in.csv", 120, seed=4, malformed_rate=0.05)
    async with CrystalRoof(KEY, base_url=emulator.url) as api:
        report = await enrich(
            api, source, column="postcode", out=tmp_path / "out.csv", db=tmp_path / "s.db", rate=200
        )
    assert report.complete
    assert report.rows == 120
    assert sum(report.statuses.values()) == 120
    assert report.calls == emulator.ledger()["requests"]
    lines = (tmp_path / "out.csv").read_text(encoding="utf-8").splitlines()
    assert len(list(csv.DictReader(lines))) == 120


async def test_a_strict_limit_with_no_rate_set_is_survived(
    start_emulator: StartEmulator, tmp_path: Path
) -> None:
    """No --rate, a provider limit of 10/s: the 429s slow the client down; nothing fails."""
    emulator = start_emulator("--rate-limit", "10")
    source = write_postcode_file(tmp_path / "in.csv", 60, seed=6)
    async with CrystalRoof(KEY, base_url=emulator.url) as api:
        report = await enrich(
            api, source, column="postcode", out=tmp_path / "o.csv", db=tmp_path / "s.db"
        )
    assert report.complete, report.statuses
    ledger = emulator.ledger()
    assert ledger["by_status"].get("429", 0) > 0
    assert ledger["billed_twice"] == 0


async def test_a_stop_while_reading_the_input_still_writes_every_row(
    emulator: Emulator, tmp_path: Path
) -> None:
    """Stopped mid-enqueue: one output row per input row (pending), no call; then resumed."""
    rows = CHUNK + 200  # more than one chunk of the enqueue: it stops after the first
    source = write_postcode_file(tmp_path / "in.csv", rows, seed=12, repeat_rate=0.9)
    out, db = tmp_path / "o.csv", tmp_path / "s.db"
    stop = StopRequest()
    stop.request(StopKind.INTERRUPTED, "stopped by the test")
    async with CrystalRoof(KEY, base_url=emulator.url) as api:
        stopped = await enrich(api, source, column="postcode", out=out, db=db, stop=stop)
        assert stopped.stop_kind == StopKind.INTERRUPTED
        assert stopped.statuses == {"pending": rows}
        assert emulator.ledger()["requests"] == 0
        assert len(out.read_text(encoding="utf-8").splitlines()) == rows + 1

        resumed = await enrich(
            api, source, column="postcode", out=out, db=db, concurrency=64, rate=5000
        )
    assert resumed.complete
    assert resumed.rows == rows
    assert sum(resumed.statuses.values()) == rows
    assert emulator.ledger()["billed_twice"] == 0


def in_a_process(check: str) -> subprocess.CompletedProcess[str]:
    """``check`` (Python's source) run by an interpreter of its own, which it passes."""
    done = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done


def test_importing_the_package_loads_what_is_used_when_it_is_used() -> None:
    """``import bulkfetch`` loads no client, HTTP or database library until a name needs it."""
    check = (
        "import sys, bulkfetch\n"
        "heavy = {'aiohttp', 'sqlalchemy', 'bulkfetch.apis.labormarket.client'}\n"
        "assert not heavy & set(sys.modules), heavy & set(sys.modules)\n"
        "assert bulkfetch.LaborMarket.__name__ == 'LaborMarket' and 'aiohttp' in sys.modules\n"
        "assert bulkfetch.__version__ and 'plan' in dir(bulkfetch)\n"
    )
    in_a_process(check)


def test_the_command_line_reads_no_description_it_is_not_given() -> None:
    """The command line's start-up imports no part of described APIs but their plugin."""
    check = (
        "import sys\n"
        "from bulkfetch.cli.app import _parser\n"
        "_parser()\n"
        "loaded = {m for m in sys.modules if m.startswith('bulkfetch.describe.')}\n"
        "assert loaded == {'bulkfetch.describe.plugin'}, loaded\n"
    )
    in_a_process(check)


def test_the_version_alone_builds_no_command() -> None:
    """``bulkfetch --version`` imports no command, no API: it is said before any of them."""
    check = (
        "import sys\n"
        "from bulkfetch.cli import main\n"
        "try:\n"
        "    main(['--version'])\n"
        "except SystemExit as exit:\n"
        "    assert exit.code == 0\n"
        "assert 'bulkfetch.cli.app' not in sys.modules\n"
        "assert not any(m.startswith('bulkfetch.apis') for m in sys.modules)\n"
    )
    done = in_a_process(check)
    assert done.stdout.startswith("bulkfetch ")


def test_the_version_is_said_by_the_command_line() -> None:
    """``bulkfetch --version`` prints the installed version and exits 0."""
    done = subprocess.run(
        [sys.executable, "-m", "bulkfetch", "--version"], capture_output=True, text=True
    )
    assert done.returncode == 0
    assert done.stdout == f"bulkfetch {bulkfetch.__version__}\n"
