"""DataFrames through the library, against the real emulator: ``enrich_frame`` on pandas and
polars, a Series to ``fetch_many``, and the example notebook run as a user runs it."""

from __future__ import annotations

import csv
import math
import random
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd  # type: ignore[import-untyped]  # no stubs: frames are read through Any
import pytest

from bulkfetch import (
    CapReachedError,
    CrystalRoof,
    InvalidInputError,
    LaborMarket,
    MissingColumnError,
    UsageError,
    enrich,
    enrich_frame,
    fetch_many,
    parse_location,
)
from bulkfetch.jobs import Outcome
from bulkfetch.samples import postcodes
from tests.conftest import KEY, PLATFORM_KEY, Emulator

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = ROOT / "examples" / "enrich-a-dataframe.ipynb"
TOTAL = "occupation.residents.Total"
JUNK = ["hello", "W6 0", "12345", "QQ1 1QQ1", "W6-0WW", "SW1A 1A", "ZZ99 9Z", "n/a", "   "]


def customers(rows: int = 1000, distinct: int = 300, seed: int = 7) -> pd.DataFrame:
    """A frame as real ones come: a shuffled string index (some labels twice), ``distinct``
    postcodes and repeats of them spelt otherwise, junk, NaN, None and pandas' NA, and a
    ``status`` column of its own."""
    rng = random.Random(seed)
    places = list(postcodes(distinct, seed=seed))
    spellings: list[Callable[[str], str]] = [
        str.lower,
        lambda p: p.replace(" ", ""),
        lambda p: f"  {p}  ",
    ]
    missing: list[Any] = [float("nan"), None, pd.NA]
    values: list[Any] = list(places)
    values += [rng.choice(JUNK) for _ in range(rows * 12 // 100)]
    values += [rng.choice(missing) for _ in range(rows * 13 // 100)]
    values += [rng.choice(spellings)(rng.choice(places)) for _ in range(rows - len(values))]
    rng.shuffle(values)
    index = [f"cust-{i:04d}" for i in range(rows)]
    rng.shuffle(index)
    index[-10:] = index[:10]  # a label or two given twice, as a careless join leaves them
    return pd.DataFrame(
        {
            "postcode": pd.Series(values, dtype=object, index=index),
            "status": [rng.choice(["gold", "silver"]) for _ in range(rows)],
            "amount": [round(rng.uniform(0, 500), 2) for _ in range(rows)],
        },
        index=index,
    )


def missing(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def canonical(value: Any) -> str | None:
    """The lookup a value is, as the client normalises it; None if it can be none."""
    if missing(value):
        return None
    try:
        return parse_location(str(value)).value
    except InvalidInputError:
        return None


async def test_a_frame_keeps_its_rows_and_bills_each_distinct_value_once(
    emulator: Emulator, tmp_path: Path
) -> None:
    """1,000 rows: same index, order and columns; statuses right; billed == distinct valid."""
    frame = customers()
    before = frame.copy(deep=True)
    lookups = [canonical(value) for value in frame["postcode"]]
    distinct = {lookup for lookup in lookups if lookup is not None}
    assert len(distinct) == 300
    async with CrystalRoof(KEY, base_url=emulator.url) as api:
        out = await enrich_frame(
            api.occupation, frame, column="postcode", db=tmp_path / "s.db", run="customers"
        )
    pd.testing.assert_frame_equal(frame, before)  # the frame given is not changed
    assert out is not frame
    assert list(out.index) == list(frame.index)
    pd.testing.assert_frame_equal(out[list(frame.columns)], frame)
    assert list(out.columns[:5]) == ["postcode", "status", "amount", "status_", "error"]
    for value, lookup, status, error, total in zip(
        frame["postcode"], lookups, out["status_"], out["error"], out[TOTAL], strict=True
    ):
        if lookup is None:
            assert status == "invalid"
            blank = missing(value) or not str(value).strip()
            assert error == "empty location" if blank else "not a UK postcode" in error
            assert math.isnan(total)
        elif status == "ok":
            assert missing(error)
            assert total > 0
        else:
            assert status == "not_found"
            assert "find such location" in error
    statuses = Counter(out["status_"])
    assert statuses["invalid"] == sum(lookup is None for lookup in lookups)
    assert statuses["ok"] > statuses["not_found"] > 0
    by_lookup = out.assign(lookup=lookups).dropna(subset=["lookup", TOTAL])
    assert (by_lookup.groupby("lookup")[TOTAL].nunique() == 1).all()  # a place, one answer
    ledger = emulator.ledger()
    assert ledger["billed_total"] == len(distinct)
    assert ledger["billed_twice"] == 0


async def test_the_same_run_resumes_and_then_bills_nothing(
    emulator: Emulator, tmp_path: Path
) -> None:
    """Stopped by max_calls, the same run= carries on, then answers all from the store."""
    frame = customers(seed=11)
    distinct = {c for c in map(canonical, frame["postcode"]) if c is not None}
    db = tmp_path / "s.db"
    async with CrystalRoof(KEY, base_url=emulator.url) as api:
        with pytest.raises(CapReachedError):
            await enrich_frame(
                api.occupation, frame, column="postcode", db=db, run="crm", max_calls=100
            )
        assert emulator.ledger()["billed_total"] == 100
        first = await enrich_frame(api.occupation, frame, column="postcode", db=db, run="crm")
        assert emulator.ledger()["billed_total"] == len(distinct)
        again = await enrich_frame(api.occupation, frame, column="postcode", db=db, run="crm")
    ledger = emulator.ledger()
    assert ledger["billed_total"] == len(distinct)
    assert ledger["billed_twice"] == 0
    pd.testing.assert_frame_equal(again, first)
    assert "pending" not in set(first["status_"])


async def test_the_columns_are_named_as_the_cli_names_them(
    emulator: Emulator, tmp_path: Path
) -> None:
    """The added columns are the CSV output's (bar its lookup column), in its order."""
    values = ["W6 0WW", "sw1a1aa", "hello", "", "N1 9GU"]
    frame = pd.DataFrame({"postcode": values, "error": range(5)})
    source = tmp_path / "in.csv"
    frame.to_csv(source, index=False)
    async with CrystalRoof(KEY, base_url=emulator.url) as api:
        out = await enrich_frame(
            api.dataset, frame, column="postcode", dataset="income", db=tmp_path / "s.db"
        )
        await enrich(
            api,
            source,
            column="postcode",
            dataset="income",
            out=tmp_path / "out.csv",
            db=tmp_path / "s.db",
        )
    with (tmp_path / "out.csv").open(encoding="utf-8", newline="") as handle:
        header = next(csv.reader(handle))
    assert list(out.columns) == [name for name in header if name != "lookup"]
    assert "error_" in out.columns
    assert list(out["error"]) == list(range(5))
    assert list(out["status"]) == ["ok", "ok", "invalid", "invalid", "ok"]
    assert emulator.ledger()["billed_total"] == 3  # the second pass answered from the store


async def test_a_polars_frame_comes_back_as_polars(emulator: Emulator, tmp_path: Path) -> None:
    """A polars frame: polars back, its columns and row order kept, nulls invalid."""
    pl = pytest.importorskip("polars", reason="polars is not installed (the polars extra)")
    frame = pl.DataFrame(
        {"id": [5, 3, 9, 1, 7], "postcode": ["W6 0WW", None, "w6 0ww", "junk!", "N1 9GU"]}
    )
    async with CrystalRoof(KEY, base_url=emulator.url) as api:
        out = await enrich_frame(api.occupation, frame, column="postcode", db=tmp_path / "s.db")
    assert isinstance(out, pl.DataFrame)
    assert out.select(frame.columns).equals(frame)
    assert out.get_column("status").to_list() == ["ok", "invalid", "ok", "invalid", "ok"]
    assert out.get_column("error").to_list()[1] == "empty location"
    totals = out.get_column(TOTAL).to_list()
    assert totals[0] == totals[2]
    assert totals[1] is None
    assert emulator.ledger()["billed_total"] == 2


async def test_a_series_goes_to_fetch_many_as_it_is(emulator: Emulator, tmp_path: Path) -> None:
    """A Series: its values in order (its index does not matter), NaN an empty location."""
    series = pd.Series(["N1 9GU", float("nan"), "w6 0ww", None], index=[40, 10, 30, 20])
    async with CrystalRoof(KEY, base_url=emulator.url) as api:
        items = [i async for i in fetch_many(api.occupation, series, db=tmp_path / "s.db")]
    assert [(i.index, i.input, i.status) for i in items] == [
        (0, "N1 9GU", "ok"),
        (1, "", "invalid"),
        (2, "w6 0ww", "ok"),
        (3, "", "invalid"),
    ]
    assert items[1].error == items[3].error == "empty location"
    assert emulator.ledger()["requests"] == 2


async def test_labor_market_codes_and_what_a_frame_cannot_hold(
    emulator: Emulator, tmp_path: Path
) -> None:
    """by_soc fills its own columns; by_cip (lines a code) and bad frames are refused."""
    frame = pd.DataFrame({"soc": ["15-1252", "SOC 29-1141", "nonsense"]}, index=["x", "y", "z"])
    async with LaborMarket(PLATFORM_KEY, base_url=emulator.url) as api:
        out = await enrich_frame(api.by_soc, frame, column="soc", region="CA", db=tmp_path / "s.db")
        assert list(out.index) == ["x", "y", "z"]
        assert list(out["status"][:2]) == ["ok", "ok"]
        assert out["status"]["z"] == "invalid"
        assert list(out.columns[-3:]) == ["regionType", "region", "warnings"]
        with pytest.raises(UsageError, match="several lines a value"):
            await enrich_frame(api.by_cip, frame, column="soc", db=tmp_path / "s.db")
        with pytest.raises(MissingColumnError, match="did you mean 'soc'"):
            await enrich_frame(api.by_soc, frame, column="SOC", db=tmp_path / "s.db")
        with pytest.raises(TypeError, match="pandas or polars DataFrame"):
            await enrich_frame(api.by_soc, frame["soc"], column="soc", db=tmp_path / "s.db")


class Recording:
    """A Progress that keeps what it is told."""

    def __init__(self) -> None:
        self.settled = 0

    def start(self, total_rows: int, settled_rows: int, label: str = "") -> None:
        self.settled += settled_rows

    def grow(self, total_rows: int) -> None:
        pass

    def advance(self, settled_rows: int, outcomes: Sequence[Outcome]) -> None:
        self.settled += settled_rows

    def notice(self, text: str, *, warning: bool = False) -> None:
        pass


async def test_progress_of_ones_own_and_a_bar(
    emulator: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A Progress given is told of the rows settled; progress=True draws tqdm's bar."""
    pytest.importorskip("tqdm", reason="tqdm is not installed (the notebook extra)")
    frame = customers(rows=60, distinct=20, seed=3)
    recording = Recording()
    async with CrystalRoof(KEY, base_url=emulator.url) as api:
        await enrich_frame(
            api.occupation, frame, column="postcode", db=tmp_path / "a.db", progress=recording
        )
        await enrich_frame(
            api.occupation, frame, column="postcode", db=tmp_path / "b.db", progress=True
        )
    assert 20 <= recording.settled <= 60
    assert "enrich_frame: 100%" in capsys.readouterr().err


@pytest.mark.slow
def test_the_example_notebook_runs(
    emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """examples/enrich-a-dataframe.ipynb runs in a kernel against the emulator, with a bar."""
    nbformat = pytest.importorskip("nbformat", reason="nbformat is not installed (notebook)")
    nbclient = pytest.importorskip("nbclient", reason="nbclient is not installed (notebook)")
    monkeypatch.setenv("BULKFETCH_EMULATOR", emulator.url)
    monkeypatch.setenv("JUPYTER_PLATFORM_DIRS", "1")  # no warning about Jupyter's old paths
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    assert all(not cell.get("outputs") for cell in notebook.cells), "outputs are kept clear"
    client = nbclient.NotebookClient(
        notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": tmp_path}}
    )
    client.execute()
    outputs = [out for cell in notebook.cells for out in cell.get("outputs", [])]
    assert not [out for out in outputs if out.output_type == "error"]
    shown = "\n".join(str(out.get("data", {}).get("text/plain", "")) for out in outputs)
    assert "ok" in shown
    assert "invalid" in shown
    bars = [o for o in outputs if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert bars or any("enrich_frame" in str(o.get("text", "")) for o in outputs)
    assert emulator.ledger()["billed_total"] == 3  # three places among the eight rows
    assert (tmp_path / "bulkfetch.db").exists()
