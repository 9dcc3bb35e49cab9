"""Any API by a description, end to end: the examples in ``examples/apis/`` run by
``bulkfetch fetch --api`` against ``bulkfetch emulate --api``, keeping the built-ins'
promises (billed == distinct, the plan equals the bill, the cap, the 402 stop, resume)."""

from __future__ import annotations

import asyncio
import csv
import json
import math
import time
import urllib.parse
import urllib.request
from collections import Counter
from pathlib import Path

import pytest

import bulkfetch
from bulkfetch.describe import load_description
from bulkfetch.samples import write_postcode_file
from tests.acceptance.reliability.helpers import rows_but_lookup
from tests.conftest import KEY, Cli, StartEmulator
from tests.integration.test_max_age import DAY, ShiftedClock

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "apis"
POSTCODES = EXAMPLES / "postcodes-io.toml"
GEOCODER = EXAMPLES / "geocoder.toml"
OCCUPATION = EXAMPLES / "crystalroof-occupation.toml"
GEOCODER_KEY = "geo-test-7c1d2e3f4a5b"


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_every_example_loads_and_has_its_sample_input_beside_it() -> None:
    """Each description in examples/apis/ loads, with a CSV input of the same stem."""
    found = sorted(EXAMPLES.glob("*.toml"))
    assert len(found) >= 3
    for path in found:
        assert load_description(path).name
        assert path.with_suffix(".csv").is_file(), path


def test_a_bulk_post_api_of_100_values_a_request(
    start_emulator: StartEmulator, cli: Cli, tmp_path: Path
) -> None:
    """postcodes.io's shape: 100 values a request in a JSON body, answers tied back by their
    query field: the plan says what the ledger then bills, billed == distinct valid values,
    one output row per input row, and a second run bills nothing."""
    source = write_postcode_file(
        tmp_path / "in.csv", 450, seed=3, repeat_rate=0.2, malformed_rate=0.02
    )
    emulator = start_emulator("--api", POSTCODES)
    out, db = tmp_path / "out.csv", tmp_path / "s.db"
    common = ("--column", "postcode", "--db", db, "--base-url", emulator.url)
    planned = cli("fetch", "--api", POSTCODES, source, "--out", out, *common, "--plan", "--json")
    assert planned.code == 0, planned.err
    plan = json.loads(planned.out)
    ran = cli("fetch", "--api", POSTCODES, source, "--out", out, *common)
    assert ran.code == 0, ran.err
    ledger = emulator.ledger()
    distinct = len(ledger["billed"])
    assert ledger["billed_total"] == distinct == plan["units"]
    assert ledger["requests"] == math.ceil(distinct / 100) == plan["requests"]
    rows = _rows(out)
    assert len(rows) == 450
    statuses = Counter(row["status"] for row in rows)
    assert statuses["invalid"] == plan["invalid"] > 0
    assert statuses["ok"] > statuses["not_found"] > 0
    assert all(row["latitude"] for row in rows if row["status"] == "ok")
    again = cli("fetch", "--api", POSTCODES, source, "--out", out, *common)
    assert again.code == 0, again.err
    assert emulator.ledger()["requests"] == ledger["requests"]


@pytest.mark.slow
def test_crystalroofs_occupation_described_writes_what_enrich_writes(
    start_emulator: StartEmulator, cli: Cli, tmp_path: Path
) -> None:
    """CrystalRoof's occupation as a description: on the same input and store, its output
    is `bulkfetch enrich`'s, in CSV and JSON Lines, but for the dataset's name before
    enrich's value columns and the lookup as each normalises it."""
    source = write_postcode_file(
        tmp_path / "in.csv", 300, seed=5, repeat_rate=0.2, malformed_rate=0.03
    )
    emulator = start_emulator("--api", OCCUPATION)
    db = tmp_path / "s.db"
    for suffix in ("csv", "jsonl"):
        built_in, described = tmp_path / f"enrich.{suffix}", tmp_path / f"fetch.{suffix}"
        common = (source, "--column", "postcode", "--db", db, "--base-url", emulator.url)
        assert cli("enrich", *common, "--out", built_in).code == 0
        ran = cli("fetch", "--api", OCCUPATION, *common, "--out", described)
        assert ran.code == 0, ran.err
        assert rows_but_lookup(described) == rows_but_lookup(built_in)
    statuses = Counter(row["status"] for row in _rows(tmp_path / "fetch.csv"))
    assert min(statuses["not_found"], statuses["invalid"], statuses["ok"]) > 0


