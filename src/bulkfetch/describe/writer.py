"""A described API's writer: which fields of a kept answer become output columns, as its
description's ``[output]`` says (named columns, an object flattened, a list to one line an
element), and the answer as the nested object JSON Lines output holds."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from bulkfetch import speedups
from bulkfetch.describe.schema import Output
from bulkfetch.describe.values import MISSING, at
from bulkfetch.io.flatten import flatten

__all__ = ["Writer"]


class Writer:
    """Output columns from kept answers (the :class:`~bulkfetch.adapter.Answers` of a
    described API): its named columns are the fixed ones, after those a flattened object
    fills."""

    def __init__(self, output: Output) -> None:
        self.output = output
        self.fixed_columns = tuple(output.columns)
        self.expands_rows = output.rows is not None

    def names(self, data: Any) -> tuple[str, ...]:
        """The output columns an answer fills beyond the named ones: its flattened fields."""
        if self.output.flatten is None:
            return ()
        names: dict[str, None] = {}
        for element in self._elements(data):
            names.update(dict.fromkeys(self._flat(element)))
        return tuple(name for name in names if name not in self.output.columns)

    def output_rows(self, body: str) -> list[dict[str, Any]]:
        return [self._line(element) for element in self._elements(speedups.loads(body))]

    def output_document(self, body: str) -> dict[str, Any]:
        data = speedups.loads(body)
        rows = self.output.rows
        if rows is None:
            return self._document(data)
        name = str(rows[-1]) if rows else "rows"
        return {name: [self._document(element) for element in self._elements(data)]}

    def _elements(self, data: Any) -> list[Any]:
        """What makes a line each: the answer, or each element of its ``rows`` list."""
        if self.output.rows is None:
            return [data]
        found = at(data, self.output.rows)
        return found if isinstance(found, list) else []

    def _flat(self, element: Any) -> dict[str, Any]:
        path = self.output.flatten
        if path is None:
            return {}
        found = at(element, path)
        if found is MISSING or found is None:
            return {}
        if isinstance(found, Mapping):
            return flatten(found)
        return {str(path[-1]) if path else "value": _cell(found)}

    def _line(self, element: Any) -> dict[str, Any]:
        line = self._flat(element)
        line.update({name: _cell(at(element, path)) for name, path in self.output.columns.items()})
        return line

    def _document(self, element: Any) -> dict[str, Any]:
        document: dict[str, Any] = {}
        path = self.output.flatten
        if path is not None:
            found = at(element, path)
            if not path and isinstance(found, Mapping):
                document.update(found)
            elif found is not MISSING:
                document[str(path[-1]) if path else "value"] = found
        for name, where in self.output.columns.items():
            found = at(element, where)
            document[name] = None if found is MISSING else found
        return document


def _cell(value: Any) -> Any:
    """A value as one cell: an object or a list as its JSON text."""
    if value is MISSING:
        return None
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return value
