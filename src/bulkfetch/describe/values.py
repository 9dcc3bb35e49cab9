"""The small languages of a description: a value's normalisation (strip, case, spaces, a
pattern and its normal form), paths into an answer's JSON (``result.postcode``,
``items.0``), and request templates (``/v1/{value}``, ``{"q": "{values}"}``)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bulkfetch.errors import InvalidInputError

__all__ = [
    "FIELDS",
    "MISSING",
    "Normaliser",
    "at",
    "fill",
    "fill_json",
    "split_path",
    "template_fields",
]

# The fields a request template may name: one value (a request of one), or a batch's values.
FIELDS = frozenset({"value", "values"})
_FIELD = re.compile(r"\{([^{}]*)\}")


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()  # what a path finds where the answer has nothing


def split_path(path: str) -> tuple[str | int, ...]:
    """``"result.codes.0"`` -> ``("result", "codes", 0)``; ``""``: the whole answer."""
    if not path:
        return ()
    return tuple(
        int(part) if part.isascii() and part.isdigit() else part for part in path.split(".")
    )


def at(data: Any, path: Sequence[str | int]) -> Any:
    """What ``path`` finds in ``data``, or :data:`MISSING`."""
    for part in path:
        if isinstance(part, int) and isinstance(data, list):
            if part >= len(data):
                return MISSING
            data = data[part]
        elif isinstance(data, Mapping) and str(part) in data:
            data = data[str(part)]
        else:
            return MISSING
    return data


def template_fields(template: str) -> list[str]:
    """The fields a template names (``{value}``: ``value``)."""
    return _FIELD.findall(template)


def fill(template: str, fields: Mapping[str, str]) -> str:
    """A template's fields replaced by their text."""
    return _FIELD.sub(lambda found: fields[found.group(1)], template)


def fill_json(template: Any, value: str | None, values: Sequence[str], join: str = ",") -> Any:
    """A JSON body template filled: a string that is exactly ``"{values}"`` becomes the list
    of values, exactly ``"{value}"`` the value; other strings have their fields replaced
    (the values joined by ``join`` for ``{values}``)."""
    if isinstance(template, str):
        if template == "{values}":
            return list(values)
        if template == "{value}":
            return value
        return fill(template, {"value": value or "", "values": join.join(values)})
    if isinstance(template, Mapping):
        return {key: fill_json(item, value, values, join) for key, item in template.items()}
    if isinstance(template, list):
        return [fill_json(item, value, values, join) for item in template]
    return template


@dataclass(frozen=True, slots=True)
class Normaliser:
    """How an input value becomes the value a lookup sends: stripped, its case and spaces
    made one, then matched against ``pattern`` and rewritten as ``form`` (``\\1 \\2``);
    one that does not match is invalid, at no call."""

    name: str = "value"  # what a value is called in messages ("postcode")
    strip: bool = True
    case: str = "keep"  # keep, upper, lower
    spaces: str = "collapse"  # keep, collapse (runs of white space to one space), remove
    pattern: re.Pattern[str] | None = None
    form: str | None = None  # the normal form, from the pattern's groups
    invalid: str | None = None  # the message for a value that does not match

    def __call__(self, raw: str) -> str:
        text = raw.strip() if self.strip else raw
        if not text.strip():
            raise InvalidInputError(f"empty {self.name}", value=raw)
        if self.spaces == "remove":
            text = re.sub(r"\s+", "", text)
        elif self.spaces == "collapse":
            text = re.sub(r"\s+", " ", text)
        if self.case == "upper":
            text = text.upper()
        elif self.case == "lower":
            text = text.lower()
        if self.pattern is not None:
            found = self.pattern.fullmatch(text)
            if found is None:
                said = self.invalid or f"not a valid {self.name}"
                raise InvalidInputError(f"{said}: {raw.strip()!r}", value=raw)
            if self.form is not None:
                text = found.expand(self.form)
        return text


def as_text(value: Any) -> str:
    """A JSON value as the text an item's key is compared by (``12`` and ``"12"`` alike)."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)