def test_a_geocoder_of_a_line_a_candidate_stops_at_its_402(
    start_emulator: StartEmulator, cli: Cli, tmp_path: Path
) -> None:
    """The geocoder example, its answers from a file: a candidate a line, none for an
    unknown place (not found), its X-RateLimit headers sent; a spent package (402) stops
    the run with exit 3, and the same command finishes it once the package is topped up,
    billing nothing twice."""
    emulator = start_emulator(
        "--api", GEOCODER, "--answers", GEOCODER.with_suffix(".jsonl"), "--quota", "2"
    )
    source, out, db = GEOCODER.with_suffix(".csv"), tmp_path / "out.csv", tmp_path / "s.db"
    command = ("fetch", "--api", GEOCODER, source, "--column", "address", "--out", out)
    where = ("--db", db, "--base-url", emulator.url)
    stopped = cli(*command, *where, GEOCODER_KEY=GEOCODER_KEY)
    assert stopped.code == 3, stopped.err
    assert "package of calls is used up" in stopped.err
    assert Counter(row["status"] for row in _rows(out))["pending"] > 0
    emulator.configure(quota=None)
    done = cli(*command, *where, GEOCODER_KEY=GEOCODER_KEY)
    assert done.code == 0, done.err
    ledger = emulator.ledger()
    assert ledger["billed_twice"] == 0
    rows = _rows(out)
    by_id = Counter(row["id"] for row in rows)
    assert by_id["3"] == 2  # two candidates: two lines of one input row
    assert {row["status"] for row in rows if row["id"] == "4"} == {"not_found"}
    assert {row["status"] for row in rows if row["id"] == "5"} == {"invalid"}
    assert rows[0]["latitude"] == "51.5033635"
    assert GEOCODER_KEY not in stopped.err + done.err + out.read_text()
    told = [_rate_headers(emulator.url) for _ in range(2)]
    assert [t["X-RateLimit-Limit"] for t in told] == ["2500", "2500"]
    left = [int(t["X-RateLimit-Remaining"]) for t in told]
    assert left[0] - 1 == left[1] < 2500 - ledger["billed_total"]  # the run's calls counted
    assert float(told[0]["X-RateLimit-Reset"]) > time.time()  # the next UTC midnight


def _rate_headers(url: str) -> dict[str, str]:
    """The geocoder emulator's rate headers on one call (a key of the tests' own)."""
    query = urllib.parse.urlencode({"q": "sydney opera house", "key": GEOCODER_KEY})
    with urllib.request.urlopen(f"{url}/geocode/v1/json?{query}", timeout=10) as answer:
        return dict(answer.headers)


def test_the_cap_holds_for_a_batch_api(
    start_emulator: StartEmulator, cli: Cli, tmp_path: Path
) -> None:
    """--max-calls 30 on an API of 100 values a request: 30 billed at most, exit 7."""
    source = write_postcode_file(tmp_path / "in.csv", 200, seed=9)
    emulator = start_emulator("--api", POSTCODES)
    ran = cli(
        "fetch", "--api", POSTCODES, source, "--column", "postcode", "--out", tmp_path / "o.csv",
        "--db", tmp_path / "s.db", "--base-url", emulator.url, "--max-calls", "30",
    )  # fmt: skip
    assert ran.code == 7, ran.err
    assert 0 < emulator.ledger()["billed_total"] <= 30


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ('name = "x"\nbase_url = "https://a.example"\n[request]\npth = "/v1/{value}"\n',
         "line 4: request.pth is not a key"),
        ('name = "x"\nbase_url = "https://a.example"\n[request]\npath = "/v1/{valu}"\n',
         "line 4: request.path names {valu}"),
        ('name = "x"\nbase_url = "https://a.example"\n[request]\nmethod = "POST"\n'
         'path = "/v1"\nbody = { q = "{values}" }\n[batch]\nsize = 50\n',
         "line 7: batch needs a way to tie each answer item back"),
    ],
    ids=["unknown-key", "unknown-field", "batch-not-tied-back"],
)  # fmt: skip
def test_a_description_with_a_mistake_is_refused_before_any_store(
    cli: Cli, tmp_path: Path, text: str, said: str
) -> None:
    """A mistake in a description: exit 2 naming the file, line and key, from fetch and from
    emulate alike, and no store made."""
    bad = tmp_path / "bad.toml"
    bad.write_text(text)
    source = tmp_path / "in.csv"
    source.write_text("v\na\n")
    db = tmp_path / "s.db"
    ran = cli("fetch", "--api", bad, source, "--column", "v", "--out", tmp_path / "o.csv",
              "--db", db)  # fmt: skip
    assert ran.code == 2
    assert f"{bad}, {said}" in ran.err
    assert not db.exists()
    served = cli("emulate", "--api", bad, "--port", "0")
    assert served.code == 2
    assert f"{bad}, {said}" in served.err


async def test_the_library_loads_a_description_for_fetch_many(
    start_emulator: StartEmulator, tmp_path: Path
) -> None:
    """bulkfetch.load_api(FILE) gives a client whose get fetch_many and plan take: one call
    for one value, then each value's answer in input order, a named run resumed free."""
    emulator = start_emulator("--api", OCCUPATION)
    values = ["W6 0WW", "w60ww", "nonsense", "SW1A 1AA"]
    environ = {"CRYSTALROOF_API_KEY": KEY}
    db = tmp_path / "s.db"
    async with bulkfetch.load_api(OCCUPATION, base_url=emulator.url, environ=environ) as api:
        one = await api.get("W6 0WW")
        planned = await bulkfetch.plan(api.get, values, db=db)
        items = [item async for item in bulkfetch.fetch_many(api.get, values, db=db, run="r")]
        again = [item async for item in bulkfetch.fetch_many(api.get, values, db=db, run="r")]
    assert one["data"]["residents"]["Total"] > 0
    assert [item.status.value for item in items] == ["ok", "ok", "invalid", "ok"]
    assert items[1].result == items[0].result == one
    assert (planned.units, planned.invalid) == (2, 1)
    assert [item.result for item in again] == [item.result for item in items]
    assert emulator.ledger()["billed_total"] == 3  # the single call's, then two lookups


