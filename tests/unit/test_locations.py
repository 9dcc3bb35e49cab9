"""Parsing and normalising locations."""

from __future__ import annotations

import pytest

from bulkfetch.apis.crystalroof.locations import LocationKind, parse_location, path_segment
from bulkfetch.errors import InvalidInputError
from bulkfetch.samples import postcodes


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("W6 0WW", "W6 0WW"),
        ("w60ww", "W6 0WW"),
        ("  w6   0ww ", "W6 0WW"),
        ("SW1A1AA", "SW1A 1AA"),
        ("ec1a 1bb", "EC1A 1BB"),
        ("M1 1AE", "M1 1AE"),
        ("GIR 0AA", "GIR 0AA"),
    ],
)
def test_postcodes_normalise_case_and_spacing(raw: str, canonical: str) -> None:
    """Every spelling of a postcode becomes its canonical form."""
    location = parse_location(raw)
    assert location.kind is LocationKind.POSTCODE
    assert location.value == canonical
    assert location.path_segment == canonical.replace(" ", "")


def test_coordinates_normalise_to_one_form() -> None:
    """Equal coordinates written differently are one lookup."""
    assert parse_location("51.4960, -0.2300").value == "51.496,-0.23"
    assert parse_location("51.496,-0.23").value == "51.496,-0.23"
    assert parse_location("51.496,-0.23").kind is LocationKind.COORDINATES


def test_uprn_normalises_case_and_leading_zeros() -> None:
    """``UPRN00123``, ``uprn123`` and, from a column of UPRNs, a plain ``123`` are the same
    property; a plain number elsewhere is no location."""
    assert parse_location("UPRN00123").value == "uprn123"
    assert parse_location("uprn12345678").kind is LocationKind.UPRN
    assert parse_location(" 100023336956 ", plain_uprn=True).value == "uprn100023336956"
    assert parse_location("uprn7", plain_uprn=True).value == "uprn7"
    with pytest.raises(InvalidInputError):
        parse_location("100023336956")


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        (
            "-0.22,51.49",
            "coordinates outside the UK: '-0.22,51.49' (latitude and longitude swapped?)",
        ),
        ("48.85,2.35", "coordinates outside the UK: '48.85,2.35'"),
        ("91.0,0.0", "coordinates outside the UK: '91.0,0.0'"),
    ],
)
def test_coordinates_outside_the_uk_are_refused_with_why(raw: str, why: str) -> None:
    """Paris, swapped coordinates and no place at all cannot be UK locations."""
    with pytest.raises(InvalidInputError) as caught:
        parse_location(raw)
    assert str(caught.value) == why


@pytest.mark.parametrize(
    "raw",
    ["", "   ", "hello", "W6 0", "12345", "W6-0WW", "91.0,0.0", "0,181", "uprn", "uprnabc"],
)
def test_malformed_locations_raise_before_any_call(raw: str) -> None:
    """Input that cannot be a location is refused with the value quoted."""
    with pytest.raises(InvalidInputError):
        parse_location(raw)


def test_postcode_sector() -> None:
    """The sector is the outward code and the inward digit."""
    assert parse_location("w60ww").postcode_sector == "W6 0"
    assert parse_location("51.5,-0.2").postcode_sector is None


@pytest.mark.parametrize(
    "raw", ["w6 0ww", "GIR 0AA", "uprn100023336956", "51.5074,-0.1278", "EC1A1BB", "52.1,-1"]
)
def test_the_path_segment_is_read_off_the_normal_form(raw: str) -> None:
    """A postcode is sent without its space, coordinates and UPRNs as they are, read off
    the normal form with no parse."""
    location = parse_location(raw)
    expected = (
        location.value.replace(" ", "")
        if location.kind is LocationKind.POSTCODE
        else location.value
    )
    assert path_segment(location.value) == expected


def test_a_postcode_in_its_normal_form_parses_as_any_spelling_of_it() -> None:
    """A postcode already normal (taken as it is) is what the full parse of it makes."""
    for code in [*postcodes(2000, seed=4), "GIR 0AA", "W1A 0AX", "M1 1AE"]:
        assert parse_location(code) == parse_location(f" {code.lower()} ")
