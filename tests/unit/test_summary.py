"""The summary a run ends with: each dataset of a pass named with its own spend, money at a
price, and a store's URL never with its password."""

from __future__ import annotations

import io
from decimal import Decimal

from rich.console import Console

from bulkfetch.cli.running import _print_summary
from bulkfetch.jobs import StopKind
from bulkfetch.run.report import RunReport, combined_report
from bulkfetch.spend import Price, Spend
from bulkfetch.store import shown_store


def _said(report: RunReport, db: str = "s.db") -> str:
    text = io.StringIO()
    _print_summary(report, Console(file=text, width=400), set(), db)
    return text.getvalue()


def test_each_dataset_of_a_pass_says_what_it_spent() -> None:
    """Two runs of 964 billed each: two named lines, not one of 1,928 under run 1."""
    reports = {
        name: RunReport(run, None, 10, {"ok": 10}, spent=Spend(units=964, requests=964))
        for run, name in ((1, "occupation"), (2, "income"))
    }
    said = _said(combined_report(reports))
    assert "run 1 (occupation) spent now: 964 billed lookups in 964 requests" in said
    assert "run 2 (income) spent now: 964 billed lookups in 964 requests" in said
    assert "1928" not in said


def test_enqueued_only_names_every_run_and_masks_the_password() -> None:
    """--no-work over two datasets: both runs named, and in the export it says, the real
    URL, no password."""
    parts = tuple(
        (name, RunReport(run, None, 5, {}, enqueued_only=True))
        for run, name in ((3, "occupation"), (4, "income"))
    )
    report = RunReport(3, None, 5, {}, enqueued_only=True, parts=parts)
    said = _said(report, "postgresql://me:hunter2@db.example/runs")
    assert "runs 3 (occupation), 4 (income): 5 rows enqueued" in said
    assert "--db postgresql://me:***@db.example/runs" in said
    assert "--run 3,4 --out FILE" in said
    assert "hunter2" not in said


def test_a_store_url_shows_no_secret_of_its_query() -> None:
    """A password in the query string is masked as the URL's own is; sslmode is kept."""
    said = shown_store("postgresql://me:pw@h/db?sslmode=require&sslpassword=x&password=y")
    assert said == "postgresql://me:***@h/db?password=***&sslmode=require&sslpassword=***"


def test_a_price_shows_money_and_names_the_cap_max_spend_set() -> None:
    """--max-spend 1.00 at 0.03: 33 units (0.99 GBP) is the cap; the advice says --max-spend."""
    report = RunReport(
        1, None, 40, {"ok": 33, "pending": 7}, spent=Spend(units=33, requests=33),
        run_spent=Spend(units=33, requests=33), max_calls=33, stop_kind=StopKind.CAP,
    )  # fmt: skip
    text = io.StringIO()
    price = Price(Decimal("0.03"), "GBP")
    _print_summary(
        report, Console(file=text, width=400), set(), "s.db", price=price, max_spend=Decimal("1")
    )
    said = text.getvalue()
    assert "spent now: 33 billed lookups (0.99 GBP) in 33 requests" in said
    assert "(cap: 33, 0.99 GBP)" in said
    assert "cap of 33 billed lookups (0.99 GBP: --max-spend 1.00 GBP at 0.03 GBP each)" in said
    assert "higher --max-spend" in said
    assert "higher --max-calls" in _said(report)  # no money: the cap is --max-calls's
