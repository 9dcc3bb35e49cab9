"""The small languages of a description: a value's normalisation, paths into an answer's
JSON, and request templates."""

from __future__ import annotations

import re
from typing import Any

import pytest

from bulkfetch.describe.values import (
    MISSING,
    Normaliser,
    as_text,
    at,
    fill,
    fill_json,
    split_path,
    template_fields,
)
from bulkfetch.errors import InvalidInputError

POSTCODE = re.compile(r"^([A-Z]{1,2}[0-9][A-Z0-9]?)([0-9][A-Z]{2})$")

# -- Normaliser ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("normaliser", "raw", "normal"),
    [
        (Normaliser(), "  W6 0WW \t", "W6 0WW"),
        (Normaliser(strip=False, spaces="keep"), " W6 0WW ", " W6 0WW "),
        (Normaliser(strip=False), "  W6   0WW  ", " W6 0WW "),
        (Normaliser(case="upper"), "w6 0ww", "W6 0WW"),
        (Normaliser(case="lower"), "10 Downing St", "10 downing st"),
        (Normaliser(case="keep"), "MiXeD", "MiXeD"),
        (Normaliser(spaces="collapse"), "10  Downing\t\nSt", "10 Downing St"),
        (Normaliser(spaces="remove"), "W6  0 WW", "W60WW"),
        (Normaliser(spaces="keep"), "10  Downing\tSt", "10  Downing\tSt"),
    ],
    ids=[
        "strip",
        "no strip, keep",
        "no strip, collapse",
        "upper",
        "lower",
        "keep case",
        "collapse",
        "remove",
        "keep spaces",
    ],
)
def test_normaliser_strips_cases_and_spaces(normaliser: Normaliser, raw: str, normal: str) -> None:
    """strip, case and spaces each do what they say."""
    assert normaliser(raw) == normal


def test_a_pattern_and_its_format_give_one_normal_form() -> None:
    """case, spaces removed, then the pattern's groups rewritten as '\\1 \\2'."""
    normal = Normaliser(case="upper", spaces="remove", pattern=POSTCODE, form=r"\1 \2")
    assert {normal(raw) for raw in ("w60ww", " W6  0WW ", "w6 0Ww")} == {"W6 0WW"}
    assert normal("sw1a1aa") == "SW1A 1AA"


def test_a_format_may_drop_the_space_or_reorder_groups() -> None:
    """'\\1\\2' joins the groups; '\\2-\\1' reorders them."""
    pattern = re.compile(r"(\d+)-(\d+)")
    assert Normaliser(pattern=pattern, form=r"\1\2")("12-34") == "1234"
    assert Normaliser(pattern=pattern, form=r"\2-\1")("12-34") == "34-12"


def test_a_pattern_with_no_format_keeps_the_normal_text() -> None:
    """The pattern only validates: the value is the stripped, cased text."""
    normal = Normaliser(case="upper", pattern=re.compile(r"[A-Z0-9 ]+"))
    assert normal(" w6  0ww ") == "W6 0WW"


def test_a_pattern_must_match_the_whole_value() -> None:
    """A pattern without anchors still has to match all of the value."""
    digits = Normaliser(pattern=re.compile(r"\d+"))
    assert digits("123") == "123"
    with pytest.raises(InvalidInputError):
        digits("123abc")


def test_an_invalid_value_is_told_by_the_description_s_message() -> None:
    """invalid = '...': the message, then the value as given (stripped)."""
    normal = Normaliser(
        name="postcode", case="upper", pattern=POSTCODE, invalid="not a UK postcode"
    )
    with pytest.raises(InvalidInputError) as caught:
        normal("  nowhere ")
    assert str(caught.value) == "not a UK postcode: 'nowhere'"
    assert caught.value.value == "  nowhere "


def test_an_invalid_value_without_a_message_names_what_a_value_is() -> None:
    """No invalid message: 'not a valid NAME: VALUE'."""
    with pytest.raises(InvalidInputError, match=r"^not a valid postcode: 'x1'$"):
        Normaliser(name="postcode", pattern=POSTCODE)("x1")


@pytest.mark.parametrize("raw", ["", "   ", "\t\n"])
@pytest.mark.parametrize("strip", [True, False])
def test_an_empty_value_is_invalid(raw: str, strip: bool) -> None:
    """Nothing but white space: 'empty NAME', whether or not the value is stripped."""
    with pytest.raises(InvalidInputError, match=r"^empty address$") as caught:
        Normaliser(name="address", strip=strip)(raw)
    assert caught.value.value == raw


def test_the_normaliser_is_immutable_and_comparable() -> None:
    """A frozen dataclass: two alike are equal (a description is a value)."""
    assert Normaliser(case="upper") == Normaliser(case="upper")
    with pytest.raises(AttributeError):
        Normaliser().case = "lower"  # type: ignore[misc]


