"""Where a row's location is: a column of postcodes (or ``lat,long`` text, or UPRNs),
latitude and longitude in two columns, a column of UPRNs, or several of these, tried in
turn: the UPRN, then the postcode, then the coordinates; a blank or invalid one falls back
to the next. A row with none valid is ``invalid``, with each one's reason."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bulkfetch.apis.crystalroof.locations import parse_location
from bulkfetch.errors import InvalidInputError, UsageError
from bulkfetch.io.sources import column_index

__all__ = ["LocationColumns"]


@dataclass(frozen=True, slots=True)
class LocationColumns:
    """A :class:`~bulkfetch.io.sources.Picker` of a row's location from its columns."""

    column: str | None = None  # a postcode, ``lat,long`` text or a UPRN
    lat: str | None = None
    lon: str | None = None
    uprn: str | None = None

    def __post_init__(self) -> None:
        if (self.lat is None) != (self.lon is None):
            raise UsageError("give both --lat-column and --lon-column, or neither")
        if self.column is None and self.lat is None and self.uprn is None:
            raise UsageError("say where the locations are: --column, --lat-column and"
                             " --lon-column, or --uprn-column")  # fmt: skip

    @property
    def key(self) -> str:
        if self.lat is None and self.uprn is None and self.column is not None:
            return self.column  # one column: named as any run over one column
        return json.dumps([self.uprn, self.column, self.lat, self.lon])

    def bind(self, header: Sequence[str]) -> Callable[[Sequence[str]], str]:
        where = {
            name: column_index(header, column)
            for name, column in (
                ("uprn", self.uprn), ("location", self.column), ("lat", self.lat), ("lon", self.lon)
            )
            if column is not None
        }  # fmt: skip

        def location(fields: Sequence[str]) -> str:
            reasons = []
            for label, text in _candidates(where, fields):
                if not text.strip(" ,"):
                    reasons.append(f"{label} blank")
                    continue
                try:
                    return parse_location(text, plain_uprn=label == "UPRN").value
                except InvalidInputError as exc:
                    reasons.append(str(exc))
            if reasons == ["location blank"]:
                raise InvalidInputError("empty location")  # as one column always said
            raise InvalidInputError("; ".join(reasons))

        return location


def _candidates(where: dict[str, int], fields: Sequence[str]) -> list[tuple[str, str]]:
    """The row's locations in the order they are tried, each with what to call it."""
    found = []
    if "uprn" in where:
        found.append(("UPRN", fields[where["uprn"]]))
    if "location" in where:
        found.append(("location", fields[where["location"]]))
    if "lat" in where:
        lat, lon = fields[where["lat"]].strip(), fields[where["lon"]].strip()
        found.append(("coordinates", f"{lat},{lon}" if lat and lon else ""))
    return found