def test_a_described_day_is_stopped_at_then_resumed_the_next(
    start_emulator: StartEmulator, cli: Cli, tmp_path: Path
) -> None:
    """A description that allows 20 calls a day, told to stop: exit 9 after 20 requests,
    saying when the day opens; the library, a day on (an injected clock), does the rest,
    each lookup billed once, and the output holds every row."""
    described = tmp_path / "daily.toml"
    described.write_text(
        OCCUPATION.read_text().replace("[[auth]]", 'limits = ["20/day"]\n\n[[auth]]', 1)
    )
    source = write_postcode_file(tmp_path / "in.csv", 30, seed=17, malformed_rate=0.0)
    emulator = start_emulator()
    out, db = tmp_path / "out.csv", tmp_path / "s.db"
    common = (source, "--column", "postcode", "--out", out, "--db", db, "--base-url", emulator.url)
    stopped = cli("fetch", "--api", described, *common, "--at-limit", "stop")
    assert stopped.code == 9, stopped.err
    assert "day's allowance of 20 calls is spent" in stopped.err
    assert emulator.ledger()["requests"] == 20
    clock = ShiftedClock()
    clock.offset = DAY

    async def a_day_on() -> list[bulkfetch.Item[object]]:
        # A library run of its own over the same store: the 20 answered cost no call.
        environ = {"CRYSTALROOF_API_KEY": KEY}
        async with bulkfetch.load_api(described, base_url=emulator.url, environ=environ) as api:
            values = [row["postcode"] for row in _rows(source)]
            many = bulkfetch.fetch_many(api.get, values, db=db, clock=clock, at_limit="stop")
            return [item async for item in many]

    items = asyncio.run(a_day_on())
    ledger = emulator.ledger()
    assert len(items) == 30
    assert ledger["billed_total"] == len(ledger["billed"]) == len({i.input for i in items})
    done = cli("fetch", "--api", described, *common, "--at-limit", "stop")
    assert done.code == 0, done.err
    assert emulator.ledger()["requests"] == ledger["requests"]
    assert len(_rows(out)) == 30


def test_an_answers_own_status_input_and_error_keep_to_their_place(
    start_emulator: StartEmulator, cli: Cli, tmp_path: Path
) -> None:
    """An API whose answer has fields named status, input and error (written whole, in
    JSON Lines at the top): the row's own keep their names, the answer's get a _ after."""
    described = tmp_path / "clash.toml"
    described.write_text(
        'name = "clash"\nbase_url = "https://clash.example"\n'
        '[request]\npath = "/v/{value}"\n[output]\nflatten = ""\n'
    )
    answers = tmp_path / "clash.jsonl"
    answer = {"place": "here", "status": "failed", "input": "spoofed", "error": "no"}
    answers.write_text(json.dumps({"value": "a", "answer": answer}) + "\n")
    emulator = start_emulator("--api", described, "--answers", answers)
    source = tmp_path / "in.csv"
    source.write_text("v\na\n")
    out = tmp_path / "out.jsonl"
    ran = cli("fetch", "--api", described, source, "--column", "v", "--out", out,
              "--db", tmp_path / "s.db", "--base-url", emulator.url)  # fmt: skip
    assert ran.code == 0, ran.err
    (line,) = [json.loads(text) for text in out.read_text().splitlines()]
    assert (line["input"], line["status"]) == ({"v": "a"}, "ok")
    assert "error" not in line
    assert (line["status_"], line["input_"], line["error_"]) == ("failed", "spoofed", "no")
    assert line["place"] == "here"


def test_an_api_billed_by_the_request_is_planned_and_counted_so(
    start_emulator: StartEmulator, cli: Cli, tmp_path: Path
) -> None:
    """billed = "request", 100 values a request: the plan's units are its requests, which
    is what the emulator bills, and a fresh store answered none of them."""
    described = tmp_path / "by-request.toml"
    described.write_text(
        POSTCODES.read_text().replace("[request]", 'billed = "request"\n\n[request]', 1)
    )
    source = write_postcode_file(tmp_path / "in.csv", 250, seed=21)
    emulator = start_emulator("--api", described)
    common = ("--column", "postcode", "--db", tmp_path / "s.db", "--base-url", emulator.url)
    out = tmp_path / "out.csv"
    plan = json.loads(
        cli("fetch", "--api", described, source, "--out", out, *common, "--plan", "--json").out
    )
    ran = cli("fetch", "--api", described, source, "--out", out, *common)
    assert ran.code == 0, ran.err
    ledger = emulator.ledger()
    assert plan["units"] == plan["requests"] == ledger["requests"] == ledger["billed_total"] == 3
    assert "0 from the store" in " ".join(ran.err.split())
