"""A described API's writer: a kept answer to output columns, as the description's [output]
says (named columns, an object flattened, a list to one line an element)."""

from __future__ import annotations

import json
import tomllib
from typing import Any

from bulkfetch.describe.schema import parse
from bulkfetch.describe.writer import Writer

HEAD = 'name = "demo"\nbase_url = "https://api.test"\n[request]\npath = "/v/{value}"\n'


def writer(output: str) -> Writer:
    """The writer of a description whose [output] section is ``output``."""
    return Writer(parse(tomllib.loads(HEAD + output), file="demo.toml").output)


def body(data: Any) -> str:
    return json.dumps(data)


PLACE = {
    "country": "England",
    "codes": {"lsoa": "E01", "msoa": "E02"},
    "wards": ["a", "b"],
    "latitude": 51.5,
    "none": None,
}
NAMED = '[output.columns]\ncountry = "country"\nlsoa = "codes.lsoa"\nlatitude = "latitude"\n'


# -- named columns ------------------------------------------------------------------------


def test_named_columns_are_the_fixed_columns_in_their_order() -> None:
    """[output.columns]: a column a name, in the order written; one line, no flattening."""
    out = writer(NAMED)
    assert out.fixed_columns == ("country", "lsoa", "latitude")
    assert out.expands_rows is False
    assert out.output_rows(body(PLACE)) == [{"country": "England", "lsoa": "E01", "latitude": 51.5}]
    assert out.names(PLACE) == ()


def test_named_columns_in_the_document() -> None:
    """JSON Lines: the named columns with their values as JSON (a number stays a number)."""
    assert writer(NAMED).output_document(body(PLACE)) == {
        "country": "England",
        "lsoa": "E01",
        "latitude": 51.5,
    }


def test_a_missing_path_is_none_in_rows_and_document() -> None:
    """A path the answer does not have: None (an empty cell), never an error."""
    out = writer('[output.columns]\nward = "ward.name"\ncountry = "country"\n')
    assert out.output_rows(body({"country": "England"})) == [{"ward": None, "country": "England"}]
    assert out.output_document(body({"country": "England"})) == {
        "ward": None,
        "country": "England",
    }


def test_null_and_falsy_values_are_kept_as_they_are() -> None:
    """null is None; 0, false and '' are values, not missing."""
    out = writer('[output.columns]\nn = "n"\nz = "z"\nf = "f"\ne = "e"\n')
    answer = {"n": None, "z": 0, "f": False, "e": ""}
    assert out.output_rows(body(answer)) == [answer]


def test_a_list_or_an_object_in_a_named_column_is_compact_json_text() -> None:
    """A cell holds one value: a list or an object is its compact JSON text."""
    out = writer('[output.columns]\nwards = "wards"\ncodes = "codes"\n')
    (line,) = out.output_rows(body(PLACE))
    assert line == {"wards": '["a","b"]', "codes": '{"lsoa":"E01","msoa":"E02"}'}


def test_a_list_or_an_object_in_a_named_column_stays_json_in_the_document() -> None:
    """JSON Lines keeps the nesting: no text made of a list or an object."""
    out = writer('[output.columns]\nwards = "wards"\ncodes = "codes"\n')
    assert out.output_document(body(PLACE)) == {"wards": ["a", "b"], "codes": PLACE["codes"]}


def test_non_ascii_text_in_a_json_cell_is_kept() -> None:
    """JSON text in a cell is not escaped to \\u sequences."""
    out = writer('[output.columns]\nnames = "names"\n')
    assert out.output_rows(body({"names": ["Zürich", "Łódź"]})) == [{"names": '["Zürich","Łódź"]'}]


# -- flatten ------------------------------------------------------------------------------

OCCUPATION = {
    "data": {"residents": {"Total": 98, "1. Managers": 9}, "rank": {"1. Managers": 3}},
    "dataDate": "2021-03-21",
}


def test_flatten_a_nested_object_to_dotted_columns() -> None:
    """flatten = "data": every field under it, nested names joined by dots."""
    out = writer('[output]\nflatten = "data"\ncolumns = { data_date = "dataDate" }\n')
    assert out.fixed_columns == ("data_date",)
    assert out.output_rows(body(OCCUPATION)) == [
        {
            "residents.Total": 98,
            "residents.1. Managers": 9,
            "rank.1. Managers": 3,
            "data_date": "2021-03-21",
        }
    ]
    assert out.names(OCCUPATION) == ("residents.Total", "residents.1. Managers", "rank.1. Managers")


def test_flatten_keeps_the_object_nested_under_its_name_in_the_document() -> None:
    """JSON Lines: the flattened object under its last name, the named columns beside it."""
    out = writer('[output]\nflatten = "data"\ncolumns = { data_date = "dataDate" }\n')
    assert out.output_document(body(OCCUPATION)) == {
        "data": OCCUPATION["data"],
        "data_date": "2021-03-21",
    }


def test_nothing_named_flattens_the_whole_answer() -> None:
    """No [output] at all: flatten = "" — every field of the answer, as columns."""
    out = writer("")
    assert out.fixed_columns == ()
    assert out.output_rows(body({"a": {"b": 1}, "c": "x"})) == [{"a.b": 1, "c": "x"}]
    assert out.names({"a": {"b": 1}, "c": "x"}) == ("a.b", "c")


