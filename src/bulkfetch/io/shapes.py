"""An API's answers of one shape, their values read from their text: an API answers with
the same text but for its values, and one regular expression, made from the first answer
of a shape, finds another of it and its values' texts, with nothing decoded. The
expression steps over the text between the values by its length alone (no character of it
compared one by one, which is most of what matching it costs); the answer is of the shape
when that text, with the values found put back between, is the answer's.

A shape is learnt only for an answer whose writer names its values (each by its path:
keys and list places), whose line is nothing but those values so named, in the order of
its text, and whose values a CSV cell holds as they are. In an answer found of the shape,
a value left out of it is a whole number (as ``str()`` writes what it decodes to) or a text
of plain characters, none escaped (what it decodes to, without its quotes); any other
value is the first answer's, as it was, or it is not of the shape."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from operator import itemgetter
from typing import Any

__all__ = ["TextShape", "learn"]

# JSON's tokens, each after the space before it.
_TOKEN = re.compile(
    r"""(?P<space>[ \t\n\r]*)(?:
        (?P<string>"(?:[^"\\\x00-\x1f]|\\["\\/bfnrtu])*")
      | (?P<number>-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)
      | (?P<literal>true|false|null)
      | (?P<mark>[{}\[\]:,])
    )""",
    re.VERBOSE,
)
# Values left out of a shape: a whole number that decodes to the int of its text (no -0,
# none beyond 64 bits), and a text a cell holds as it is (no separator, nothing escaped,
# no formula's start: see bulkfetch.io.lines), its characters (within its quotes) a group.
# Possessive: what matches a value is never tried again (nor is what steps over a piece).
_WHOLE = r"0|-?+[1-9][0-9]{0,17}+"
_PLAIN = r'(?![=+\-@])[^"\\\x00-\x1f,;]*+'
_IS_WHOLE = re.compile(_WHOLE)
_IS_PLAIN = re.compile(f'"{_PLAIN}"')
MAX_CHARS = 65_536  # the longest answer a shape is learnt from


class TextShape:
    """One shape: what finds an answer of it, and the text of its columns' cells in one."""

    __slots__ = ("_find", "_given", "_join", "_parts", "_pick")

    def __init__(
        self,
        pieces: Sequence[str],
        values: Sequence[str],
        texts: tuple[str, ...],
        order: list[int],
        delimiter: str,
    ) -> None:
        """An answer of the shape is ``pieces``' text with a value between each two, each
        matched by its pattern in ``values``. ``order`` places each column's text among the
        values' (from 2: 1 is nothing, a blank column's) and then ``texts``."""
        steps = [f"(?s)().{{{len(pieces[0])}}}+"]  # group 1: nothing; then a group a value
        steps += [
            f"({value}).{{{len(piece)}}}+" for value, piece in zip(values, pieces[1:], strict=True)
        ]
        self._find = re.compile("".join(steps)).fullmatch
        # The answer as the shape has it: the groups' texts between the pieces (set to each).
        self._parts: list[str] = [""] * (2 * len(pieces))
        self._parts[1::2] = pieces
        self._join = delimiter.join  # of the first group's nothing, then a cell each
        self._given = texts  # texts no group holds: taken with the groups'
        picked = (1, *order)
        self._pick: Callable[[tuple[str, ...]], Sequence[str]] | None = None
        if texts or picked != tuple(range(1, len(values) + 2)):  # not the groups, in order
            self._pick = itemgetter(*[i - 1 for i in picked])

    def text(self, body: str) -> str | None:
        """The text of the columns' cells in ``body``, each after the delimiter, if it is
        of this shape; else None."""
        found = self._find(body)
        if found is None:
            return None
        groups = found.groups()
        parts = self._parts
        parts[::2] = groups
        if "".join(parts) != body:  # the text between the values is not the shape's
            return None
        if self._pick is None:
            return self._join(groups)
        return self._join(self._pick(groups + self._given if self._given else groups))


def learn(
    body: str,
    column_of: Callable[[tuple[str | int, ...]], str | None],
    line: Mapping[str, Any],
    columns: Sequence[str],
    text_of: Callable[[Any], str | None],
    delimiter: str,
) -> TextShape | None:
    """The shape of ``body`` for ``columns`` (their cells after ``delimiter``), if its
    values named by ``column_of`` are all of ``line`` (the one line its writer makes of
    it), in its order; the text of a value not left out is ``text_of``'s (None: no text
    a cell holds as it is, and no shape)."""
    if len(body) > MAX_CHARS:
        return None
    pieces: list[str] = []  # the text between the values left out, as it is
    values: list[str] = []  # what matches each of those values
    piece: list[str] = []  # the text since the last of them
    named: list[tuple[str, Any, int | None]] = []  # a column, its value, and its group
    texts: dict[str, str | None] = {}  # a column's text, of a value not left out
    levels: list[list[Any]] = []  # each container: its mark, key or place, a key next
    at = 0
    end = len(body.rstrip(" \t\n\r"))
    while at < end:
        token = _TOKEN.match(body, at)
        if token is None or token.end() > end:
            return None
        at = token.end()
        piece.append(token["space"])
        mark, text = token["mark"], token[token.lastgroup or "mark"]
        if mark is not None:
            piece.append(mark)
            if mark in "{[":
                levels.append([mark, 0 if mark == "[" else None, mark == "{"])
            elif mark in "}]":
                if not levels:
                    return None
                levels.pop()
            elif mark == "," and levels:
                if levels[-1][0] == "[":
                    levels[-1][1] += 1
                else:
                    levels[-1][2] = True
            continue
        try:
            value = json.loads(text)
        except ValueError:
            return None
        if levels and levels[-1][0] == "{" and levels[-1][2]:  # a key: as it is, always
            levels[-1][1], levels[-1][2] = value, False
            piece.append(text)
            continue
        column = column_of(tuple(level[1] for level in levels))
        if type(value) is int and _IS_WHOLE.fullmatch(text):
            left, quote = _WHOLE, ""
        elif type(value) is str and _IS_PLAIN.fullmatch(text):
            left, quote = _PLAIN, '"'
        else:  # the first answer's, in every answer of the shape
            piece.append(text)
            if column is not None:
                named.append((column, value, None))
                texts[column] = text_of(value)
            continue
        pieces.append("".join([*piece, quote]))
        piece = [quote]
        values.append(left)
        if column is not None:  # else matched, not kept
            named.append((column, value, len(values)))
    pieces.append("".join([*piece, body[end:]]))
    found = [(column, value) for column, value, _ in named]
    if levels or found != list(line.items()):
        return None
    if any(type(value) is not type(line[column]) for column, value in found):
        return None  # a number for a truth (1 == True), say
    place: dict[str, int] = {}  # a column's text: a group's (from 2), or of those kept
    kept: list[str] = []
    for column, _, group in named:
        if group is None:
            text = texts[column]
            if text is None:
                return None
            kept.append(text)
            place[column] = len(values) + 1 + len(kept)
        else:
            place[column] = group + 1  # after the first, empty
    order = [place.get(column, 1) for column in columns]
    return TextShape(pieces, values, tuple(kept), order, delimiter)
