"""A run's report (bulkfetch report): one page that loads nothing from the network, its
charts carrying the run's numbers, checked in a real browser (headless Chromium)."""

from __future__ import annotations

import re
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest

from bulkfetch.run.page import MAX_BARS, RunView, render
from bulkfetch.samples import write_postcode_file
from bulkfetch.spend import Price, Spend
from bulkfetch.store import RunCounts, Second
from tests.acceptance.test_enrich import enrich
from tests.conftest import StartEmulator, run_cli

_RATE_LIMITED = re.compile(
    r'class="rate-limited"[^>]*data-second="(\d+)"[^>]*data-rate-limited="(\d+)"'
)
CHROMIUM = shutil.which("chromium")


def _counts(description: str = "crystalroof occupation of in.csv") -> RunCounts:
    return RunCounts(
        run_id=1, api="crystalroof", endpoint="e", description=description, input=None,
        options=None, created_at=0.0, updated_at=0.0, rows=10, invalid_rows=0,
        jobs_by_state={"done": 10}, spend=Spend(units=10, requests=10), max_units=None,
        stop_kind=None, stop_reason=None,
    )  # fmt: skip


def test_a_long_run_is_drawn_in_a_bounded_page() -> None:
    """50,000 seconds of calls (a million lookups at 20 a second): at most MAX_BARS bars, every
    429 counted in them, the page a few hundred KB."""
    seconds = [(1_000_000 + i, Second(calls=20, answered=20, latency=0.4, pace=20.0,
                                      rate_limited=1 if i % 997 == 0 else 0))
               for i in range(50_000)]  # fmt: skip
    page = render([RunView(_counts(), seconds)])
    found = [(int(s), int(n)) for s, n in _RATE_LIMITED.findall(page)]
    assert len(re.findall(r'<rect class="calls"', page)) <= MAX_BARS
    assert sum(n for _, n in found) == sum(s.rate_limited for _, s in seconds)
    assert len(page) < 400_000


def test_outside_text_is_escaped_and_nothing_is_loaded() -> None:
    """A run's description from a hostile file name is text, not markup; no URL is in it."""
    page = render([RunView(_counts('<script>alert(1)</script>"'), [])])
    assert "<script>" not in page
    assert "&lt;script&gt;" in page
    assert not re.search(r"(src|href)=|url\(|@import|https?://", page)


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (.ci/run installs it)")
def test_the_page_in_a_browser_shows_the_429s_at_their_seconds(
    start_emulator: StartEmulator, tmp_path: Path
) -> None:
    """A run that met 429s: its page, rendered by headless Chromium, has a 429 bar in each
    second the emulator answered 429 in (the call's second of sending: the same, or the one
    before), as many 429s in all, and the lookups' states the store has."""
    emulator = start_emulator("--rate-limit", "20", "--seed", "3")
    source = write_postcode_file(tmp_path / "in.csv", 120, seed=4)
    db, page = tmp_path / "s.db", tmp_path / "report.html"
    ran = enrich(emulator, source, tmp_path / "o.csv", db, "--rate", "35")
    assert ran.returncode == 0, ran.stderr
    made = run_cli("report", "--db", db, "--run", "1", "--out", page)
    assert made.returncode == 0, made.stderr
    text = page.read_text()
    assert not re.search(r"(src|href)=|url\(|@import|https?://", text)  # nothing loaded
    rendered = subprocess.run(
        [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom",
         page.as_uri()], capture_output=True, text=True, timeout=120, check=True,
    ).stdout  # fmt: skip
    assert "<svg" in rendered
    shown = {int(s): int(n) for s, n in _RATE_LIMITED.findall(rendered)}
    ledger = emulator.ledger()
    answered = {int(s): n for s, n in ledger["rate_limited_per_second"].items()}
    assert answered, "the run met no 429"
    assert sum(shown.values()) == sum(answered.values()) == ledger["by_status"]["429"]
    for second in answered:
        assert second in shown or second - 1 in shown, (second, shown)
    done = re.search(r'data-state="done">([\d,]+)<', rendered)
    assert done is not None
    assert int(done.group(1).replace(",", "")) == ledger["by_status"]["200"]


def test_a_price_puts_money_beside_the_units() -> None:
    """report --price: billed units and the cap with their cost."""
    page = render([RunView(_counts(), [])], Price(Decimal("0.02"), "GBP"))
    assert "10 units (0.20 GBP) in 10 requests" in page


def test_the_last_bar_of_a_span_counts_its_own_seconds() -> None:
    """601 seconds at 20 calls a second drawn in bars of two: the last, of one second, 20."""
    seconds = [(5_000 + i, Second(calls=20, answered=20)) for i in range(601)]
    page = render([RunView(_counts(), seconds)])
    rates = re.findall(r'class="calls"[^>]*data-calls="([\d.]+)"', page)
    assert len(rates) == 301
    assert set(rates) == {"20"}
