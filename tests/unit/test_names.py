"""Column names as written: as they are, or in snake case for pandas and SQL."""

from __future__ import annotations

import pytest

from bulkfetch.io.names import named, snake


@pytest.mark.parametrize(
    ("name", "written"),
    [
        (
            "occupation.residents.1. Managers, directors",
            "occupation_residents_1_managers_directors",
        ),
        ("totalMeanAnnualIncome", "total_mean_annual_income"),
        ("income.totalMeanAnnualIncomeRank", "income_total_mean_annual_income_rank"),
        ("HTTPStatus", "http_status"),
        ("data_date", "data_date"),
        ("Café crème", "cafe_creme"),
        ("2021 total", "_2021_total"),
        ("...", "column"),
        ("flood-risk.riversAndSea", "flood_risk_rivers_and_sea"),
    ],
)
def test_snake_case(name: str, written: str) -> None:
    """Each name as snake case writes it."""
    assert snake(name) == written


def test_names_made_the_same_are_told_apart() -> None:
    """Two names snake case makes one get _2, and a name of bulkfetch's own is never taken."""
    names = ["a.b", "a_b", "A B", "Status"]
    assert named(names, "snake", taken=("status",)) == ["a_b", "a_b_2", "a_b_3", "status_2"]


def test_as_is_changes_nothing() -> None:
    """as-is: the names as they are."""
    assert named(["a.b", "A B"], "as-is") == ["a.b", "A B"]
