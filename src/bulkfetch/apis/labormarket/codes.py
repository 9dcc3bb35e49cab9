"""SOC and CIP codes, and US regions, as the Labor Market API takes them: normalised from
the forms real files hold, or refused before any call."""

from __future__ import annotations

import re

from bulkfetch.apis.labormarket.states import state_fips
from bulkfetch.errors import InvalidInputError

__all__ = ["REGION_TYPES", "normalise", "normalise_cip", "normalise_soc", "resolve_region"]

REGION_TYPES = ("national", "state", "msa")
# How files hold codes: a label before them ("SOC 15-1252", "CIP: 11.0701"), any dash a
# word processor makes, O*NET-SOC's detail suffix ("15-1252.00", "15-1299.08" lie within
# SOC 15-1252 and 15-1299), a decimal comma ("11,0701"), a spreadsheet's lost leading zero.
_SOC = re.compile(
    r"^(?:SOC\s*[:#-]?\s*)?(\d{2})[-\u2010-\u2015\s.]?(\d{4})(?:\.\d{2})?$", re.I | re.ASCII
)
# A SOC code a spreadsheet took for a number: 151252.0.
_SPREADSHEET_FLOAT = re.compile(r"^(\d{6})\.0+$", re.ASCII)
_CIP = re.compile(r"^(?:CIP\s*[:#-]?\s*)?(\d{1,2})[.,]?(\d{4})$", re.I | re.ASCII)


def normalise_soc(raw: str) -> str:
    """``151252``, `` 15-1252 ``, ``SOC 15-1252``, O*NET-SOC ``15-1252.00`` and a
    spreadsheet's ``151252.0`` -> ``15-1252`` (SOC 2018, six digits)."""
    text = raw.strip()
    if not text:
        raise InvalidInputError("empty code", value=raw)
    match = _SOC.match(_SPREADSHEET_FLOAT.sub(r"\1", text))
    if not match:
        raise InvalidInputError(f"not a SOC code (like 15-1252): {text!r}", value=raw)
    return f"{match.group(1)}-{match.group(2)}"


def normalise_cip(raw: str) -> str:
    """``110701``, ``CIP 11.0701``, ``11,0701`` and ``1.0101`` (a spreadsheet's lost zero)
    -> ``11.0701``, ``01.0101`` (CIP 2020, six digits)."""
    if not raw.strip():
        raise InvalidInputError("empty code", value=raw)
    match = _CIP.match(raw.strip())
    if not match:
        raise InvalidInputError(f"not a CIP code (like 11.0701): {raw.strip()!r}", value=raw)
    return f"{int(match.group(1)):02d}.{match.group(2)}"


_NORMALISE = {"soc": normalise_soc, "cip": normalise_cip}


def normalise(by: str, raw: str) -> str:
    """A code of kind ``by`` (``soc`` or ``cip``), normalised."""
    if by not in _NORMALISE:
        raise InvalidInputError(f"codes are looked up by 'soc' or 'cip', not {by!r}")
    return _NORMALISE[by](raw)


_NATIONAL_CODE = "99"  # what the regions endpoint calls the nation


def resolve_region(region_type: str | None, region: str | int | None) -> tuple[str, str]:
    """``(region type, code)`` as the API takes them, or :class:`InvalidInputError`.

    A state may be written as its postal code (``CA``) or its name (``California``).
    Without a type, a code is what its digits make it: 1-2 digits a state FIPS code
    (``06`` and ``6`` are both California), 5 an MSA code, ``99`` the nation. A code that
    fits neither, or a national query given a code, is refused: never answered nationally
    in silence. National has no code (``""``).
    """
    code = "" if region is None else str(region).strip()
    if region_type is not None and region_type not in REGION_TYPES:
        raise InvalidInputError(
            f"the region type must be one of {', '.join(REGION_TYPES)}; got {region_type!r}"
        )
    if code and not code.isdigit():
        fips = state_fips(code)
        if fips is None or region_type not in (None, "state"):
            raise InvalidInputError(
                "a region is a state (its postal code CA, its name California, or its FIPS"
                f" code 6) or an MSA code (like 41860); got {code!r}"
                + ("" if fips is None else f", a state, not a {region_type} region")
            )
        return "state", fips
    if region_type is None:
        if not code or code == _NATIONAL_CODE:
            return "national", ""
        if len(code) <= 2:
            region_type = "state"
        elif len(code) == 5:
            region_type = "msa"
        else:
            raise InvalidInputError(
                f"{code!r} is neither a state FIPS code (1-2 digits) nor an MSA code (5 "
                "digits); give the region type (state or msa)"
            )
    if region_type == "national":
        if code not in ("", _NATIONAL_CODE):
            raise InvalidInputError(
                f"a national query takes no region code (got {code!r}); give the region "
                "type (state or msa) the code belongs to"
            )
        return "national", ""
    if not code:
        raise InvalidInputError(f"a {region_type} query needs a region code")
    # FIPS codes are written with a leading zero as often as without; the API's have none.
    return region_type, str(int(code)) if region_type == "state" else code