# -- paths --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "parts"),
    [
        ("", ()),
        ("result", ("result",)),
        ("result.postcode", ("result", "postcode")),
        ("items.0.name", ("items", 0, "name")),
        ("12", (12,)),
        ("a-b.c_d", ("a-b", "c_d")),
    ],
)
def test_split_path(path: str, parts: tuple[str | int, ...]) -> None:
    """Dotted names; a part of digits is a list index; '' is the whole answer."""
    assert split_path(path) == parts


ANSWER: dict[str, Any] = {
    "result": {"postcode": "W6 0WW", "codes": ["E1", "E2"], "none": None, "zero": 0},
    "items": [{"name": "a"}, {"name": "b"}],
    "0": "a key of digits",
}


@pytest.mark.parametrize(
    ("path", "found"),
    [
        ((), ANSWER),
        (("result", "postcode"), "W6 0WW"),
        (("result", "codes", 1), "E2"),
        (("items", 0, "name"), "a"),
        (("result", "none"), None),
        (("result", "zero"), 0),
        ((0,), "a key of digits"),  # an index into an object: the key of its digits
    ],
)
def test_at_finds_what_a_path_names(path: tuple[str | int, ...], found: Any) -> None:
    """A path walks objects by key and lists by index; null and 0 are found as such."""
    assert at(ANSWER, path) == found


@pytest.mark.parametrize(
    "path",
    [
        ("nope",),
        ("result", "nope"),
        ("result", "codes", 2),  # past the end
        ("items", "name"),  # a name into a list
        ("result", "postcode", "x"),  # into text
        ("result", "postcode", 0),
        ("result", "zero", "x"),  # into a number
        ("result", "none", "x"),  # into null
    ],
)
def test_at_says_missing_where_the_answer_has_nothing(path: tuple[str | int, ...]) -> None:
    """Nothing there: MISSING, never an exception, and not None (a null is None)."""
    assert at(ANSWER, path) is MISSING


def test_at_reads_a_list_at_the_top() -> None:
    """An answer that is a list is indexed from the top."""
    assert at([{"a": 1}, {"a": 2}], (1, "a")) == 2
    assert at([], (0,)) is MISSING


# -- templates ----------------------------------------------------------------------------


def test_template_fields_names_each_field() -> None:
    """'/v1/{value}?q={values}' names value and values; no braces, none."""
    assert template_fields("/v1/{value}/{values}") == ["value", "values"]
    assert template_fields("/v1/plain") == []
    assert template_fields("{valu}") == ["valu"]


def test_fill_replaces_fields_and_keeps_the_rest() -> None:
    """Each field replaced by its text; other text as written."""
    fields = {"value": "W6 0WW", "values": "A,B"}
    assert fill("/v1/{value}/x", fields) == "/v1/W6 0WW/x"
    assert fill("ids={values};one={value}", fields) == "ids=A,B;one=W6 0WW"
    assert fill("no fields", fields) == "no fields"


def test_fill_json_puts_the_values_as_a_list() -> None:
    """A string that is exactly '{values}' becomes the JSON list of values."""
    assert fill_json({"postcodes": "{values}"}, "A", ["A", "B", "C"]) == {
        "postcodes": ["A", "B", "C"]
    }


def test_fill_json_puts_the_value_as_itself() -> None:
    """A string that is exactly '{value}' becomes the value (text, not a list)."""
    assert fill_json({"q": "{value}"}, "W6 0WW", ["W6 0WW"]) == {"q": "W6 0WW"}


def test_fill_json_fills_fields_inside_longer_strings() -> None:
    """'ids:{values}' joins the values by commas; 'find {value}' holds the value."""
    body = {"ids": "ids:{values}", "q": "find {value} now"}
    assert fill_json(body, "A", ["A", "B"]) == {"ids": "ids:A,B", "q": "find A now"}


def test_fill_json_walks_lists_and_tables_and_keeps_other_json() -> None:
    """Nested tables and lists are filled; numbers, booleans and null are kept."""
    template = {"a": [{"b": "{value}"}, 2, True, None], "c": {"d": "{values}"}, "e": 1.5}
    assert fill_json(template, "V", ["V", "W"]) == {
        "a": [{"b": "V"}, 2, True, None],
        "c": {"d": ["V", "W"]},
        "e": 1.5,
    }


def test_fill_json_leaves_its_template_as_it_was() -> None:
    """A template is filled for each request: filling one must not change it."""
    template: dict[str, Any] = {"q": ["{values}"], "o": {"v": "{value}"}}
    fill_json(template, "A", ["A", "B"])
    assert template == {"q": ["{values}"], "o": {"v": "{value}"}}


def test_fill_json_keeps_table_keys_as_written() -> None:
    """Only values are templates: a key is sent as it is written."""
    assert fill_json({"{value}": "{value}"}, "A", ["A"]) == {"{value}": "A"}


@pytest.mark.parametrize(
    ("said", "text"),
    [("W6 0WW", "W6 0WW"), (12, "12"), (1.5, "1.5"), (True, "true"), (None, "null")],
)
def test_as_text_compares_numbers_and_text_alike(said: Any, text: str) -> None:
    """An item's key 12 and the value '12' are one."""
    assert as_text(said) == text
