"""What a Labor Market lookup answers, as typed values, read from the API's JSON."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bulkfetch.apis.labormarket.wire import WireNames
from bulkfetch.errors import BadResponseError

__all__ = [
    "Demand",
    "LaborMarketData",
    "LaborMarketResult",
    "Occupation",
    "Region",
    "Skill",
    "Warning",
    "codes_of",
    "result_of",
]


@dataclass(frozen=True, slots=True)
class Demand:
    score: float | None
    factors: Sequence[str]
    growth_percentile: float | None
    openings_percentile: float | None


@dataclass(frozen=True, slots=True)
class LaborMarketData:
    median_annual_salary: float | None
    total_employment: float | None
    forecasted_employment_growth: float | None
    average_annual_openings: float | None
    typical_degree_level: str | None
    typical_work_experience: str | None
    demand: Demand | None


@dataclass(frozen=True, slots=True)
class Skill:
    id: str
    name: str
    description: str | None


@dataclass(frozen=True, slots=True)
class Occupation:
    soc_code: str
    name: str | None
    description: str | None
    alternative_titles: Sequence[str]
    labor_market_data: LaborMarketData | None
    skills: Mapping[str, Sequence[Skill]]  # "coreSkills" and the like, when asked for
    cip_codes: Sequence[str]  # the input CIP codes it matched, when the API says


@dataclass(frozen=True, slots=True)
class Warning:
    code: str
    message: str


@dataclass(frozen=True, slots=True)
class LaborMarketResult:
    region_type: str
    region: str | None
    occupations: Sequence[Occupation]
    warnings: Sequence[Warning]


@dataclass(frozen=True, slots=True)
class Region:
    type: str
    code: str
    label: str


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _text(value: Any) -> str | None:
    return str(value) if value is not None else None


def codes_of(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [str(v) for v in value]
    return []


def _occupation(raw: Mapping[str, Any], wire: WireNames) -> Occupation:
    market = raw.get("laborMarketData")
    demand = market.get("demand") if isinstance(market, Mapping) else None
    skills = raw.get("skillRequirements") or {}
    return Occupation(
        soc_code=str(raw.get("socCode", "")),
        name=_text(raw.get("name")),
        description=_text(raw.get("description")),
        alternative_titles=list(raw.get("alternativeTitles") or []),
        labor_market_data=LaborMarketData(
            median_annual_salary=_number(market.get("medianAnnualSalary")),
            total_employment=_number(market.get("totalEmployment")),
            forecasted_employment_growth=_number(market.get("forecastedEmploymentGrowth")),
            average_annual_openings=_number(market.get("averageAnnualOpenings")),
            typical_degree_level=_text(market.get("typicalDegreeLevel")),
            typical_work_experience=_text(market.get("typicalWorkExperience")),
            demand=Demand(
                score=_number(demand.get("score")),
                factors=list(demand.get("factors") or []),
                growth_percentile=_number(demand.get("growthPercentile")),
                openings_percentile=_number(demand.get("openingsPercentile")),
            )
            if isinstance(demand, Mapping)
            else None,
        )
        if isinstance(market, Mapping)
        else None,
        skills={
            group: [
                Skill(
                    str(s.get("mslSkillId")),
                    str(s.get("mslSkillName")),
                    _text(s.get("mslSkillDescription")),
                )
                for s in items
            ]
            for group, items in skills.items()
            if isinstance(items, list)
        },
        cip_codes=codes_of(raw.get(wire.cip_attribution_field)),
    )


def result_of(data: Any, wire: WireNames) -> LaborMarketResult:
    if not isinstance(data, Mapping):
        raise BadResponseError("the answer's 'data' is not an object")
    return LaborMarketResult(
        region_type=str(data.get("regionType", "national")),
        region=_text(data.get("region")),
        occupations=[_occupation(o, wire) for o in data.get("matchedOccupations") or []],
        warnings=[
            Warning(str(w.get("code")), str(w.get("message")))
            for w in data.get("warnings") or []
            if isinstance(w, Mapping)
        ],
    )
