"""The summary a run ends with: each dataset of a pass named with its own spend, and a
store's URL never with its password."""

from __future__ import annotations

import io

from rich.console import Console

from bulkfetch.cli.running import _print_summary
from bulkfetch.run.report import RunReport, combined_report
from bulkfetch.spend import Spend
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
