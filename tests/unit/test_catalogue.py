"""The dataset catalogue: what each dataset is sent, what is refused before any call, and
the names several datasets' columns carry."""

from __future__ import annotations

import pytest

from bulkfetch.apis.crystalroof.bulk import choices
from bulkfetch.apis.crystalroof.catalogue import choose, parse_choice
from bulkfetch.errors import UsageError


@pytest.mark.parametrize(
    ("name", "options", "default", "sent"),
    [
        ("occupation", {}, None, {"area_type": "oa"}),
        ("occupation", {}, "msoa", {"area_type": "msoa"}),
        ("occupation", {"area_type": "lsoa"}, "msoa", {"area_type": "lsoa"}),
        ("occupation", {"area_type": "none"}, None, {}),
        ("income", {}, "lsoa", {}),
        ("income", {"area_type": "none"}, None, {}),
        ("crime", {"month": "2024-05"}, "lsoa", {"month": "2024-05"}),
        ("x-y/z", {}, None, {"area_type": "oa"}),
        ("x-y/z", {"area_type": "none", "since": "2020"}, None, {"since": "2020"}),
    ],
)
def test_each_dataset_is_sent_only_what_it_takes(
    name: str, options: dict[str, str], default: str | None, sent: dict[str, str]
) -> None:
    """The run's area type goes only to datasets that take one; a dataset's own wins."""
    assert dict(choose(name, options, area_type=default).options) == sent


@pytest.mark.parametrize(
    ("name", "options", "why"),
    [
        ("income", {"area_type": "lsoa"}, "takes no area_type"),
        ("occupation", {"areatype": "lsoa"}, r"takes no areatype \(its options: area_type\)"),
        ("occupation", {"location": "W6 0WW"}, "location is not a dataset's option"),
        ("x-y/z", {"api_key": "k"}, "api_key is not a dataset's option"),
        ("crime", {}, "needs month"),
        ("crime", {"month": "May"}, "month is YYYY-MM"),
        ("occupation", {"area_type": "street"}, "takes area_type oa, lsoa"),
        ("no such thing", {}, "no dataset 'no such thing'"),
    ],
)
def test_what_cannot_be_asked_is_refused(name: str, options: dict[str, str], why: str) -> None:
    """Typos, reserved names, missing and malformed options are usage errors."""
    with pytest.raises(UsageError, match=why):
        choose(name, options)


def test_choices_name_each_dataset_once() -> None:
    """Options after a colon; the same name at another area type or path gets a suffix;
    the same dataset twice is refused."""
    assert parse_choice("occupation: area_type=lsoa , ") == ("occupation", {"area_type": "lsoa"})
    named = choices(
        ["occupation:area_type=lsoa", "occupation:area_type=msoa", "a/x", "b/x", "c/x"], None
    )
    assert list(named) == ["occupation", "occupation-msoa", "x", "x-oa", "x-3"]
    with pytest.raises(UsageError, match="given twice"):
        choices(["income", "income/mean-household-income"], None)
    with pytest.raises(UsageError, match="KEY=VALUE"):
        parse_choice("occupation:lsoa")
