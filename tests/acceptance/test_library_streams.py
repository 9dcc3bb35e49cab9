"""The library streams: fetch_many over a program's own values, through the durable queue,
against the real emulator."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from bulkfetch import (
    CrystalRoof,
    Item,
    LaborMarket,
    LaborMarketResult,
    OccupationResult,
    QuotaExhaustedError,
    UsageError,
    fetch_many,
)
from bulkfetch.apis.crystalroof import parse_location
from bulkfetch.errors import InvalidInputError
from bulkfetch.samples import postcodes
from tests.conftest import KEY, PLATFORM_KEY, Emulator, StartEmulator, run_cli


def raw_postcodes(count: int, *, seed: int) -> list[str]:
    """Postcodes as a program holds them: repeats spelt otherwise, junk, blanks."""
    rng = random.Random(seed)
    pool = list(postcodes(count, seed=seed))
    values = []
    for i in range(count):
        roll = rng.random()
        if roll < 0.03:
            values.append(rng.choice(["junk", "W6", "12345", "not a postcode"]))
        elif roll < 0.05:
            values.append(rng.choice(["", "   "]))
        elif roll < 0.20 and i:
            values.append(rng.choice(pool[:i]).lower().replace(" ", ""))
        else:
            values.append(pool[i])
    return values


def distinct_valid(values: list[str]) -> set[str]:
    found = set()
    for value in values:
        with contextlib.suppress(InvalidInputError):
            found.add(parse_location(value).value)
    return found


@pytest.mark.slow
async def test_two_thousand_values_in_order_then_left_and_resumed(
    emulator: Emulator, tmp_path: Path
) -> None:
    """2,000 raw postcodes: 2,000 typed items in input order; one billed call per distinct
    valid postcode; left after 700 and called again with the run's name, it finishes with
    no lookup billed twice."""
    values = raw_postcodes(2000, seed=21)
    db = tmp_path / "s.db"
    async with CrystalRoof(KEY, base_url=emulator.url) as api:
        first = []
        async for item in fetch_many(api.occupation, values, db=db, run="customers"):
            first.append(item)
            if len(first) == 700:
                break
        billed_at_break = emulator.ledger()["billed_total"]
        assert billed_at_break < len(distinct_valid(values))
        items = [item async for item in fetch_many(api.occupation, values, db=db, run="customers")]
    assert [item.index for item in items] == list(range(2000))
    assert [item.input for item in items] == values
    assert items[:700] == first
    statuses = Counter(item.status for item in items)
    assert set(statuses) == {"ok", "not_found", "invalid"}
    for item in items:
        if item.status == "ok":
            assert isinstance(item.result, OccupationResult)
            assert item.result.location == parse_location(item.input).value
            assert item.error is None
        else:
            assert item.result is None
            assert item.error
    ledger = emulator.ledger()
    assert ledger["billed_twice"] == 0
    assert ledger["billed_total"] == len(distinct_valid(values))


async def test_a_named_run_given_other_values_is_refused(
    emulator: Emulator, tmp_path: Path
) -> None:
    """The same name with other values (changed, more, fewer): a usage error, no call."""
    values = list(postcodes(30, seed=22))
    db = tmp_path / "s.db"
    async with CrystalRoof(KEY, base_url=emulator.url) as api:
        assert len([i async for i in fetch_many(api.occupation, values, db=db, run="r")]) == 30
        calls = emulator.ledger()["requests"]
        for other in ([*values[:29], "W6 0WW"], [*values, "W6 0WW"], values[:20]):
            with pytest.raises(UsageError, match="other inputs"):
                async for _ in fetch_many(api.occupation, other, db=db, run="r"):
                    pass
        assert emulator.ledger()["requests"] == calls
        again = [i async for i in fetch_many(api.occupation, iter(values), db=db, run="r")]
    assert len(again) == 30


async def test_a_spent_package_ends_the_iteration_with_its_error(
    start_emulator: StartEmulator, tmp_path: Path
) -> None:
    """402 mid-run: the rows that settled come first, in order, then QuotaExhaustedError;
    more calls in the package, the same run finishes, nothing billed twice."""
    emulator = start_emulator("--quota", "60")
    values = list(postcodes(200, seed=23))
    db = tmp_path / "s.db"
    got: list[Item[OccupationResult]] = []

    async def collect(api: CrystalRoof) -> None:
        async for item in fetch_many(api.occupation, values, db=db, run="q", concurrency=4):
            got.append(item)

    async with CrystalRoof(KEY, base_url=emulator.url) as api:
        with pytest.raises(QuotaExhaustedError):
            await collect(api)
        assert 0 < len(got) <= 60
        assert [item.index for item in got] == list(range(len(got)))
        emulator.configure(quota=None)
        rest = [i async for i in fetch_many(api.occupation, values, db=db, run="q")]
    assert len(rest) == 200
    assert emulator.ledger()["billed_twice"] == 0


async def test_many_single_calls_under_gather_are_spaced_not_refused(
    start_emulator: StartEmulator,
) -> None:
    """20 single calls at once against a limit of 10 a second: with the client's rate,
    spaced (never more than 10 in a second, no 429); without, every one answered all the
    same (the 429s learnt from and waited out, never raised)."""
    for rate in (10.0, None):
        emulator = start_emulator("--rate-limit", "10", "--not-found-rate", "0")
        async with CrystalRoof(KEY, base_url=emulator.url, rate=rate) as api:
            results = await asyncio.gather(*(api.occupation(p) for p in postcodes(20, seed=24)))
        assert all(isinstance(result, OccupationResult) for result in results)
        ledger = emulator.ledger()
        assert ledger["by_status"]["200"] == 20
        if rate is not None:
            assert "429" not in ledger["by_status"]
            assert max(ledger["per_second"].values()) <= 10


async def test_labor_market_codes_stream_as_their_own_results(
    emulator: Emulator, tmp_path: Path
) -> None:
    """by_soc in bulk: 25 codes a request, each item a LaborMarketResult for its code."""
    codes = [f"15-{1200 + i}" for i in range(60)] + ["15-1252.00", "bad"]
    async with LaborMarket(PLATFORM_KEY, base_url=emulator.url) as api:
        items = [
            item async for item in fetch_many(api.by_soc, codes, region="06", db=tmp_path / "s.db")
        ]
    assert [item.input for item in items] == codes
    assert items[-1].status == "invalid"
    answered = [item for item in items if item.status == "ok"]
    assert len(answered) > 50
    for item in answered:
        assert isinstance(item.result, LaborMarketResult)
        assert (item.result.region_type, item.result.region) == ("state", "6")
        assert [o.soc_code for o in item.result.occupations] == [item.input[:7]]
    assert emulator.ledger()["by_path"]["/v1/labor-market-intelligence/by-soc"] == 3


LEFT_WITH_BREAK = """
import asyncio, sys
from bulkfetch import CrystalRoof, fetch_many
from bulkfetch.samples import postcodes

