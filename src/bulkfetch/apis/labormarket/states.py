"""US states as people write them (a postal code such as ``CA``, or a name such as
``California``) and as the Labor Market API takes them (a FIPS code, such as ``6``)."""

from __future__ import annotations

__all__ = ["STATES", "state_fips", "state_name"]

# FIPS code: (postal code, name). The 50 states and the District of Columbia.
STATES: dict[str, tuple[str, str]] = {
    "1": ("AL", "Alabama"),
    "2": ("AK", "Alaska"),
    "4": ("AZ", "Arizona"),
    "5": ("AR", "Arkansas"),
    "6": ("CA", "California"),
    "8": ("CO", "Colorado"),
    "9": ("CT", "Connecticut"),
    "10": ("DE", "Delaware"),
    "11": ("DC", "District of Columbia"),
    "12": ("FL", "Florida"),
    "13": ("GA", "Georgia"),
    "15": ("HI", "Hawaii"),
    "16": ("ID", "Idaho"),
    "17": ("IL", "Illinois"),
    "18": ("IN", "Indiana"),
    "19": ("IA", "Iowa"),
    "20": ("KS", "Kansas"),
    "21": ("KY", "Kentucky"),
    "22": ("LA", "Louisiana"),
    "23": ("ME", "Maine"),
    "24": ("MD", "Maryland"),
    "25": ("MA", "Massachusetts"),
    "26": ("MI", "Michigan"),
    "27": ("MN", "Minnesota"),
    "28": ("MS", "Mississippi"),
    "29": ("MO", "Missouri"),
    "30": ("MT", "Montana"),
    "31": ("NE", "Nebraska"),
    "32": ("NV", "Nevada"),
    "33": ("NH", "New Hampshire"),
    "34": ("NJ", "New Jersey"),
    "35": ("NM", "New Mexico"),
    "36": ("NY", "New York"),
    "37": ("NC", "North Carolina"),
    "38": ("ND", "North Dakota"),
    "39": ("OH", "Ohio"),
    "40": ("OK", "Oklahoma"),
    "41": ("OR", "Oregon"),
    "42": ("PA", "Pennsylvania"),
    "44": ("RI", "Rhode Island"),
    "45": ("SC", "South Carolina"),
    "46": ("SD", "South Dakota"),
    "47": ("TN", "Tennessee"),
    "48": ("TX", "Texas"),
    "49": ("UT", "Utah"),
    "50": ("VT", "Vermont"),
    "51": ("VA", "Virginia"),
    "53": ("WA", "Washington"),
    "54": ("WV", "West Virginia"),
    "55": ("WI", "Wisconsin"),
    "56": ("WY", "Wyoming"),
}
_KNOWN = {**STATES, "72": ("PR", "Puerto Rico")}  # and a territory people write as a state
_BY_TEXT = {
    text: fips
    for fips, (postal, name) in _KNOWN.items()
    for text in (postal.casefold(), name.casefold())
}


def state_fips(text: str) -> str | None:
    """The FIPS code of a state written as its postal code or its name (any case, spaces
    as typed); None if it is neither."""
    return _BY_TEXT.get(" ".join(text.split()).casefold().removesuffix(" state"))


def state_name(fips: str) -> str | None:
    """A state's name by its FIPS code (as the API writes it: no leading zero)."""
    known = _KNOWN.get(fips)
    return None if known is None else known[1]