def test_flatten_at_the_top_merges_the_answer_into_the_document() -> None:
    """flatten = "": the answer's fields at the top of the document, named columns added."""
    out = writer('[output]\nflatten = ""\ncolumns = { first = "items.0" }\n')
    answer = {"a": {"b": 1}, "items": [5, 6]}
    assert out.output_document(body(answer)) == {"a": {"b": 1}, "items": [5, 6], "first": 5}
    assert out.names(answer) == ("a.b", "items")


def test_a_named_column_wins_over_a_flattened_field_of_its_name() -> None:
    """A flattened field and a named column of one name: the named column's value, once."""
    out = writer('[output]\nflatten = ""\ncolumns = { c = "a.b" }\n')
    answer = {"a": {"b": 1}, "c": "x"}
    assert out.output_rows(body(answer)) == [{"a.b": 1, "c": 1}]
    assert out.names(answer) == ("a.b",)


def test_flatten_of_a_scalar_is_one_column_of_its_name() -> None:
    """flatten at a number: a column named by the path's last part."""
    out = writer('[output]\nflatten = "meta.count"\n')
    assert out.output_rows(body({"meta": {"count": 3}})) == [{"count": 3}]


def test_flatten_of_a_missing_or_null_object_fills_nothing() -> None:
    """flatten at a path the answer lacks (or at null): no flattened columns."""
    out = writer('[output]\nflatten = "data"\ncolumns = { d = "d" }\n')
    assert out.output_rows(body({"d": 1})) == [{"d": 1}]
    assert out.output_rows(body({"d": 1, "data": None})) == [{"d": 1}]
    assert out.names({"data": None}) == ()


# -- rows ---------------------------------------------------------------------------------

CANDIDATES = [
    {"formatted": "10 Downing St", "geometry": {"lat": 51.5, "lng": -0.12}},
    {"formatted": "Downing College", "geometry": {"lat": 52.2}},
]
GEO = '[output]\nrows = ""\n[output.columns]\nplace = "formatted"\nlat = "geometry.lat"\n'
GEO += 'lng = "geometry.lng"\n'


def test_rows_at_the_top_makes_a_line_an_element() -> None:
    """rows = "" where the answer is the list: one line a candidate, each path from it."""
    out = writer(GEO)
    assert out.expands_rows is True
    assert out.output_rows(body(CANDIDATES)) == [
        {"place": "10 Downing St", "lat": 51.5, "lng": -0.12},
        {"place": "Downing College", "lat": 52.2, "lng": None},
    ]


def test_rows_at_the_top_are_rows_in_the_document() -> None:
    """JSON Lines: the lines under "rows"."""
    assert writer(GEO).output_document(body(CANDIDATES)) == {
        "rows": [
            {"place": "10 Downing St", "lat": 51.5, "lng": -0.12},
            {"place": "Downing College", "lat": 52.2, "lng": None},
        ]
    }


def test_rows_at_a_path_make_a_line_an_element_under_its_name() -> None:
    """rows = "result.items": a line an item; JSON Lines under "items"."""
    out = writer('[output]\nrows = "result.items"\ncolumns = { n = "name" }\n')
    answer = {"result": {"items": [{"name": "a"}, {"name": "b"}, {}]}}
    assert out.output_rows(body(answer)) == [{"n": "a"}, {"n": "b"}, {"n": None}]
    assert out.output_document(body(answer)) == {"items": [{"n": "a"}, {"n": "b"}, {"n": None}]}


def test_rows_with_flatten_flatten_each_element() -> None:
    """rows and flatten together: each element's object flattened, names in first-seen order."""
    out = writer('[output]\nrows = ""\nflatten = "meta"\ncolumns = { n = "name" }\n')
    answer = [{"name": "a", "meta": {"x": 1}}, {"name": "b", "meta": {"y": 2, "x": 3}}]
    assert out.output_rows(body(answer)) == [{"x": 1, "n": "a"}, {"y": 2, "x": 3, "n": "b"}]
    assert out.names(answer) == ("x", "y")


def test_rows_of_an_empty_or_missing_list_are_no_lines() -> None:
    """No list where rows points (or an empty one): no lines, an empty list in JSON Lines."""
    out = writer('[output]\nrows = "items"\ncolumns = { n = "name" }\n')
    assert out.output_rows(body({"items": []})) == []
    assert out.output_rows(body({"other": 1})) == []
    assert out.output_document(body({"items": []})) == {"items": []}


def test_a_list_inside_a_flattened_object_is_json_text() -> None:
    """flatten leaves a list whole, as JSON text in its one column."""
    (line,) = writer('[output]\nflatten = "data"\n').output_rows(body({"data": {"l": [1, "x"]}}))
    assert json.loads(line["l"]) == [1, "x"]


def test_the_emulator_makes_up_answers_for_overlapping_paths() -> None:
    """Columns geometry and geometry.lat: the made-up answer holds an object at geometry,
    with lat in it, and no error."""
    from bulkfetch.describe.emulated import _made_up

    text = (
        'name = "geo"\nbase_url = "https://g.example"\n[request]\npath = "/v/{value}"\n'
        '[output.columns]\ngeometry = "geometry"\nlat = "geometry.lat"\n'
    )
    answer = _made_up(parse(tomllib.loads(text), file="geo.toml"), "x")
    assert isinstance(answer["geometry"], dict)
    assert isinstance(answer["geometry"]["lat"], int)