async def main(url: str, db: str, leave: int, close: bool) -> None:
    values = list(postcodes(400, seed=25))
    api = CrystalRoof("KEY", base_url=url)
    seen = 0
    async for item in fetch_many(api.occupation, values, db=db, run="left"):
        seen += 1
        if seen == leave:
            break
    if close:
        await api.close()
    print(seen)

asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] == "close"))
"""


def program(
    script: Path, emulator: Emulator, db: Path, leave: int, close: str = "close"
) -> subprocess.CompletedProcess[str]:
    """The script run to its end: it leaves its loop after ``leave`` items (0: never); when
    it closes its client, any warning is an error."""
    args = [script, emulator.url, db, leave, close]
    strict = ["-W", "error"] if close == "close" else []
    command = [sys.executable, *strict, *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.slow
def test_a_loop_left_by_break_lands_its_calls_when_the_client_closes(
    start_emulator: StartEmulator, tmp_path: Path
) -> None:
    """break with no aclosing, then the client and asyncio.run end: the calls in flight are
    stored, nothing stays in flight, and the resume reports nothing possibly billed twice."""
    emulator = start_emulator("--latency", "0.05,0.2", "--not-found-rate", "0")
    script, db = tmp_path / "left.py", tmp_path / "s.db"
    script.write_text(LEFT_WITH_BREAK.replace('"KEY"', repr(KEY)))

    left = program(script, emulator, db, 50)
    assert (left.returncode, left.stdout.strip(), left.stderr) == (0, "50", "")
    (run,) = json.loads(run_cli("status", "--db", db, "--json").stdout)["runs"]
    assert "in_flight" not in run["lookups"]
    assert run["stop"] == {"kind": "interrupted", "reason": "the caller stopped iterating"}
    finished = program(script, emulator, db, 0)  # never left: to the end
    assert (finished.returncode, finished.stdout.strip()) == (0, "400"), finished.stderr
    (run,) = json.loads(run_cli("status", "--db", db, "--json").stdout)["runs"]
    assert run["spent"]["maybe_billed_twice"] == 0
    assert emulator.ledger()["billed_twice"] == 0
    assert emulator.ledger()["billed_total"] == run["spent"]["units"]


@pytest.mark.slow
def test_a_loop_left_by_break_with_no_close_warns_what_it_abandons(
    start_emulator: StartEmulator, tmp_path: Path
) -> None:
    """break, the client never closed, asyncio.run ends: the calls in flight cannot land;
    a warning names the fix and the run says what was abandoned, leased lookups put back."""
    emulator = start_emulator("--latency", "0.1,0.3", "--not-found-rate", "0")
    script, db = tmp_path / "left.py", tmp_path / "s.db"
    script.write_text(LEFT_WITH_BREAK.replace('"KEY"', repr(KEY)))
    left = program(script, emulator, db, 20, close="keep")
    assert left.returncode == 0, left.stderr
    assert "RuntimeWarning: fetch_many was left before its end" in left.stderr
    assert "contextlib.aclosing(fetch_many(...))" in left.stderr
    (run,) = json.loads(run_cli("status", "--db", db, "--json").stdout)["runs"]
    abandoned = run["lookups"].get("in_flight", 0)
    assert abandoned <= 16
    assert run["stop"]["reason"].startswith(f"stopped at once with {abandoned} calls in flight")
