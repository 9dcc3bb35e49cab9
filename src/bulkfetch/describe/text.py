"""A description's file: its TOML read, and where in it each key was written, so that a
mistake is told by file, line and key.

``tomllib`` gives the values but not their places; :class:`Places` finds them again in
the text: the line of every table header and every key (in inline tables too), by its
dotted path (``request.path``, ``auth.0.env``). A key the scan cannot place is told at the
line of its nearest placed parent.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bulkfetch.errors import UsageError

__all__ = ["DescriptionError", "Places", "Table", "Where", "read_toml", "shown", "toml_of"]

Key = tuple[str | int, ...]

_TABLE = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(?:#.*)?$")
_KEY = re.compile(
    r"""\s*((?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*'))*)\s*="""
)
_INLINE_KEY = re.compile(r"""[{,]\s*([A-Za-z0-9_-]+|"[^"]*"|'[^']*')\s*=""")


class DescriptionError(UsageError):
    """A description that cannot be run: its file, line and key, and what is wrong."""


def _parts(dotted: str) -> list[str]:
    names = re.findall(r"""[A-Za-z0-9_-]+|"[^"]*"|'[^']*'""", dotted)
    return [name[1:-1] if name[:1] in "\"'" else name for name in names]


class Places:
    """The line of each key of a TOML text."""

    def __init__(self, text: str) -> None:
        self._lines: dict[Key, int] = {}
        arrays: dict[Key, int] = {}
        table: Key = ()
        quoted: str | None = None  # inside a multi-line string opened with these quotes
        for number, line in enumerate(text.splitlines(), start=1):
            if quoted is not None:  # inside a multi-line string: no keys here
                quoted = _multiline(line, quoted)
                continue
            header = _TABLE.match(line)
            if header:
                path: Key = tuple(_parts(header.group(2)))
                if header.group(1) == "[[":
                    arrays[path] = arrays.get(path, -1) + 1
                    path = (*path, arrays[path])
                else:
                    path = self._indexed(path, arrays)
                table = path
                self._lines.setdefault(table, number)
                continue
            found = _KEY.match(line)
            if found:
                key = (*table, *_parts(found.group(1)))
                self._lines.setdefault(key, number)
                for inner in _INLINE_KEY.finditer(line, found.end()):
                    self._lines.setdefault((*key, *_parts(inner.group(1))), number)
            quoted = _multiline(line, None)

    @staticmethod
    def _indexed(path: Key, arrays: dict[Key, int]) -> Key:
        """A table under the last entry of an array of tables (``[auth.x]`` after
        ``[[auth]]``) is that entry's."""
        for end in range(len(path), 0, -1):
            if path[:end] in arrays:
                return (*path[:end], arrays[path[:end]], *path[end:])
        return path

    def line(self, key: Key) -> int | None:
        """The line ``key`` (or its nearest written parent) is on."""
        for end in range(len(key), 0, -1):
            found = self._lines.get(key[:end])
            if found is not None:
                return found
        return None


def _multiline(line: str, quoted: str | None) -> str | None:
    """The multi-line string left open at the end of ``line`` (its quotes), given the one
    open at its start: quotes inside one-line strings and comments do not count."""
    i, single = 0, ""
    while i < len(line):
        if quoted is not None:
            if line.startswith(quoted, i):
                quoted, i = None, i + 3
            else:
                i += 2 if quoted == '"""' and line[i] == "\\" else 1
        elif single:
            if single == '"' and line[i] == "\\":
                i += 1
            elif line[i] == single:
                single = ""
            i += 1
        elif line.startswith('"""', i) or line.startswith("'''", i):
            quoted, i = line[i : i + 3], i + 3
        elif line[i] in "\"'":
            single, i = line[i], i + 1
        elif line[i] == "#":
            break
        else:
            i += 1
    return quoted


def shown(key: Sequence[str | int]) -> str:
    """A key as a reader finds it: ``request.path``, ``auth[0].env``."""
    text = ""
    for part in key:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def read_toml(path: Path) -> tuple[dict[str, Any], Places]:
    """The file's TOML and its keys' lines; a :class:`DescriptionError` for a file that
    cannot be read or is not TOML."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DescriptionError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DescriptionError(
            f"{path}: cannot be read as UTF-8 text ({exc.__class__.__name__})"
        ) from None
    return toml_of(text, str(path))


def toml_of(text: str, name: str) -> tuple[dict[str, Any], Places]:
    """TOML text (of the file or class ``name``) and its keys' lines; a
    :class:`DescriptionError` told by line, as every other mistake is, for text that is not
    TOML."""
    try:
        return tomllib.loads(text), Places(text)
    except tomllib.TOMLDecodeError as exc:
        said = str(exc)  # tomllib's: "... (at line 3, column 5)"
        found = re.fullmatch(r"(.*) \(at line (\d+), column \d+\)", said)
        if found is None:
            raise DescriptionError(f"{name}: not TOML: {said}") from None
        raise DescriptionError(f"{name}, line {found[2]}: not TOML: {found[1]}") from None


class Table:
    """One table of the TOML, read key by key; what is left unread is a mistake."""

    def __init__(self, data: Any, key: Key, where: Where) -> None:
        self.key, self.where = key, where
        if not isinstance(data, dict):
            raise where.error(key, "must be a table")
        self.data: dict[str, Any] = data
        self._read: set[str] = set()

    def get(self, name: str, kind: type | tuple[type, ...], default: Any = None) -> Any:
        self._read.add(name)
        value = self.data.get(name, default)
        if value is not None and (
            not isinstance(value, kind) or isinstance(value, bool) != (kind is bool)
        ):
            raise self.where.error((*self.key, name), f"must be {_kind(kind)}")
        return value

    def need(self, name: str, kind: type | tuple[type, ...]) -> Any:
        value = self.get(name, kind)
        if value is None:
            unread = [key for key in self.data if key not in self._read]
            for near in difflib.get_close_matches(name, unread, n=1):  # a slip: told first
                raise self.where.error(
                    (*self.key, near), f"is not a key bulkfetch knows (did you mean {name!r}?)"
                )
            raise self.where.error(self.key, f"needs {shown((*self.key, name))}")
        return value

    def one_of(self, name: str, choices: tuple[str, ...], default: str) -> str:
        value: str = self.get(name, str, default)
        if value not in choices:
            raise self.where.error(
                (*self.key, name), f"is one of {', '.join(choices)}; got {value!r}"
            )
        return value

    def table(self, name: str) -> Table:
        return Table(self.get(name, dict, {}), (*self.key, name), self.where)

    def expect(self, names: Sequence[str]) -> None:
        """Refuse now a key that is none of ``names``."""
        self._read.update(names)
        self.done()

    def done(self) -> None:
        for name in self.data:
            if name not in self._read:
                near = difflib.get_close_matches(name, sorted(self._read), n=1)
                hint = f" (did you mean {near[0]!r}?)" if near else ""
                known = ", ".join(sorted(self._read))
                raise self.where.error(
                    (*self.key, name), f"is not a key bulkfetch knows{hint}; known here: {known}"
                )


@dataclass(frozen=True, slots=True)
class Where:
    file: str
    places: Places | None

    def error(self, key: Key, what: str) -> DescriptionError:
        line = self.places.line(key) if self.places is not None and key else None
        at = f", line {line}" if line is not None else ""
        return DescriptionError(f"{self.file}{at}: {shown(key) or 'the description'} {what}")


def _kind(kind: type | tuple[type, ...]) -> str:
    names = {
        str: "text",
        int: "a whole number",
        bool: "true or false",
        list: "a list",
        dict: "a table",
    }
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(names.get(k, k.__name__) for k in kinds)
