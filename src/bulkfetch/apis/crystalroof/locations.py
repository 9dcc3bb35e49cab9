"""Locations CrystalRoof accepts: UK postcodes, ``lat,long`` pairs and UPRNs.

Parsing normalises, so that every spelling of one place becomes one lookup and one call:
``w60ww``, ``W6 0WW`` and `` w6  0ww `` are all ``W6 0WW``; ``UPRN00123`` and ``uprn123``
are one UPRN (and ``123`` too, in a column of UPRNs). Coordinates outside the United
Kingdom (latitude and longitude swapped among them) cannot be a location: refused here,
at no call.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from bulkfetch.errors import InvalidInputError

__all__ = ["UK_BOUNDS", "Location", "LocationKind", "parse_location", "path_segment"]

# Outward code (area, district) then inward code (sector digit, unit letters); GIR 0AA is
# the one historic exception still in use.
_POSTCODE = re.compile(r"^(?:([A-Z]{1,2}[0-9][A-Z0-9]?)([0-9][A-Z]{2})|(GIR)(0AA))$")
# A postcode in its normal form already (as most files hold them, and as a normalised value
# is parsed again for each dataset of a pass): itself, with no more work.
_NORMAL_POSTCODE = re.compile(r"[A-Z]{1,2}[0-9][A-Z0-9]? [0-9][A-Z]{2}")
_COORDINATES = re.compile(r"^\s*([+-]?\d+(?:\.\d+)?)\s*,\s*([+-]?\d+(?:\.\d+)?)\s*$")
_UPRN = re.compile(r"^uprn\s*(\d{1,12})$", re.IGNORECASE)
_PLAIN_UPRN = re.compile(r"^(\d{1,12})$")
# The United Kingdom's extent with a margin (Scilly, Shetland, Rockall aside; Northern
# Ireland's west): latitude, then longitude.
UK_BOUNDS = ((Decimal("49.8"), Decimal("61.0")), (Decimal("-8.7"), Decimal("1.9")))


class LocationKind(enum.Enum):
    """The three forms of location the API understands."""

    POSTCODE = "postcode"
    COORDINATES = "coordinates"
    UPRN = "uprn"


@dataclass(frozen=True, slots=True)
class Location:
    """A normalised location: equal values mean the same lookup."""

    kind: LocationKind
    value: str

    @property
    def path_segment(self) -> str:
        """The form sent in the URL path (postcodes without their space)."""
        return path_segment(self.value)

    @property
    def postcode_sector(self) -> str | None:
        """``W6 0`` for ``W6 0WW``; None for other kinds."""
        return self.value[:-2] if self.kind is LocationKind.POSTCODE else None

    def __str__(self) -> str:
        return self.value


def path_segment(value: str) -> str:
    """How a normalised location (a :attr:`Location.value`) is sent in the URL path:
    a postcode without its space, coordinates and UPRNs as they are. It reads the normal
    form: nothing is parsed again."""
    if "," in value or value.startswith("uprn"):
        return value
    return value.replace(" ", "")


def _canonical_decimal(text: str) -> Decimal:
    try:
        number = Decimal(text)
    except InvalidOperation as exc:  # pragma: no cover - the regex admits only numbers
        raise InvalidInputError(f"not a number: {text!r}", value=text) from exc
    return number


def _format_decimal(number: Decimal) -> str:
    text = format(number.normalize(), "f")
    return "0" if text in {"-0", "+0"} else text


def parse_location(raw: str, *, plain_uprn: bool = False) -> Location:
    """Parse and normalise a postcode, ``lat,long`` in the UK, or a UPRN (``uprn12345``; and
    ``12345`` with ``plain_uprn``, for a column of UPRNs: elsewhere a number is no location,
    not a paid call); raise if it cannot be one."""
    if _NORMAL_POSTCODE.fullmatch(raw):
        return Location(LocationKind.POSTCODE, raw)
    text = raw.strip()
    if not text:
        raise InvalidInputError("empty location", value=raw)
    coordinates = _COORDINATES.match(text)
    if coordinates:
        lat, long = (_canonical_decimal(part) for part in coordinates.groups())
        if not _in_uk(lat, long):
            raise InvalidInputError(_outside_uk(text, lat, long), value=raw)
        return Location(LocationKind.COORDINATES, f"{_format_decimal(lat)},{_format_decimal(long)}")
    uprn = (_PLAIN_UPRN if plain_uprn else _UPRN).match(text) or _UPRN.match(text)
    if uprn:
        return Location(LocationKind.UPRN, f"uprn{int(uprn.group(1))}")
    compact = re.sub(r"\s+", "", text).upper()
    postcode = _POSTCODE.match(compact)
    if postcode:
        return Location(LocationKind.POSTCODE, f"{compact[:-3]} {compact[-3:]}")
    raise InvalidInputError(f"not a UK postcode, lat,long or uprn: {text!r}", value=raw)


def _in_uk(lat: Decimal, long: Decimal) -> bool:
    (south, north), (west, east) = UK_BOUNDS
    return south <= lat <= north and west <= long <= east


def _outside_uk(text: str, lat: Decimal, long: Decimal) -> str:
    if _in_uk(long, lat):
        return f"coordinates outside the UK: {text!r} (latitude and longitude swapped?)"
    return f"coordinates outside the UK: {text!r}"
