"""CrystalRoof, emulated: the occupation dataset, the catalogue's datasets, and any
dataset of occupation's shape.

Answers are synthetic but deterministic per (dataset, area type, options, location), with
the documented shape where one is documented (occupation's groups, income's flat body) and
a plausible one where not (flood risk, postcode details, crimes: the catalogue's guesses);
a few per cent of well-formed postcodes are unknown (404). A catalogue dataset sent an area
type it does not take, or without an option it needs, is refused with a 400; one asked on
the wrong path (with or without ``/postcode/``) is a 404. The six documented error bodies
are sent word for word.
"""

from __future__ import annotations

import hashlib
import random
from decimal import Decimal
from typing import Any

from aiohttp import web

from bulkfetch.apis.crystalroof.catalogue import OCCUPATION_GROUPS, Dataset, find
from bulkfetch.apis.crystalroof.locations import Location, LocationKind, parse_location
from bulkfetch.emulator.server import GATE, Refusal, deliver
from bulkfetch.errors import InvalidInputError

__all__ = ["ERRORS", "OCCUPATION_GROUPS", "mount"]

ERRORS = {
    401: "No such API key or it is not valid anymore.",
    402: "You have exhausted the available calls provided by your package.",
    403: "API key is invalid for the given action.",
    404: "Can't find such location.",
    429: "Too many requests have been sent in one second.",
    500: "We have already started working on a resolution!",
}

_GENERIC_GROUPS = tuple(f"Category {i}" for i in range(1, 6))
_AREA_SIZE = {
    "oa": (80, 300),
    "lsoa": (900, 2000),
    "msoa": (4000, 9000),
    "lad": (60_000, 250_000),
    "region": (1_500_000, 4_500_000),
    "country": (1_400_000, 27_000_000),
}
_DEMO_SECTOR = "W6 0"
_DEMO_RECTANGLE = ((Decimal("51.492"), Decimal("-0.25")), (Decimal("51.502"), Decimal("-0.225")))


def _digest(*parts: str) -> bytes:
    return hashlib.sha256("|".join(parts).encode()).digest()


def is_known(location: Location, not_found_rate: float) -> bool:
    """Whether the emulated API knows this location (a fixed few per cent of it does not)."""
    fraction = int.from_bytes(_digest("known", location.value)[:4], "big") / 2**32
    return fraction >= not_found_rate


def _in_demo_area(location: Location) -> bool:
    if location.kind is LocationKind.POSTCODE:
        return location.postcode_sector == _DEMO_SECTOR
    if location.kind is LocationKind.COORDINATES:
        lat, long = (Decimal(part) for part in location.value.split(","))
        (lat0, long0), (lat1, long1) = _DEMO_RECTANGLE
        return lat0 <= lat <= lat1 and long0 <= long <= long1
    return False


def synthetic_data(dataset: str, area_type: str, location: Location) -> dict[str, Any]:
    """The ``data`` object for a lookup: groups summing to a total, and a rank per group."""
    rng = random.Random(_digest(dataset, area_type, location.value))
    groups = OCCUPATION_GROUPS if dataset.endswith("/occupation") else _GENERIC_GROUPS
    low, high = _AREA_SIZE.get(area_type, _AREA_SIZE["oa"])
    weights = [rng.uniform(0.3, 3.0) for _ in groups]
    total = rng.randint(low, high)
    counts = [round(total * w / sum(weights)) for w in weights]
    population = "residents" if groups is OCCUPATION_GROUPS else "values"
    return {
        population: {"Total": sum(counts), **dict(zip(groups, counts, strict=True))},
        "rank": {group: rng.randint(1, 10) for group in groups},
    }


def dataset_data(
    dataset: str, area_type: str, location: Location, options: dict[str, str]
) -> dict[str, Any]:
    """The ``data`` object of any dataset: the catalogue's own shapes, else groups."""
    extra = [f"{k}={v}" for k, v in sorted(options.items())]
    rng = random.Random(_digest(dataset, area_type, location.value, *extra))
    if dataset == "income/mean-household-income":
        return {
            "totalMeanAnnualIncome": rng.randrange(18_000, 120_000, 100),
            "totalMeanAnnualIncomeRank": rng.randint(1, 10),
        }
    if dataset == "environment/flood-risk":
        levels = ("Very low", "Low", "Medium", "High")
        return {"riversAndSea": rng.choice(levels), "surfaceWater": rng.choice(levels)}
    if dataset == "geography/postcode-details":
        return {
            "lsoa": f"E0100{rng.randint(1000, 9999)}",
            "msoa": f"E0200{rng.randint(1000, 9999)}",
            "lad": f"E0600{rng.randint(1000, 9999)}",
            "country": "England",
        }
    if dataset == "crime/monthly-crimes":
        kinds = ("burglary", "vehicle-crime", "violent-crime", "anti-social-behaviour")
        counts = {kind: rng.randint(0, 40) for kind in kinds}
        return {"month": options.get("month"), "total": sum(counts.values()), **counts}
    return synthetic_data(dataset, area_type, location)


def _misasked(known: Dataset | None, request: web.Request) -> tuple[int, dict[str, str]] | None:
    """Why a catalogue dataset cannot answer this request as asked, if it cannot."""
    if known is None:
        return None
    if known.postcode_segment != ("/postcode/" in request.path):
        return 404, _error(404)
    area_type = request.query.get("area_type")
    if area_type is not None and area_type not in known.area_types:
        return 400, {"error": "Invalid area_type."}
    for needed in known.needs:
        if not request.query.get(needed):
            return 400, {"error": f"Missing parameter: {needed}."}
    return None


def _error(status: int) -> dict[str, str]:
    return {"error": ERRORS[status]}


async def _lookup(request: web.Request) -> web.StreamResponse:
    gate = request.app[GATE]
    key = request.query.get("api_key")
    dataset = f"{request.match_info['category']}/{request.match_info['method']}"
    area_type = request.query.get("area_type", "")
    options = {k: v for k, v in request.query.items() if k not in {"api_key", "area_type"}}
    try:
        location: Location | None = parse_location(request.match_info["location"])
    except InvalidInputError:
        location = None
    place = location.value if location else request.match_info["location"]
    lookup = "|".join(
        [dataset, area_type, place, *(f"{k}={v}" for k, v in sorted(options.items()))]
    )
    gate.ledger.tried[lookup] += 1
    try:
        gate.admit(key)
    except Refusal as refusal:
        status = refusal.status
        return await deliver(request, gate, status, _error(status), None, headers=refusal.headers)
    assert key is not None
    if area_type and area_type not in _AREA_SIZE:
        return await deliver(request, gate, 400, {"error": "Invalid area_type."}, None)
    misasked = _misasked(find(dataset), request)
    if misasked is not None:
        return await deliver(request, gate, *misasked, None)
    if key == "DEMO" and (location is None or not _in_demo_area(location)):
        return await deliver(request, gate, 403, _error(403), None)
    fault = gate.fault()
    if fault == "fail":
        return await deliver(request, gate, 500, _error(500), None)
    gate.bill(key, lookup)
    if location is None or not is_known(location, gate.config.not_found_rate):
        return await deliver(request, gate, 404, _error(404), fault)
    body = {
        "data": dataset_data(dataset, area_type or "oa", location, options),
        "dataDate": "2021-03-21",
        "refreshedDate": "2021-03-21",
    }
    return await deliver(request, gate, 200, body, fault)


def mount(app: web.Application) -> None:
    app.router.add_get("/customer-api/{category}/{method}/postcode/v1/{location}", _lookup)
    app.router.add_get("/customer-api/{category}/{method}/v1/{location}", _lookup)
