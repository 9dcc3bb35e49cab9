"""An answer split back per code, a code's answer as it is kept, and a kept answer written
out (CSV lines, a JSON Lines document, or the typed result of a single call)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from bulkfetch import speedups
from bulkfetch.adapter import LookupResult, ResultKind
from bulkfetch.apis.labormarket.models import LaborMarketResult, codes_of, result_of
from bulkfetch.apis.labormarket.states import state_name
from bulkfetch.apis.labormarket.wire import PATH, WireNames
from bulkfetch.errors import BadResponseError
from bulkfetch.io.flatten import flatten
from bulkfetch.jobs import Lookup

__all__ = [
    "code_result",
    "kept_result",
    "output_document",
    "output_rows",
    "split_cip",
    "split_soc",
]


def split_soc(data: Mapping[str, Any], codes: Sequence[str]) -> dict[str, list[Any]]:
    """The occupations of an answer by the SOC code each is."""
    found: dict[str, list[Any]] = {}
    for occupation in data.get("matchedOccupations") or []:
        code = occupation.get("socCode")
        if code in codes:
            found.setdefault(code, []).append(occupation)
    return found


def split_cip(data: Mapping[str, Any], codes: Sequence[str], field: str) -> dict[str, list[Any]]:
    """The occupations of an answer by the CIP codes each says it matched (in ``field``).
    An answer for several codes that does not say cannot be split back: an error, rather
    than an answer given to the wrong code."""
    occupations = data.get("matchedOccupations") or []
    if len(codes) == 1:
        return {codes[0]: list(occupations)} if occupations else {}
    found: dict[str, list[Any]] = {}
    for occupation in occupations:
        matched = codes_of(occupation.get(field))
        if not matched:
            raise BadResponseError(
                "a CIP answer did not say which code an occupation came from",
                endpoint=f"{PATH}/by-cip",
            )
        for code in matched:
            if code in codes:
                found.setdefault(code, []).append(occupation)
    return found


def code_result(
    status: int, lookup: Lookup, occupations: list[Any] | None, data: Mapping[str, Any]
) -> LookupResult:
    """One code's part of an answer: its occupations, the warnings that concern it, and
    the region it was answered for (as the answer says; else as it was asked)."""
    code = lookup.param("code")
    if occupations:
        socs = {o.get("socCode") for o in occupations}
        warnings = [w for w in data.get("warnings") or [] if _warning_concerns(w, socs)]
    else:  # a code with no occupation keeps the warnings that name it (INVALID_CIP_CODE)
        occupations = []
        warnings = [w for w in data.get("warnings") or [] if code in str(w.get("message", ""))]
    kept = {
        "regionType": data.get("regionType") or lookup.param("regionType"),
        "region": data.get("region") or lookup.param("region") or None,
        "occupations": occupations,
        "warnings": warnings,
    }
    body = json.dumps(kept, ensure_ascii=False, separators=(",", ":"))
    if not occupations:
        reason = _warnings_text(warnings) or f"no data for this code in {_region_text(kept)}"
        return LookupResult(ResultKind.NOT_FOUND, status, body=body, error=reason)
    columns = tuple(
        dict.fromkeys(column for occupation in occupations for column in flatten(occupation))
    )
    return LookupResult(ResultKind.OK, status, body=body, columns=columns)


def output_rows(body: str) -> list[dict[str, Any]]:
    """A code's kept answer as CSV lines: one an occupation, the region and warnings on each."""
    kept = speedups.loads(body)
    fixed = {
        "regionType": kept.get("regionType"),
        "region": kept.get("region"),
        "warnings": _warnings_text(kept.get("warnings", [])),
    }
    rows = [{**flatten(o), **fixed} for o in kept["occupations"]]
    return rows or [fixed]


def output_document(body: str) -> dict[str, Any]:
    kept = speedups.loads(body)
    return {
        "regionType": kept.get("regionType"),
        "region": kept.get("region"),
        "occupations": kept["occupations"],
        "warnings": kept.get("warnings", []),
    }


def kept_result(body: str, wire: WireNames) -> LaborMarketResult:
    """A code's kept answer as a single call's result."""
    kept = speedups.loads(body)
    return result_of({**kept, "matchedOccupations": kept["occupations"]}, wire)


def _warning_concerns(warning: Any, socs: set[Any]) -> bool:
    """A warning belongs to a code's answer when it names one of that code's occupations."""
    if not isinstance(warning, Mapping):
        return False
    named = warning.get("socCode")
    if named is not None:
        return named in socs
    message = str(warning.get("message", ""))
    return any(isinstance(soc, str) and soc in message for soc in socs)


def _region_text(kept: Mapping[str, Any]) -> str:
    """The region an answer is for, as a person reads it: ``California (state 6)``."""
    kind, code = kept.get("regionType"), kept.get("region")
    if kind == "state" and isinstance(code, str | int):
        name = state_name(str(code).lstrip("0"))
        return f"state {code}" if name is None else f"{name} (state {code})"
    if kind == "msa":
        return f"MSA {code}"
    if kind == "national":
        return "the US (national)"
    return f"{kind} {code}"


def _warnings_text(warnings: Sequence[Mapping[str, Any]]) -> str:
    return "; ".join(f"{w.get('code')}: {w.get('message')}" for w in warnings)
