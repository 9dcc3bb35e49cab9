"""The emulated Labor Market API's synthetic data: plausible and deterministic salaries and
employment by SOC major group and region size, BLS-style projections, O*NET-style skills, a
CIP-to-SOC crosswalk, the states and MSAs."""

from __future__ import annotations

import hashlib
import random
import re
from typing import Any

from bulkfetch.apis.labormarket import states as known_states

__all__ = [
    "CIP",
    "CIP_SERIES",
    "MSAS",
    "REGIONS",
    "SOC",
    "STATES",
    "crosswalk",
    "fraction",
    "known_soc",
    "occupation",
]

SOC = re.compile(r"^(\d{2})-\d{4}$")
CIP = re.compile(r"^(\d{2})\.\d{4}$")

# SOC 2018 major groups: title stem, median salary range, typical degree.
_MAJOR_GROUPS: dict[str, tuple[str, tuple[int, int], str]] = {
    "11": ("Management", (90_000, 180_000), "Bachelor's degree"),
    "13": ("Business and Financial", (60_000, 110_000), "Bachelor's degree"),
    "15": ("Computer and Mathematical", (70_000, 150_000), "Bachelor's degree"),
    "17": ("Architecture and Engineering", (65_000, 130_000), "Bachelor's degree"),
    "19": ("Life, Physical, and Social Science", (55_000, 110_000), "Master's degree"),
    "21": ("Community and Social Service", (40_000, 65_000), "Bachelor's degree"),
    "23": ("Legal", (50_000, 150_000), "Doctoral or professional degree"),
    "25": ("Educational Instruction and Library", (35_000, 80_000), "Bachelor's degree"),
    "27": ("Arts, Design, Entertainment, Sports, and Media", (35_000, 80_000), "Bachelor's degree"),
    "29": ("Healthcare Practitioners and Technical", (45_000, 220_000), "Bachelor's degree"),
    "31": ("Healthcare Support", (28_000, 45_000), "Postsecondary nondegree award"),
    "33": ("Protective Service", (32_000, 75_000), "High school diploma or equivalent"),
    "35": (
        "Food Preparation and Serving Related",
        (25_000, 38_000),
        "No formal educational credential",
    ),
    "37": (
        "Building and Grounds Cleaning and Maintenance",
        (28_000, 42_000),
        "No formal educational credential",
    ),
    "39": ("Personal Care and Service", (26_000, 45_000), "High school diploma or equivalent"),
    "41": ("Sales and Related", (28_000, 90_000), "High school diploma or equivalent"),
    "43": (
        "Office and Administrative Support",
        (32_000, 55_000),
        "High school diploma or equivalent",
    ),
    "45": ("Farming, Fishing, and Forestry", (28_000, 45_000), "No formal educational credential"),
    "47": ("Construction and Extraction", (38_000, 75_000), "High school diploma or equivalent"),
    "49": (
        "Installation, Maintenance, and Repair",
        (38_000, 70_000),
        "High school diploma or equivalent",
    ),
    "51": ("Production", (32_000, 60_000), "High school diploma or equivalent"),
    "53": (
        "Transportation and Material Moving",
        (30_000, 65_000),
        "High school diploma or equivalent",
    ),
}
_TITLES = {
    "11-1021": "General and Operations Managers",
    "13-2011": "Accountants and Auditors",
    "15-1211": "Computer Systems Analysts",
    "15-1252": "Software Developers",
    "15-1253": "Software Quality Assurance Analysts and Testers",
    "29-1141": "Registered Nurses",
    "25-2021": "Elementary School Teachers, Except Special Education",
    "41-2031": "Retail Salespersons",
    "53-3032": "Heavy and Tractor-Trailer Truck Drivers",
}
# CIP 2020 two-digit series that exist.
CIP_SERIES = frozenset(
    f"{n:02d}"
    for n in (
        *(1, 3, 4, 5, 9, 10, 11, 12, 13, 14, 15, 16, 19, 22, 23, 24, 25, 26, 27, 29, 30),
        *(31, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 52, 54, 60, 61),
    )
)
# Where programs of a CIP series mostly lead (SOC major groups); others lead anywhere.
_CIP_TO_GROUPS = {
    "11": ("15",), "14": ("17", "15"), "13": ("25",), "51": ("29", "31"),
    "52": ("11", "13", "41", "43"), "22": ("23",), "26": ("19", "29"), "40": ("19",),
    "12": ("35", "39"), "47": ("49",), "46": ("47",), "49": ("53",), "43": ("33",),
}  # fmt: skip
STATES = {fips: name for fips, (_, name) in known_states.STATES.items()}
MSAS = {
    "12060": "Atlanta-Sandy Springs-Alpharetta, GA",
    "14460": "Boston-Cambridge-Newton, MA-NH",
    "16980": "Chicago-Naperville-Elgin, IL-IN-WI",
    "19100": "Dallas-Fort Worth-Arlington, TX",
    "19740": "Denver-Aurora-Lakewood, CO",
    "26420": "Houston-The Woodlands-Sugar Land, TX",
    "31080": "Los Angeles-Long Beach-Anaheim, CA",
    "33100": "Miami-Fort Lauderdale-Pompano Beach, FL",
    "35620": "New York-Newark-Jersey City, NY-NJ-PA",
    "37980": "Philadelphia-Camden-Wilmington, PA-NJ-DE-MD",
    "38060": "Phoenix-Mesa-Chandler, AZ",
    "41860": "San Francisco-Oakland-Berkeley, CA",
    "42660": "Seattle-Tacoma-Bellevue, WA",
    "47900": "Washington-Arlington-Alexandria, DC-VA-MD-WV",
}
REGIONS = {"national": {"99": "United States"}, "state": STATES, "msa": MSAS}
_SCALE = {"national": 1.0, "state": 0.03, "msa": 0.012}
_SKILLS = (
    ("Critical Thinking", "Using logic and reasoning to weigh solutions."),
    ("Active Listening", "Giving full attention to what others are saying."),
    ("Complex Problem Solving", "Identifying complex problems and evaluating options."),
    ("Programming", "Writing computer programs for various purposes."),
    ("Coordination", "Adjusting actions in relation to others' actions."),
    ("Monitoring", "Assessing performance of yourself, others, or organizations."),
)


