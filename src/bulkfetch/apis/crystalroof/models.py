"""What a CrystalRoof lookup answers, as typed values."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["DatasetResult", "OccupationResult"]


@dataclass(frozen=True, slots=True)
class DatasetResult:
    """A dataset's answer for one location."""

    location: str
    data: Mapping[str, Any]
    data_date: str | None
    refreshed_date: str | None


@dataclass(frozen=True, slots=True)
class OccupationResult:
    """Census 2021 occupation (nine SOC 2020 major groups) for the area holding a location."""

    location: str
    area_type: str
    residents: Mapping[str, float]  # "Total" and one count per group
    rank: Mapping[str, float]  # one rank per group (undocumented; 1..10 in every example)
    data_date: str | None
    refreshed_date: str | None

    @classmethod
    def of(cls, result: DatasetResult, area_type: str) -> OccupationResult:
        return cls(
            location=result.location,
            area_type=area_type,
            residents=dict(result.data.get("residents", {})),
            rank=dict(result.data.get("rank", {})),
            data_date=result.data_date,
            refreshed_date=result.refreshed_date,
        )
