"""Labor Market Intelligence, emulated: by-soc, by-cip and regions.

Synthetic but plausible and deterministic: salaries and employment by SOC major group and
region size, BLS-style projections, O*NET-style skills, a CIP-to-SOC crosswalk. A batch
holding a malformed or unknown SOC code, or an unknown region, answers 400 INVALID_INPUT as
a whole, as the docs warn. Unknown CIP codes get an INVALID_CIP_CODE warning. Every answer
carries X-RateLimit-* headers; a quota runs out as 403 QUOTA_EXCEEDED; in production mode
an end-customer key is required. Billing is per code answered.
"""

from __future__ import annotations

import math
import re
from typing import Any

from aiohttp import web

from bulkfetch.apis.labormarket.emulated_data import (
    CIP,
    CIP_SERIES,
    REGIONS,
    SOC,
    crosswalk,
    fraction,
    known_soc,
)
from bulkfetch.apis.labormarket.emulated_data import (
    occupation as synthetic_occupation,
)
from bulkfetch.apis.labormarket.wire import WireNames
from bulkfetch.emulator.server import GATE, Gate, Refusal, deliver

__all__ = ["OPTIONS", "mount"]

_PREFIX = "/v1/labor-market-intelligence"
MAX_CODES = 25


# The emulator's settings of this API (``bulkfetch emulate`` options, or
# ``POST /_emulator/config {"options": {...}}``), and their defaults: the wire names as
# WireNames has them, test mode, and CIP answers that say which code each occupation matched.
OPTIONS: dict[str, Any] = {
    "lmi_production": False,
    "cip_attribution": True,
    "customer_key_header": WireNames().customer_key_header,
    "region_field": WireNames().region_field,
    "msa_fallback_field": WireNames().msa_fallback_field,
    "cip_attribution_field": WireNames().cip_attribution_field,
}


def _option(gate: Gate, name: str) -> Any:
    return gate.config.options.get(name, OPTIONS[name])


def _error(status: int, code: str, message: str) -> dict[str, Any]:
    return {
        "object": "error",
        "error": {
            "code": code,
            "message": message,
            "details": {},
            "documentationUrl": f"https://docs.example/errors/{code.lower()}",
        },
    }


_REFUSALS = {
    401: (401, "UNAUTHORIZED", "Missing or invalid API key."),
    403: (403, "FORBIDDEN", "Access denied: insufficient permissions."),
    402: (403, "QUOTA_EXCEEDED", "Quota exceeded for this customer."),
    429: (429, "RATE_LIMITED", "Rate limit exceeded."),
}


def _rate_headers(gate: Gate, key: str | None) -> dict[str, str]:
    limit = gate.config.rate_limit or 1000
    if gate.config.window == "minute":
        limit *= 60
    used, resets_at = gate.used_now(key or "")
    return {
        "X-RateLimit-Limit": str(limit),
        "X-RateLimit-Remaining": str(max(0, limit - used)),
        "X-RateLimit-Reset": str(math.ceil(resets_at)),
    }


def _bearer(request: web.Request) -> str | None:
    value = request.headers.get("Authorization", "")
    return value[7:] if value.startswith("Bearer ") else None


def _check_access(request: web.Request, gate: Gate) -> tuple[int, dict[str, Any]] | None:
    """The refusal for this request's keys, limit and quota, if any."""
    key = _bearer(request)
    try:
        gate.admit(key)
    except Refusal as refusal:
        status, code, message = _REFUSALS[refusal.status]
        return status, _error(status, code, message)
    if _option(gate, "lmi_production"):
        customer = request.headers.get(_option(gate, "customer_key_header"), "")
        if not customer.startswith("ck_"):
            return 403, _error(403, "INVALID_CUSTOMER_KEY", "A valid end-customer key is required.")
    return None