def _rng(*parts: str) -> random.Random:
    return random.Random(hashlib.sha256("|".join(parts).encode()).digest())


def fraction(*parts: str) -> float:
    return int.from_bytes(hashlib.sha256("|".join(parts).encode()).digest()[:4], "big") / 2**32


def known_soc(code: str) -> bool:
    match = SOC.match(code)
    return match is not None and match.group(1) in _MAJOR_GROUPS


def crosswalk(cip: str) -> list[str]:
    """The SOC codes a program leads to (synthetic, stable); none for about 5% of programs."""
    if cip[:2] not in CIP_SERIES or fraction("cip-none", cip) < 0.05:
        return []
    rng = _rng("crosswalk", cip)
    groups = _CIP_TO_GROUPS.get(cip[:2], tuple(sorted(_MAJOR_GROUPS)))
    found = set()
    for _ in range(rng.randint(1, 3)):
        group = rng.choice(groups)
        titled = sorted(code for code in _TITLES if code.startswith(group))
        found.add(
            rng.choice(titled)
            if titled and rng.random() < 0.5
            else f"{group}-{rng.randint(1000, 9199)}"
        )
    return sorted(found)


def occupation(
    soc: str, region_type: str, region: str, include_skills: bool, fallback: bool
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    major = _MAJOR_GROUPS[soc[:2]]
    rng = _rng("soc", soc, region_type, region)
    low, high = major[1]
    employment = int(rng.uniform(20_000, 1_600_000) * _SCALE[region_type])
    missing_projection = region_type == "msa" and fraction("msa-proj", soc, region) < 0.25
    warnings = []
    growth: float | None = round(rng.uniform(-8, 25), 1)
    openings: int | None = max(10, int(employment * rng.uniform(0.05, 0.15)))
    if missing_projection:
        if fallback:
            warnings.append(
                {
                    "code": "MSA_TO_STATE_PROJECTION_FALLBACK",
                    "message": f"State-level projections used for {soc} in MSA {region}",
                    "socCode": soc,
                }
            )
        else:
            growth, openings = None, None
    occupation: dict[str, Any] = {
        "name": _TITLES.get(soc, f"{major[0]} Occupation {soc}"),
        "socCode": soc,
        "description": f"Synthetic description of {soc} ({major[0]} occupations).",
        "alternativeTitles": [f"{major[0]} Specialist", f"{major[0]} Associate"][
            : rng.randint(0, 2)
        ],
        "laborMarketData": {
            "medianAnnualSalary": round(rng.uniform(low, high), -2),
            "totalEmployment": employment,
            "forecastedEmploymentGrowth": growth,
            "averageAnnualOpenings": openings,
            "typicalDegreeLevel": major[2],
            "typicalWorkExperience": rng.choice(["None", "Less than 5 years", "5 years or more"]),
            "demand": {
                "score": rng.randint(1, 100),
                "factors": rng.sample(["growth", "openings", "wages", "automation risk"], 2),
                "growthPercentile": rng.randint(1, 99),
                "openingsPercentile": rng.randint(1, 99),
            },
        },
    }
    if include_skills:
        occupation["skillRequirements"] = {
            "coreSkills": [
                {
                    "mslSkillId": f"MSL-{int(fraction('skill', name) * 10_000):04d}",
                    "mslSkillName": name,
                    "mslSkillDescription": text,
                }
                for name, text in rng.sample(_SKILLS, 3)
            ]
        }
    return occupation, warnings