class _Refused(Exception):
    """An answer other than 200, decided before any data is made."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(status)
        self.answer = (status, body)


def _invalid(message: str) -> _Refused:
    return _Refused(400, _error(400, "INVALID_INPUT", message))


def _parse(
    body: Any, field: str, pattern: re.Pattern[str], gate: Gate
) -> tuple[list[str], dict[str, Any]]:
    """The codes and options of a lookup body; :class:`_Refused` with a 400 if unusable."""
    if not isinstance(body, dict) or not isinstance(body.get(field), list):
        raise _invalid(f"'{field}' must be a list of codes")
    codes = body[field]
    if not 1 <= len(codes) <= MAX_CODES:
        raise _invalid(f"'{field}' must hold 1 to {MAX_CODES} codes; got {len(codes)}")
    malformed = [c for c in codes if not isinstance(c, str) or not pattern.match(c)]
    if malformed:
        raise _invalid(f"Malformed code(s): {', '.join(map(str, malformed))}")
    region_type = body.get("regionType", "national")
    if region_type not in REGIONS:
        raise _invalid(f"Unknown regionType {region_type!r}")
    region = str(body.get(_option(gate, "region_field"), "99" if region_type == "national" else ""))
    if region not in REGIONS[region_type]:
        raise _invalid(f"Unknown {region_type} region {region!r}")
    return codes, {
        "regionType": region_type,
        "region": region,
        "fields": body.get("fields"),
        "includeSkills": bool(body.get("includeSkills")),
        "fallback": bool(body.get(_option(gate, "msa_fallback_field"))),
    }


def _shape(occupation: dict[str, Any], fields: Any) -> dict[str, Any]:
    if isinstance(fields, list) and fields:
        return {k: v for k, v in occupation.items() if k in fields}
    return occupation


async def _lookup(request: web.Request, by: str) -> web.StreamResponse:
    gate = request.app[GATE]
    gate.ledger.by_path[request.path] += 1
    refused = _check_access(request, gate)
    # After admission, so that the call that takes the window's last slot says 0 remain.
    headers = _rate_headers(gate, _bearer(request))
    if refused is not None:
        return await _answer_with(request, gate, refused, headers)
    field, pattern = ("socCodes", SOC) if by == "soc" else ("cipCodes", CIP)
    try:
        try:
            body = await request.json()
        except ValueError:
            raise _invalid("The body is not JSON") from None
        codes, options = _parse(body, field, pattern, gate)
        unknown = [c for c in codes if by == "soc" and not known_soc(c)]
        if unknown:
            raise _invalid(f"Unknown SOC code(s): {', '.join(unknown)}")
    except _Refused as invalid:
        return await _answer_with(request, gate, invalid.answer, headers)
    fault = gate.fault()
    if fault == "fail":
        return await _answer_with(
            request, gate, (500, _error(500, "INTERNAL_ERROR", "Internal server error")), headers
        )
    key = _bearer(request) or ""
    for code in dict.fromkeys(codes):
        gate.bill(key, f"{by}|{code}|{options['regionType']}|{options['region']}")
    occupations: dict[str, dict[str, Any]] = {}
    warnings: list[dict[str, Any]] = []
    for code in dict.fromkeys(codes):
        if by == "soc":
            # A few real codes have no data for a region: the answer leaves them out.
            matches = [] if fraction("soc-none", code, options["region"]) < 0.03 else [code]
        else:
            if code[:2] not in CIP_SERIES:
                warnings.append(
                    {"code": "INVALID_CIP_CODE", "message": f"{code} is not a CIP 2020 code"}
                )
            matches = crosswalk(code)
        for soc in matches:
            if soc not in occupations:
                occupation, notes = synthetic_occupation(
                    soc,
                    options["regionType"],
                    options["region"],
                    options["includeSkills"],
                    options["fallback"],
                )
                occupations[soc] = _shape(occupation, options["fields"])
                warnings.extend(notes)
            if by == "cip" and _option(gate, "cip_attribution"):
                occupations[soc].setdefault(_option(gate, "cip_attribution_field"), []).append(code)
    data = {
        "regionType": options["regionType"],
        "region": options["region"],
        "matchedOccupations": list(occupations.values()),
        "warnings": warnings,
    }
    return await _answer_with(request, gate, (200, {"data": data}), headers, fault)


async def _answer_with(
    request: web.Request,
    gate: Gate,
    answer: tuple[int, dict[str, Any]],
    headers: dict[str, str],
    fault: str | None = None,
) -> web.StreamResponse:
    status, body = answer
    return await deliver(request, gate, status, body, fault, headers=headers)


async def _by_soc(request: web.Request) -> web.StreamResponse:
    return await _lookup(request, "soc")


async def _by_cip(request: web.Request) -> web.StreamResponse:
    return await _lookup(request, "cip")


async def _regions(request: web.Request) -> web.StreamResponse:
    gate = request.app[GATE]
    gate.ledger.by_path[request.path] += 1
    refused = _check_access(request, gate)
    # After admission, so that the call that takes the window's last slot says 0 remain.
    headers = _rate_headers(gate, _bearer(request))
    if refused is not None:
        return await _answer_with(request, gate, refused, headers)
    wanted = request.query.get("type")
    if wanted is not None and wanted not in REGIONS:
        return await _answer_with(
            request, gate, _invalid(f"Unknown region type {wanted!r}").answer, headers
        )
    data = [
        {"type": kind, "code": code, "label": label}
        for kind, regions in REGIONS.items()
        if wanted in (None, kind)
        for code, label in regions.items()
    ]
    return await _answer_with(request, gate, (200, {"data": data}), headers)


def mount(app: web.Application) -> None:
    app.router.add_post(f"{_PREFIX}/by-soc", _by_soc)
    app.router.add_post(f"{_PREFIX}/by-cip", _by_cip)
    app.router.add_get(f"{_PREFIX}/regions", _regions)
